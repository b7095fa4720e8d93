import {
  ApplicationIntegrationType,
  InteractionContextType,
  MessageFlags,
  type ChatInputCommandInteraction,
  type RESTPostAPIChatInputApplicationCommandsJSONBody,
} from 'discord.js';
import type { Command, CommandContext, ComponentInteraction } from '../src/discord/command.js';
import type { CustomId } from '../src/discord/customId.js';
import { STALE_COMPONENT } from '../src/discord/router.js';
import { HISTORY_COMPONENTS, HISTORY_PAGE_SIZE, renderHistory } from '../src/discord/views/history.js';
import { UserError } from '../src/errors.js';

const data = {
  name: HISTORY_COMPONENTS,
  description: 'Your recent images on this server, newest first',
  contexts: [InteractionContextType.Guild],
  integration_types: [ApplicationIntegrationType.GuildInstall],
} satisfies RESTPostAPIChatInputApplicationCommandsJSONBody;

const NOT_YOURS = 'This list belongs to the member who ran /imagine-history. Run /imagine-history to see your own.';

/**
 * `/imagine-history`: the member's own generations in this server (never another member's, never another
 * server's), newest first, each with its number, prompt, model, status, time and a jump link. Ephemeral.
 */
async function execute(interaction: ChatInputCommandInteraction, context: CommandContext): Promise<void> {
  const page = await context.store.historyOf(interaction.guildId, interaction.user.id, { limit: HISTORY_PAGE_SIZE });
  await interaction.reply({ ...renderHistory(page), flags: MessageFlags.Ephemeral });
}

/**
 * The Newer/Older buttons: the next page from the id in the custom_id, answered by updating the same message.
 * The page is read afresh for whoever clicks, and only the member who ran the command may click.
 */
async function handleComponent(
  interaction: ComponentInteraction,
  customId: CustomId,
  context: CommandContext,
): Promise<void> {
  if (!interaction.isButton() || (customId.action !== 'newer' && customId.action !== 'older')) {
    throw new UserError(STALE_COMPONENT);
  }
  if (interaction.message.interactionMetadata?.user.id !== interaction.user.id) throw new UserError(NOT_YOURS);
  const cursor = customId.action === 'older' ? { before: customId.id } : { after: customId.id };
  const page = await context.store.historyOf(interaction.guildId, interaction.user.id, {
    ...cursor,
    limit: HISTORY_PAGE_SIZE,
  });
  await interaction.update(renderHistory(page));
}

export default { data, execute, handleComponent } satisfies Command;
