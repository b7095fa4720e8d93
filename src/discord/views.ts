import {
  ActionRowBuilder,
  ButtonBuilder,
  ButtonStyle,
  LabelBuilder,
  ModalBuilder,
  TextInputBuilder,
  TextInputStyle,
  TimestampStyles,
  messageLink,
  time,
  userMention,
  type MessageActionRowComponentBuilder,
} from 'discord.js';
import type { DownloadedImage } from '../generation/images.js';
import type { Failure, Progress } from '../generation/service.js';
import type { Refusal } from '../limits/admission.js';
import { NEGATIVE_PROMPT_MAX_LENGTH, PROMPT_MAX_LENGTH } from '../models/fields.js';
import { findModel } from '../models/registry.js';
import type { Generation } from '../store/generations.js';
import { GENERATION_COMPONENTS, encodeCustomId, type ComponentAction } from './customId.js';
import { quoteUserText } from './text.js';

/** Mentions are shown but never ping: a prompt with @everyone in it stays harmless. */
export const NO_PINGS = { parse: [] as never[], repliedUser: false as const };

const PROMPT_PREVIEW_LENGTH = 900;
const NEGATIVE_PREVIEW_LENGTH = 300;

export interface MessageView {
  content: string;
  components: ActionRowBuilder<MessageActionRowComponentBuilder>[];
  allowedMentions: { parse: never[]; repliedUser: false; users?: string[] };
  /** Images the message carries as attachments, in this order (results only). */
  images?: readonly DownloadedImage[];
}

/** A result message: its text and buttons, and its images. */
export interface ResultView extends MessageView {
  images: readonly DownloadedImage[];
}

/** How a finished job is posted: in its interaction reply, or in the channel (pinging the requester) after that expired. */
export interface DeliveryOptions {
  readonly finishedAt: number;
  readonly parent?: Generation | undefined;
  /** Which message of a result split across several (1-based), and how many there are. */
  readonly part?: number;
  readonly parts?: number;
  /** Posted in the channel by the bot: mention (and ping) the requester, who may have left the conversation. */
  readonly inChannel?: boolean;
}

/** Prefix for a message the bot posts by itself in the channel, so the requester notices it. */
function channelLead(generation: Generation): string {
  return `${userMention(generation.requesterId)} your /imagine job finished after its reply could no longer be edited:`;
}

function mentions(generation: Generation, inChannel: boolean | undefined): MessageView['allowedMentions'] {
  return inChannel ? { ...NO_PINGS, users: [generation.requesterId] } : NO_PINGS;
}

function button(action: ComponentAction, id: number, label: string, style: ButtonStyle, emoji?: string): ButtonBuilder {
  const built = new ButtonBuilder()
    .setCustomId(encodeCustomId({ command: GENERATION_COMPONENTS, action, id }))
    .setLabel(label)
    .setStyle(style);
  // As an object: a bare string goes through discord.js's emoji parser, which leaves `id: undefined` for the
  // builder's validator to reject and retry (an exception per button, measurable in a burst).
  return emoji ? built.setEmoji({ name: emoji }) : built;
}

function row(...buttons: ButtonBuilder[]): ActionRowBuilder<MessageActionRowComponentBuilder> {
  return new ActionRowBuilder<MessageActionRowComponentBuilder>().addComponents(buttons);
}

function promptLines(generation: Generation): string[] {
  const lines = [`**${quoteUserText(generation.input.prompt, PROMPT_PREVIEW_LENGTH)}**`];
  if (generation.input.negative_prompt) {
    lines.push(`-# Without: ${quoteUserText(generation.input.negative_prompt, NEGATIVE_PREVIEW_LENGTH)}`);
  }
  return lines;
}

function parameterLine(generation: Generation): string {
  const { input } = generation;
  const model = findModel(generation.modelId);
  return [
    `Seed \`${input.seed}\``,
    input.aspect_ratio === 'auto' ? 'auto ratio' : input.aspect_ratio,
    ...(input.resolution ? [input.resolution] : []),
    model?.label ?? generation.modelId,
  ].join(' · ');
}

function progressLine(progress: Progress): string {
  switch (progress.phase) {
    case 'waiting':
      return `🕒 Waiting for a free slot: position ${progress.position} in line`;
    case 'submitting':
      return '⏳ Sending to fal…';
    case 'queued':
      return progress.position > 0 ? `⏳ In fal's queue, position ${progress.position}` : "⏳ Next in fal's queue";
    case 'running':
      return '🎨 Generating…';
    case 'downloading':
      return '📥 Fetching the images…';
  }
}

