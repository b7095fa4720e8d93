/** A job's messages: its progress while it waits or runs, its result with buttons, or why it failed. */
import {
  ButtonStyle,
  TimestampStyles,
  messageLink,
  time,
  userMention,
  type ActionRowBuilder,
  type ButtonBuilder,
  type MessageActionRowComponentBuilder,
} from 'discord.js';
import type { DownloadedImage } from '../../generation/images.js';
import type { Failure, Progress } from '../../generation/service.js';
import { findModel } from '../../models/registry.js';
import { editEndpointOf } from '../../models/editEndpoints.js';
import type { Generation } from '../../store/generations.js';
import {
  NO_PINGS,
  button,
  channelLead,
  mentions,
  parameterLine,
  promptLines,
  row,
  type DeliveryOptions,
  type MessageView,
  type ResultView,
} from './common.js';

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

/**
 * The buttons of a result message: the generation's own (Same seed, New seed, Edit, Delete), then one row per
 * action on a single image, like Midjourney's U1..U4 / V1..V4: Upscale for every image, Vary and Edit image
 * where the model has an /edit endpoint. Numbers are the image's place in the whole result, so the parts of a
 * split result number on. An upscale's result is an end point: it keeps only Delete.
 */
export function resultComponents(
  generation: Generation,
  images: readonly { readonly index: number }[],
): ActionRowBuilder<MessageActionRowComponentBuilder>[] {
  const { id } = generation;
  if (generation.action === 'upscale') return [row(button('delete', id, 'Delete', ButtonStyle.Danger, '🗑️'))];
  const perImage = (action: 'upscale' | 'vary' | 'edit-image', letter: string, style: ButtonStyle) =>
    row(...images.map((image) => button(action, id, `${letter}${image.index + 1}`, style, undefined, image.index)));
  const rows = [resultButtons(id)];
  // A 4K image upscaled ×2 (67 megapixels) would fit neither fal's output limits nor Discord's: no Upscale there.
  if (generation.input.resolution !== '4K') rows.push(perImage('upscale', 'U', ButtonStyle.Secondary));
  if (editEndpointOf(generation.modelId)) {
    rows.push(perImage('vary', 'V', ButtonStyle.Secondary), perImage('edit-image', 'E', ButtonStyle.Secondary));
  }
  return rows;
}

/** How a result points back at what it came from: the image it varies, edits or upscales, or the rerolled result. */
function originLine(generation: Generation, parentLink: string): string {
  const source = generation.imageRefs[0];
  const image = source?.type === 'result' ? `image ${source.index + 1} of ${parentLink}` : parentLink;
  switch (generation.action) {
    case 'vary':
      return `-# ↪ Variation of ${image}`;
    case 'edit':
      return `-# ↪ Edit of ${image}`;
    case 'upscale':
      return `-# ↪ Upscale of ${image}`;
    default:
      return `-# ↪ Reroll of ${parentLink}`;
  }
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
  if (parentLink) lines.push(originLine(generation, parentLink));
  if (missing > 0) {
    lines.push(`⚠️ ${missing} of ${generation.input.num_images} images could not be downloaded from fal.`);
  }
  if (parts > 1) lines.push(`-# Part ${options.part ?? 1} of ${parts} (the images did not fit in one message)`);
  return {
    content: lines.join('\n'),
    images,
    components: resultComponents(generation, images),
    allowedMentions: mentions(generation, options.inChannel),
  };
}

/** Plain words for every way a job can end without images. Never includes raw error text. */
export function failureMessage(generation: Generation, failure: Failure): string {
  switch (failure.kind) {
    case 'safety':
      return generation.action === 'imagine'
        ? "🚫 The model's safety filter refused this prompt. Try rewording it (the Edit button lets you change it)."
        : "🚫 The model's safety filter refused this (the image, or the words asked of it). Try other words or another image.";
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
    case 'image_unavailable':
      return '⚠️ The image to start from could not be fetched or read (was its message deleted, or is the file damaged?), so nothing was made and nothing was counted.';
    case 'action_unavailable':
      return failure.action === 'upscale'
        ? '⚠️ Upscale is not available right now: fal no longer serves the upscaler. Nothing was made or counted; please tell a server admin.'
        : `⚠️ Editing images with ${findModel(generation.modelId)?.label ?? 'this model'} is not available right now: fal no longer serves it. Nothing was made or counted; /imagine without images still works.`;
    case 'unknown':
      return `⚠️ Something went wrong on our side. Please try again; if it keeps happening, tell a server admin (job #${generation.id}).`;
  }
}

/** What makes sense next after a failure: try again, change the prompt, another model, or nothing the member can do. */
function failureButtons(generation: Generation, failure: Failure, retry: ButtonBuilder, edit: ButtonBuilder) {
  switch (failure.kind) {
    case 'unauthorized':
    case 'no_credit':
    case 'image_unavailable':
    case 'action_unavailable':
      return [];
    case 'model_unavailable':
      return [row(useDefaultModelButton(generation.id))];
    case 'safety':
    case 'invalid_input':
      // An upscale has no prompt to change.
      return generation.action === 'upscale' ? [] : [row(edit)];
    default:
      return generation.action === 'upscale' ? [row(retry)] : [row(retry, edit)];
  }
}

/** The reply when a job ends without images: what happened, and the buttons that make sense next. */
export function renderFailure(
  generation: Generation,
  failure: Failure,
  options: { inChannel?: boolean } = {},
): MessageView {
  const retry = button('same', generation.id, 'Try again', ButtonStyle.Primary, '🔁');
  const edit = button('edit', generation.id, 'Edit', ButtonStyle.Secondary, '✏️');
  const components = failureButtons(generation, failure, retry, edit);
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
