/** /imagine-show's message: a finished result posted again, with its images and its working buttons. */
import { userMention } from 'discord.js';
import type { DownloadedImage } from '../../generation/images.js';
import type { Generation } from '../../store/generations.js';
import { NO_PINGS, parameterLine, promptLines, type ResultView } from './common.js';
import { generationLink, resultComponents } from './jobMessages.js';

export function renderShownResult(
  generation: Generation,
  images: readonly DownloadedImage[],
  options: { readonly shownBy: string; readonly missing: number; readonly part: number; readonly parts: number },
): ResultView {
  const original = generationLink(generation);
  const lines = [
    ...promptLines(generation),
    `${parameterLine(generation)} · ${userMention(generation.requesterId)}`,
    `-# #${generation.id}, shown again by ${userMention(options.shownBy)}${original ? ` · original: ${original}` : ''}`,
  ];
  if (options.missing > 0) {
    lines.push(`⚠️ ${options.missing} of ${generation.imageCount} images could not be fetched from Discord.`);
  }
  if (options.parts > 1)
    lines.push(`-# Part ${options.part} of ${options.parts} (the images did not fit in one message)`);
  return {
    content: lines.join('\n'),
    images,
    components: resultComponents(generation, images),
    allowedMentions: NO_PINGS,
  };
}
