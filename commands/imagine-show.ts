import {
  ApplicationCommandOptionType,
  ApplicationIntegrationType,
  InteractionContextType,
  MessageFlags,
  type ChatInputCommandInteraction,
  type RESTPostAPIChatInputApplicationCommandsJSONBody,
} from 'discord.js';
import type { Command, CommandContext } from '../src/discord/command.js';
import { fitForDiscord, uploadLimits } from '../src/discord/fitAttachments.js';
import { requireAccess } from '../src/discord/generationRequests.js';
import { parseJobReference, type JobReference } from '../src/discord/jobReference.js';
import { sendInteractionMessages } from '../src/discord/messageBody.js';
import { fetchResultImages, type FetchedResult } from '../src/discord/resultImages.js';
import { NO_PINGS } from '../src/discord/views/common.js';
import { historyStatus } from '../src/discord/views/history.js';
import { renderShownResult } from '../src/discord/views/show.js';
import { UserError } from '../src/errors.js';
import { errorContext } from '../src/logger.js';
import type { Generation, GenerationStore } from '../src/store/generations.js';

const JOB_OPTION = 'job';

const data = {
  name: 'imagine-show',
  description: 'Post one of this server’s /imagine results again, with its buttons',
  options: [
    {
      type: ApplicationCommandOptionType.String,
      name: JOB_OPTION,
      description: 'The number the result shows (like #42), or a link to its message',
      required: true,
      max_length: 200,
    },
  ],
  contexts: [InteractionContextType.Guild],
  integration_types: [ApplicationIntegrationType.GuildInstall],
} satisfies RESTPostAPIChatInputApplicationCommandsJSONBody;

const MESSAGES = {
  notAReference:
    'Give the number a result shows (like `42` or `#42`) or a link to its message (right-click it → Copy Message Link).',
  // The same words for an id that does not exist and for another server's: ids cannot be probed.
  unknown: 'There is no result with that number or link on this server. /imagine-history lists yours.',
  unfinished: (id: number) => `Job #${id} is not finished yet; its images will appear where it was started.`,
  failed: (generation: Generation) =>
    `Job #${generation.id} ended without images (${historyStatus(generation).replace(/^\W+/u, '')}), so there is nothing to show.`,
  deleted: (id: number) => `The message with the images of job #${id} was deleted, so they cannot be shown again.`,
  noAccess: (id: number) =>
    `I can't read the channel where job #${id} was posted (I need View Channel and Read Message History there), so I can't show it again.`,
  unavailable: (id: number) =>
    `Discord would not give me the images of job #${id} right now. Please try again in a moment.`,
} as const;

/**
 * `/imagine-show <job>`: posts a finished result again, as this interaction's reply, with its images and its
 * working buttons (like Midjourney's /show). A member sees only this server's results. The images are read back
 * from the original message(s) through the bot's REST (freshly signed attachment URLs) and uploaded again;
 * nothing is generated, counted or stored. What cannot be shown is answered privately, in plain words.
 */
async function execute(interaction: ChatInputCommandInteraction, context: CommandContext): Promise<void> {
  // It posts publicly, so the server's channel and role rules for /imagine apply.
  requireAccess(interaction, await context.guildSettings.effective(interaction.guildId));
  const reference = parseJobReference(interaction.options.getString(JOB_OPTION, true));
  if (!reference) throw new UserError(MESSAGES.notAReference);
  const generation = await findVisible(context.store, reference, interaction);
  if (!generation) throw new UserError(MESSAGES.unknown);
  if (generation.status === 'failed' || generation.status === 'cancelled') {
    throw new UserError(MESSAGES.failed(generation));
  }
  if (generation.status !== 'done') throw new UserError(MESSAGES.unfinished(generation.id));
  const firstMessageId = generation.messageId;
  if (firstMessageId === null) throw new UserError(MESSAGES.deleted(generation.id));

  // Fetching and uploading can outlast the 3 s Discord gives a first answer.
  await interaction.deferReply();
  const parts = [...(await context.store.deliveredParts(generation.id))]
    .filter(([part]) => part > 1)
    .sort(([a], [b]) => a - b);
  let shown: boolean;
  try {
    shown = await context.generations.withImageSlot(async () => {
      const fetched = await fetchResultImages({
        rest: context.client.rest,
        generation,
        messageIds: [firstMessageId, ...parts.map(([, messageId]) => messageId)],
        download: { timeoutMs: context.config.imageDownloadTimeoutMs, maxBytes: context.config.imageMaxBytes },
        logger: context.logger,
      });
      if (!fetched.ok) {
        if (fetched.reason === 'deleted') await context.generations.forgetMessage(generation.id, firstMessageId);
        await answerPrivately(interaction, whyNot(generation, fetched.reason));
        return false;
      }

      const fitted = await fitForDiscord(fetched.images, uploadLimits(interaction.attachmentSizeLimit));
      const views = fitted.messages.map((images, index) =>
        renderShownResult(generation, images, {
          shownBy: interaction.user.id,
          missing: fetched.missing,
          part: index + 1,
          parts: fitted.messages.length,
        }),
      );
      await sendInteractionMessages(context.client.rest, interaction, views);
      return true;
    });
  } catch (error) {
    // After the public "thinking…", an unexpected failure is still answered privately (the router would edit the
    // public reply), and logged for the operator.
    context.logger.error('could not show a result again', { generation: generation.id, ...errorContext(error) });
    await answerPrivately(interaction, MESSAGES.unavailable(generation.id)).catch((answerError: unknown) => {
      context.logger.warn('could not answer /imagine-show', errorContext(answerError));
    });
    return;
  }
  if (!shown) return;
  context.logger.info('result shown again', { generation: generation.id, by: interaction.user.id });
}

/**
 * The generation a reference names, if this member may see it here: this server's only, and another member's
 * only in the channel it was posted in (it may be a channel the member cannot read); their own anywhere here.
 */
async function findVisible(
  store: GenerationStore,
  reference: JobReference,
  where: { readonly guildId: string | null; readonly channelId: string | null; readonly user: { readonly id: string } },
): Promise<Generation | undefined> {
  const generation =
    reference.kind === 'id' ? await store.get(reference.id) : await store.findByMessageId(reference.messageId);
  if (!generation || generation.guildId !== where.guildId) return undefined;
  if (generation.requesterId !== where.user.id && generation.channelId !== where.channelId) return undefined;
  if (reference.kind === 'message') {
    const linkGuild = reference.guildId === '@me' ? null : reference.guildId;
    if (linkGuild !== generation.guildId || reference.channelId !== generation.channelId) return undefined;
  }
  return generation;
}

function whyNot(generation: Generation, reason: Exclude<FetchedResult, { ok: true }>['reason']): string {
  switch (reason) {
    case 'deleted':
      return MESSAGES.deleted(generation.id);
    case 'no_access':
      return MESSAGES.noAccess(generation.id);
    case 'unavailable':
      return MESSAGES.unavailable(generation.id);
  }
}

/**
 * After a public deferral, an answer only the member should see: the "thinking…" reply is removed, then the
 * answer follows up ephemerally. In that order: the first followup to a deferred reply takes the reply's place,
 * public as the deferral was.
 */
async function answerPrivately(interaction: ChatInputCommandInteraction, content: string): Promise<void> {
  await interaction.deleteReply();
  await interaction.followUp({ content, flags: MessageFlags.Ephemeral, allowedMentions: NO_PINGS });
}

export default { data, execute } satisfies Command;
