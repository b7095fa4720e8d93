import { InteractionWebhook, type Client } from 'discord.js';
import type { DownloadedImage } from '../generation/images.js';
import type { Failure, Progress, ReplyTarget } from '../generation/service.js';
import type { Generation, GenerationStore } from '../store/generations.js';
import { renderFailure, renderProgress, renderResult } from './views.js';

/**
 * Sends a generation's progress, result and failure to its interaction reply (`@original`), using only what the
 * database holds (application id and interaction token), so it works the same for a job resumed after a restart.
 */
export class InteractionReplyTarget implements ReplyTarget {
  readonly #client: Client<true>;
  readonly #store: GenerationStore;
  readonly #now: () => number;

  constructor(client: Client<true>, store: GenerationStore, now: () => number = Date.now) {
    this.#client = client;
    this.#store = store;
    this.#now = now;
  }

  async progress(generation: Generation, progress: Progress): Promise<void> {
    await this.#webhook(generation).editMessage('@original', renderProgress(generation, progress));
  }

  async deliver(generation: Generation, images: readonly DownloadedImage[], missing: number): Promise<string | null> {
    const parent = generation.parentId === null ? undefined : this.#store.get(generation.parentId);
    const view = renderResult(generation, images, missing, { finishedAt: this.#now(), parent });
    const message = await this.#webhook(generation).editMessage('@original', view);
    return message.id;
  }

  async fail(generation: Generation, failure: Failure): Promise<void> {
    await this.#webhook(generation).editMessage('@original', renderFailure(generation, failure));
  }

  #webhook(generation: Generation): InteractionWebhook {
    if (!generation.interactionToken) {
      throw new Error(`generation ${generation.id} has no interaction token left`);
    }
    return new InteractionWebhook(this.#client, generation.applicationId, generation.interactionToken);
  }
}
