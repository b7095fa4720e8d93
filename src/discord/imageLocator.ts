import type { REST } from 'discord.js';
import { ImageUnavailable } from '../generation/failures.js';
import type { ImageLocator } from '../generation/types.js';
import { errorContext, type Logger } from '../logger.js';
import type { GenerationStore, ImageRef } from '../store/generations.js';

/** Discord's answer to refresh-urls. */
interface RefreshedUrls {
  readonly refreshed_urls?: readonly { readonly original?: string; readonly refreshed?: string }[];
}

/** The most URLs one refresh-urls request takes (UNCONFIRMED: the limit apps use). */
const REFRESH_BATCH = 50;

/**
 * Hands fal URLs of Discord attachments that work now. Attachment URLs are signed and expire (about 24 h), so
 * every URL is renewed through `POST /attachments/refresh-urls` (bot token) just before the submit: an action on
 * a week-old result still gives fal a fresh URL of exactly that image. A result image the bot never recorded
 * (its message is gone, or it came from a version that did not keep them) is {@link ImageUnavailable}.
 */
export class DiscordImageLocator implements ImageLocator {
  readonly #rest: REST;
  readonly #store: GenerationStore;
  readonly #logger: Logger;

  constructor(options: { botRest: REST; store: GenerationStore; logger: Logger }) {
    this.#rest = options.botRest;
    this.#store = options.store;
    this.#logger = options.logger;
  }

  /** The URL an image had when it was recorded (an attachment's as given, a result image's as delivered). */
  async #original(ref: ImageRef): Promise<string> {
    if (ref.type === 'attachment') return ref.url;
    const image = (await this.#store.resultImages(ref.generationId)).find((candidate) => candidate.index === ref.index);
    if (!image) throw new ImageUnavailable(`image ${ref.index + 1} of generation ${ref.generationId} is not recorded`);
    return image.url;
  }

  async urls(refs: readonly ImageRef[]): Promise<string[]> {
    const originals: string[] = [];
    for (const ref of refs) {
      originals.push(await this.#original(ref));
    }
    const refreshed = new Map<string, string>();
    for (let start = 0; start < originals.length; start += REFRESH_BATCH) {
      const batch = originals.slice(start, start + REFRESH_BATCH);
      try {
        const answer = (await this.#rest.post('/attachments/refresh-urls', {
          body: { attachment_urls: batch },
        })) as RefreshedUrls;
        for (const entry of answer.refreshed_urls ?? []) {
          if (entry.original && entry.refreshed) refreshed.set(entry.original, entry.refreshed);
        }
      } catch (error) {
        // Discord could not renew them: the URLs go as they are (fresh ones, from a command just run, still
        // work; an expired one makes fal answer that it cannot fetch it, which the member reads in plain words).
        this.#logger.warn('could not renew attachment URLs through Discord', errorContext(error));
      }
    }
    // A URL Discord did not renew is passed as it is: if it has expired, fal says it cannot fetch it.
    return originals.map((url) => refreshed.get(url) ?? url);
  }
}
