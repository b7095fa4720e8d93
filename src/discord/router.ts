import { MessageFlags, type Interaction, type RepliableInteraction } from 'discord.js';
import { UserError } from '../errors.js';
import { errorContext, type Logger } from '../logger.js';
import { INTERACTION_TOKEN_LIFETIME_MS } from './interactionToken.js';
import type { Command, CommandContext } from './command.js';
import { decodeCustomId } from './customId.js';
import { NO_PINGS } from './views/common.js';

export const GENERIC_FAILURE = '⚠️ Something went wrong on our side. Please try again in a moment.';
export const STALE_COMPONENT =
  'This button is from an older version of the bot and no longer works. Run /imagine again.';
export const UNKNOWN_COMMAND = 'This command is not available any more. It may take a minute for Discord to update.';
export const RESTARTING = '🔄 The bot is restarting right now. Please try again in a minute.';
export const UNSUPPORTED = 'This bot does not handle that kind of action.';

/**
 * Dispatches every interaction: slash commands by name, buttons and modals by the command prefix of their
 * custom_id. Every interaction gets an answer: a {@link UserError} is shown to the member as is (ephemeral),
 * anything else is logged with the interaction id and answered with a short generic message.
 */
export function createInteractionRouter(
  commands: ReadonlyMap<string, Command>,
  context: () => CommandContext,
  logger: Logger,
  isDraining: () => boolean = () => false,
): (interaction: Interaction) => Promise<void> {
  return async (interaction) => {
    if (!interaction.isRepliable()) return;
    logger.addSecret(interaction.token, INTERACTION_TOKEN_LIFETIME_MS);
    const base = { interaction: interaction.id, user: interaction.user.id, guild: interaction.guildId ?? null };
    try {
      // While shutting down, take no new work; running jobs finish or are resumed by the next start.
      if (isDraining()) throw new UserError(RESTARTING);
      if (interaction.isChatInputCommand()) {
        const command = commands.get(interaction.commandName);
        if (!command) throw new UserError(UNKNOWN_COMMAND);
        logger.debug('command', { ...base, command: interaction.commandName });
        await command.execute(interaction, context());
        return;
      }
      if (interaction.isButton() || interaction.isModalSubmit()) {
        const customId = decodeCustomId(interaction.customId);
        const command = customId && commands.get(customId.command);
        if (!customId || !command?.handleComponent) throw new UserError(STALE_COMPONENT);
        logger.debug('component', { ...base, action: customId.action, generation: customId.id });
        await command.handleComponent(interaction, customId, context());
        return;
      }
      // Other interaction kinds (select menus, context menus) are not used by this bot.
      throw new UserError(UNSUPPORTED);
    } catch (error) {
      if (error instanceof UserError) {
        await answer(interaction, error.message, logger, base);
      } else {
        logger.error('interaction handler failed', { ...base, ...errorContext(error) });
        await answer(interaction, GENERIC_FAILURE, logger, base);
      }
    }
  };
}

/** Answers ephemerally in whatever way the interaction's state still allows. */
async function answer(
  interaction: RepliableInteraction,
  content: string,
  logger: Logger,
  context: Record<string, string | null>,
): Promise<void> {
  try {
    if (interaction.deferred && !interaction.replied) {
      await interaction.editReply({ content, components: [], allowedMentions: NO_PINGS });
    } else if (interaction.replied || interaction.deferred) {
      await interaction.followUp({ content, flags: MessageFlags.Ephemeral, allowedMentions: NO_PINGS });
    } else {
      await interaction.reply({ content, flags: MessageFlags.Ephemeral, allowedMentions: NO_PINGS });
    }
  } catch (error) {
    logger.warn('could not answer the interaction', { ...context, ...errorContext(error) });
  }
}