/** The reply while a job waits or runs. Elapsed time is a Discord relative timestamp, so it ticks without edits. */
export function renderProgress(generation: Generation, progress: Progress): MessageView {
  const count = generation.input.num_images;
  return {
    content: [
      ...promptLines(generation),
      `${parameterLine(generation)} · ${count} image${count === 1 ? '' : 's'}`,
      `${progressLine(progress)} · started ${time(Math.floor(generation.createdAt / 1000), TimestampStyles.RelativeTime)}`,
    ].join('\n'),
    components: [row(button('cancel', generation.id, 'Cancel', ButtonStyle.Secondary, '✖️'))],
    allowedMentions: NO_PINGS,
  };
}

/** Link to the message that shows a generation, for rerolls that point back at their original. */
export function generationLink(generation: Generation): string | undefined {
  if (!generation.messageId) return undefined;
  return generation.guildId
    ? messageLink(generation.channelId, generation.messageId, generation.guildId)
    : messageLink(generation.channelId, generation.messageId);
}

export function resultButtons(id: number): ActionRowBuilder<MessageActionRowComponentBuilder> {
  return row(
    button('same', id, 'Same seed', ButtonStyle.Secondary, '🔁'),
    button('new', id, 'New seed', ButtonStyle.Primary, '🎲'),
    button('edit', id, 'Edit', ButtonStyle.Secondary, '✏️'),
    button('delete', id, 'Delete', ButtonStyle.Danger, '🗑️'),
  );
}

/** The finished message: the images as attachments, the parameters, and the buttons that never die. */
export function renderResult(
  generation: Generation,
  images: readonly DownloadedImage[],
  missing: number,
  options: DeliveryOptions,
): ResultView {
  const seconds = Math.max(0, (options.finishedAt - generation.createdAt) / 1000);
  const parts = options.parts ?? 1;
  const lines = [
    ...(options.inChannel ? [channelLead(generation)] : []),
    ...promptLines(generation),
    `${parameterLine(generation)} · ${seconds.toFixed(1)} s · ${userMention(generation.requesterId)}`,
  ];
  const parentLink = options.parent && generationLink(options.parent);
  if (parentLink) lines.push(`-# ↪ Reroll of ${parentLink}`);
  if (missing > 0) {
    lines.push(`⚠️ ${missing} of ${generation.input.num_images} images could not be downloaded from fal.`);
  }
  if (parts > 1) lines.push(`-# Part ${options.part ?? 1} of ${parts} (the images did not fit in one message)`);
  return {
    content: lines.join('\n'),
    images,
    components: [resultButtons(generation.id)],
    allowedMentions: mentions(generation, options.inChannel),
  };
}

/** Plain words for every way a job can end without images. Never includes raw error text. */
export function failureMessage(generation: Generation, failure: Failure): string {
  switch (failure.kind) {
    case 'safety':
      return "🚫 The model's safety filter refused this prompt. Try rewording it (the Edit button lets you change it).";
    case 'invalid_input':
      return failure.field
        ? `⚠️ fal rejected the ${failure.field.replaceAll('_', ' ')} option. Check it and try again.`
        : '⚠️ fal rejected one of the options. Check them and try again.';
    case 'unauthorized':
      return '⚠️ The bot is not set up correctly: fal refused its key. Please tell a server admin.';
    case 'no_credit':
      return "⚠️ The bot's fal account is out of credit. Please tell a server admin.";
    case 'busy':
      return '⌛ fal is busy or unreachable right now. Please try again in a minute.';
    case 'timeout':
      return '⌛ This took too long at fal, so it was cancelled. Please try again.';
    case 'cancelled':
      return `✖️ Cancelled by ${userMention(generation.requesterId)}.`;
    case 'download':
      return '⚠️ The images were made, but could not be downloaded from fal. Please try again.';
    case 'delivery':
      return '⚠️ The images were made, but Discord would not accept the upload. Please try again.';
    case 'not_found':
      return '⚠️ fal no longer has this job (the bot was offline for too long). Please try again.';
    case 'model_unavailable':
      return (
        `⚠️ ${findModel(generation.modelId)?.label ?? 'This model'} is no longer available, so nothing was made and nothing was counted. ` +
        'You can run the same prompt with the server’s default model; a server admin can pick another default with /imagine-settings model.'
      );
    case 'unknown':
      return `⚠️ Something went wrong on our side. Please try again; if it keeps happening, tell a server admin (job #${generation.id}).`;
  }
}

