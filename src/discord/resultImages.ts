import { DiscordAPIError, RESTJSONErrorCodes, Routes, type APIMessage, type REST } from 'discord.js';
import { ImageDownloadError, downloadImage, imageFileName, type DownloadedImage } from '../generation/images.js';
import type { Logger } from '../logger.js';
import type { Generation } from '../store/generations.js';

/** What fetching a posted result's images gave: the images (some may be missing), or why there are none. */
export type FetchedResult =
  | { readonly ok: true; readonly images: DownloadedImage[]; readonly missing: number }
  | {
      readonly ok: false;
      /**
       * `deleted`: the result's first message (or its channel) is gone; `no_access`: the bot may not read that
       * channel; `unavailable`: the messages are there but not one image could be downloaded.
       */
      readonly reason: 'deleted' | 'no_access' | 'unavailable';
    };

const GONE = new Set<number | string>([RESTJSONErrorCodes.UnknownMessage, RESTJSONErrorCodes.UnknownChannel]);
const NO_ACCESS = new Set<number | string>([RESTJSONErrorCodes.MissingAccess, RESTJSONErrorCodes.MissingPermissions]);
const IMAGE_FILE = /\.(?:png|jpe?g|webp)$/i;

/**
 * The images a finished generation's messages carry, read back from Discord: each message is fetched anew
 * (`GET /channels/{channel}/messages/{message}`, https://discord.com/developers/docs/resources/message#get-channel-message)
 * because attachment URLs are signed and expire (about a day); a fetched message carries freshly signed ones.
 * No URL is stored or reused. Needs View Channel and Read Message History in the result's channel.
 */
export async function fetchResultImages(options: {
  rest: REST;
  generation: Generation;
  /** The result's messages in order: its first message, then any further parts of a split result. */
  messageIds: readonly string[];
  download: { timeoutMs: number; maxBytes: number };
  logger: Logger;
}): Promise<FetchedResult> {
  const { rest, generation, messageIds, download, logger } = options;
  const urls: Array<{ url: string; index: number }> = [];
  for (const [index, messageId] of messageIds.entries()) {
    let message: APIMessage;
    try {
      message = (await rest.get(Routes.channelMessage(generation.channelId, messageId))) as APIMessage;
    } catch (error) {
      if (!(error instanceof DiscordAPIError)) throw error;
      if (NO_ACCESS.has(error.code)) return { ok: false, reason: 'no_access' };
      if (!GONE.has(error.code)) throw error;
      // The first message is the result; a later part deleted on its own only loses its images.
      if (index === 0) return { ok: false, reason: 'deleted' };
      continue;
    }
    for (const attachment of message.attachments) {
      if (attachment.content_type?.startsWith('image/') || IMAGE_FILE.test(attachment.filename)) {
        // The file names the bot gave them carry the image's place in the result (imagen-<id>-<n>.<ext>), which
        // the per-image buttons use; a result with a missing image keeps its numbering.
        const numbered = new RegExp(`^imagen-${generation.id}-(\\d+)\\.`).exec(attachment.filename);
        urls.push({ url: attachment.url, index: numbered ? Number(numbered[1]) - 1 : urls.length });
      }
    }
  }
  const downloaded = await Promise.all(
    urls.map(async ({ url, index }): Promise<DownloadedImage | undefined> => {
      try {
        const { data, contentType } = await downloadImage(url, download);
        return { index, data, contentType, fileName: imageFileName(generation.id, index, contentType) };
      } catch (error) {
        if (!(error instanceof ImageDownloadError)) throw error;
        logger.warn('could not download a posted image again', { generation: generation.id, reason: error.reason });
        return undefined;
      }
    }),
  );
  const images = downloaded.filter((image) => image !== undefined);
  if (images.length === 0) return { ok: false, reason: 'unavailable' };
  return { ok: true, images, missing: Math.max(0, generation.imageCount - images.length) };
}
