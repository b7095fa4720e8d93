/**
 * What every message the bot renders shares: the view shape, button and row helpers, and the lines that show a
 * generation's prompt and parameters. Mentions are shown but never ping.
 */
import {
  ActionRowBuilder,
  ButtonBuilder,
  ButtonStyle,
  userMention,
  type MessageActionRowComponentBuilder,
} from 'discord.js';
import type { DownloadedImage } from '../../generation/images.js';
import { findModel } from '../../models/registry.js';
import { UPSCALER, UPSCALE_FACTOR } from '../../models/upscaler.js';
import type { Generation } from '../../store/generations.js';
import { GENERATION_COMPONENTS, encodeCustomId, type ComponentAction } from '../customId.js';
import { quoteUserText } from '../text.js';

/** Mentions are shown but never ping: a prompt with @everyone in it stays harmless. */
export const NO_PINGS = { parse: [] as never[], repliedUser: false as const };

/** How much of a prompt a message quotes. */
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
export function channelLead(generation: Generation): string {
  return `${userMention(generation.requesterId)} your /imagine job finished after its reply could no longer be edited:`;
}

export function mentions(generation: Generation, inChannel: boolean | undefined): MessageView['allowedMentions'] {
  return inChannel ? { ...NO_PINGS, users: [generation.requesterId] } : NO_PINGS;
}

export function button(
  action: ComponentAction,
  id: number,
  label: string,
  style: ButtonStyle,
  emoji?: string,
  image?: number,
): ButtonBuilder {
  const built = new ButtonBuilder()
    .setCustomId(encodeCustomId({ command: GENERATION_COMPONENTS, action, id, ...(image !== undefined && { image }) }))
    .setLabel(label)
    .setStyle(style);
  // As an object: a bare string goes through discord.js's emoji parser, which leaves `id: undefined` for the
  // builder's validator to reject and retry (an exception per button, measurable in a burst).
  return emoji ? built.setEmoji({ name: emoji }) : built;
}

export function row(...buttons: ButtonBuilder[]): ActionRowBuilder<MessageActionRowComponentBuilder> {
  return new ActionRowBuilder<MessageActionRowComponentBuilder>().addComponents(buttons);
}

export function promptLines(generation: Generation): string[] {
  const prompt = quoteUserText(generation.input.prompt, PROMPT_PREVIEW_LENGTH);
  // An Edit image's prompt is the member's instruction; an upscale shows the prompt of the image it enlarges.
  const lines = [generation.action === 'edit' ? `✏️ **${prompt}**` : `**${prompt}**`];
  if (generation.input.negative_prompt) {
    lines.push(`-# Without: ${quoteUserText(generation.input.negative_prompt, NEGATIVE_PREVIEW_LENGTH)}`);
  }
  return lines;
}

/** The parameters of a generation, ending with its job id (what /imagine-show takes). */
export function parameterLine(generation: Generation): string {
  const { input } = generation;
  const model = findModel(generation.modelId);
  if (generation.action === 'upscale') {
    return [`Upscaled ×${UPSCALE_FACTOR}`, UPSCALER.label, `job #${generation.id}`].join(' · ');
  }
  return [
    `Seed \`${input.seed}\``,
    input.aspect_ratio === 'auto' ? 'auto ratio' : input.aspect_ratio,
    ...(input.resolution ? [input.resolution] : []),
    model?.label ?? generation.modelId,
    ...(generation.action === 'reference'
      ? [`${generation.imageRefs.length} reference image${generation.imageRefs.length === 1 ? '' : 's'}`]
      : []),
    `job #${generation.id}`,
  ].join(' · ');
}