/** The reply when a job ends without images: what happened, and the buttons that make sense next. */
export function renderFailure(generation: Generation, failure: Failure, options: { inChannel?: boolean } = {}): MessageView {
  const retry = button('same', generation.id, 'Try again', ButtonStyle.Primary, '🔁');
  const edit = button('edit', generation.id, 'Edit', ButtonStyle.Secondary, '✏️');
  const components =
    failure.kind === 'safety' || failure.kind === 'invalid_input'
      ? [row(edit)]
      : failure.kind === 'model_unavailable'
        ? [row(useDefaultModelButton(generation.id))]
        : failure.kind === 'unauthorized' || failure.kind === 'no_credit'
          ? []
          : [row(retry, edit)];
  return {
    content: [
      ...(options.inChannel ? [channelLead(generation)] : []),
      ...promptLines(generation),
      failureMessage(generation, failure),
    ].join('\n'),
    components,
    allowedMentions: mentions(generation, options.inChannel),
  };
}

/** Runs a generation's prompt again with the server's default model (its own model is gone). */
export function useDefaultModelButton(id: number): ButtonBuilder {
  return button('default', id, 'Use the default model', ButtonStyle.Primary, '🔄');
}

export const EDIT_FIELDS = { prompt: 'prompt', negativePrompt: 'negative_prompt' } as const;

/**
 * The Edit modal, prefilled with the generation's prompt, and its negative prompt when the model takes one
 * (`negativePrompt`).
 */
export function renderEditModal(generation: Generation, options: { negativePrompt: boolean }): ModalBuilder {
  const prompt = new TextInputBuilder()
    .setCustomId(EDIT_FIELDS.prompt)
    .setStyle(TextInputStyle.Paragraph)
    .setRequired(true)
    .setMinLength(1)
    .setMaxLength(PROMPT_MAX_LENGTH)
    .setValue(generation.input.prompt);
  const negative = new TextInputBuilder()
    .setCustomId(EDIT_FIELDS.negativePrompt)
    .setStyle(TextInputStyle.Paragraph)
    .setRequired(false)
    .setMaxLength(NEGATIVE_PROMPT_MAX_LENGTH);
  if (generation.input.negative_prompt) negative.setValue(generation.input.negative_prompt);
  const labels = [new LabelBuilder().setLabel('Prompt').setTextInputComponent(prompt)];
  if (options.negativePrompt) {
    labels.push(
      new LabelBuilder()
        .setLabel('Negative prompt')
        .setDescription('What to keep out of the image (optional)')
        .setTextInputComponent(negative),
    );
  }
  return new ModalBuilder()
    .setCustomId(encodeCustomId({ command: GENERATION_COMPONENTS, action: 'edit-submit', id: generation.id }))
    .setTitle('Edit and generate again')
    .addLabelComponents(...labels);
}

/** Plain words for a refused request: which limit, and when it frees up (as a live Discord timestamp). */
export function refusalMessage(refusal: Refusal): string {
  const when = (at: number) => time(Math.ceil(at / 1000), TimestampStyles.RelativeTime);
  switch (refusal.limit) {
    case 'member_jobs':
      return refusal.max === 1
        ? 'You already have a job running. Please wait for it to finish (or cancel it) before starting another.'
        : `You already have ${refusal.max} jobs running, the most at once on this server. Please wait for one to finish.`;
    case 'cooldown':
      return `Please wait a moment between requests: you can use /imagine again ${when(refusal.retryAt)}.`;
    case 'member_daily_images':
      return refusal.remaining > 0
        ? `You have ${refusal.remaining} of your ${refusal.max} images left today: ask for fewer images. Your limit resets ${when(refusal.resetsAt)}.`
        : `You have used all ${refusal.max} of your images for today. Your limit resets ${when(refusal.resetsAt)}.`;
    case 'guild_daily_images':
      return refusal.remaining > 0
        ? `This server has ${refusal.remaining} of its ${refusal.max} images left today: ask for fewer images. It resets ${when(refusal.resetsAt)}.`
        : `This server has used all ${refusal.max} of its images for today. It resets ${when(refusal.resetsAt)}.`;
    case 'guild_daily_budget':
      return `This server has reached its daily spending limit ($${refusal.maxUsd.toFixed(2)}). It resets ${when(refusal.resetsAt)}.`;
    case 'global_daily_budget':
      return `The bot has reached its daily spending limit across all servers. It resets ${when(refusal.resetsAt)}.`;
  }
}
