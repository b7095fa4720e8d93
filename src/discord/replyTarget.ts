import { DiscordAPIError, InteractionWebhook, Routes, RESTJSONErrorCodes, makeURLSearchParams, type Client } from 'discord.js';
import type { DownloadedImage } from '../generation/images.js';
import type { Failure, Progress, ReplyTarget } from '../generation/service.js';
import type { Logger } from '../logger.js';
import type { Generation, GenerationStore } from '../store/generations.js';
import { fitForDiscord, uploadLimits } from './fitAttachments.js';
import { missingChannelPermissions } from './permissions.js';
import { uploadMessage } from './upload.js';
import { renderFailure, renderProgress, renderResult, type MessageView, type ResultView } from './views.js';

/** An upload started this close to the token's expiry goes to the channel instead (uploads can take a while). */
const TOKEN_SAFETY_MARGIN_MS = 60_000;

/** Discord's answers that mean the interaction reply cannot be edited any more. */
const REPLY_GONE = new Set<number | string>([
  RESTJSONErrorCodes.InvalidWebhookToken,
  RESTJSONErrorCodes.UnknownWebhook,
  RESTJSONErrorCodes.UnknownInteraction,
  RESTJSONErrorCodes.UnknownMessage,
]);

/** The bot cannot post in the channel at all; the job is marked failed with this. */
export class ChannelUnavailable extends Error {
  override readonly name = 'ChannelUnavailable';
}

/**
 * Delivers a generation to Discord using only what the database holds, so it works the same for a job
 * resumed after a restart:
 * - while the interaction token is valid, progress and the result edit the reply (`@original`);
 * - after that (or when the reply was deleted), the result is posted in the channel with the bot token,
 *   mentioning the requester, if the bot's saved permissions allow it; otherwise the job fails and says why in
 *   the log. Channel posts carry a nonce Discord deduplicates, so a retried post never appears twice.
 * Images are fitted to the channel's upload limits first (re-encoded and split across messages as needed).
 */
export class DiscordReplyTarget implements ReplyTarget {
  readonly #client: Client<true>;
  readonly #store: GenerationStore;
  readonly #logger: Logger;
  readonly #now: () => number;

  constructor(options: { client: Client<true>; store: GenerationStore; logger: Logger; now?: () => number }) {
    this.#client = options.client;
    this.#store = options.store;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
  }

  async progress(generation: Generation, progress: Progress): Promise<void> {
    if (!this.#tokenUsable(generation)) return;
    await this.#webhook(generation).editMessage('@original', renderProgress(generation, progress));
  }

  async deliver(generation: Generation, images: readonly DownloadedImage[], missing: number): Promise<string | null> {
    const fitted = await fitForDiscord(images, uploadLimits(generation.attachmentSizeLimit));
    if (fitted.reencoded > 0) {
      this.#logger.info('re-encoded images to fit Discord', { generation: generation.id, count: fitted.reencoded });
    }
    const parent = generation.parentId === null ? undefined : this.#store.get(generation.parentId);
    const finishedAt = this.#now();
    const views = (inChannel: boolean) =>
      fitted.messages.map((group, index) =>
        renderResult(generation, group, missing, { finishedAt, parent, part: index + 1, parts: fitted.messages.length, inChannel }),
      );
    if (this.#tokenUsable(generation)) {
      try {
        return await this.#sendToReply(generation, views(false));
      } catch (error) {
        if (!replyGone(error)) throw error;
        this.#logger.warn('interaction reply unavailable; posting in the channel', { generation: generation.id });
      }
    }
    return this.#sendToChannel(generation, views(true), 'result');
  }

  async fail(generation: Generation, failure: Failure): Promise<void> {
    if (this.#tokenUsable(generation)) {
      try {
        await this.#webhook(generation).editMessage('@original', renderFailure(generation, failure));
        return;
      } catch (error) {
        if (!replyGone(error)) throw error;
      }
    }
    await this.#sendToChannel(generation, [renderFailure(generation, failure, { inChannel: true })], 'failure');
  }

  #tokenUsable(generation: Generation): boolean {
    return (
      generation.interactionToken !== null &&
      generation.tokenExpiresAt !== null &&
      this.#now() < generation.tokenExpiresAt - TOKEN_SAFETY_MARGIN_MS
    );
  }

  #webhook(generation: Generation): InteractionWebhook {
    if (!generation.interactionToken) throw new Error(`generation ${generation.id} has no interaction token left`);
    return new InteractionWebhook(this.#client, generation.applicationId, generation.interactionToken);
  }

  /** First part edits the reply; further parts are followups. Editing `@original` again is idempotent. */
  async #sendToReply(generation: Generation, views: readonly ResultView[]): Promise<string> {
    const token = generation.interactionToken;
    if (!token) throw new Error(`generation ${generation.id} has no interaction token left`);
    const [first, ...rest] = views;
    if (!first) throw new Error('nothing to deliver');
    const message = await this.#upload(first, 'patch', Routes.webhookMessage(generation.applicationId, token, '@original'), false);
    for (const view of rest) {
      await this.#upload(view, 'post', Routes.webhook(generation.applicationId, token), false, {}, makeURLSearchParams({ wait: true }));
    }
    return message.id;
  }

  async #sendToChannel(generation: Generation, views: readonly MessageView[], kind: 'result' | 'failure'): Promise<string> {
    const missing = missingChannelPermissions(generation.appPermissions, generation.inThread);
    if (missing.length > 0) {
      throw new ChannelUnavailable(`cannot post in channel ${generation.channelId}: missing ${missing.join(', ')}`);
    }
    let firstId: string | undefined;
    for (const [index, view] of views.entries()) {
      const message = await this.#upload(view, 'post', Routes.channelMessages(generation.channelId), true, {
        // Discord drops a second message with the same nonce (for a few minutes): no double post on retry.
        nonce: `imagine-${generation.id}-${kind === 'result' ? index + 1 : 'f'}`,
        enforce_nonce: true,
      });
      firstId ??= message.id;
    }
    if (!firstId) throw new Error('nothing to deliver');
    return firstId;
  }

  /** Posts or edits one message with its images (if any) as attachments; returns Discord's message. */
  async #upload(
    view: MessageView | ResultView,
    method: 'post' | 'patch',
    route: `/${string}`,
    auth: boolean,
    extra: Record<string, unknown> = {},
    query?: URLSearchParams,
  ): Promise<{ id: string }> {
    const images = 'images' in view ? view.images : [];
    const json = {
      content: view.content,
      components: view.components.map((row) => row.toJSON()),
      allowed_mentions: { parse: view.allowedMentions.parse, users: view.allowedMentions.users ?? [] },
      attachments: images.map((image, id) => ({ id: String(id), filename: image.fileName })),
      ...extra,
    };
    const files = images.map((image) => ({ name: image.fileName, data: image.data, contentType: image.contentType }));
    return (await uploadMessage(this.#client.rest, { method, route, json, files, auth, ...(query && { query }) })) as { id: string };
  }
}

function replyGone(error: unknown): boolean {
  return error instanceof DiscordAPIError && (REPLY_GONE.has(error.code) || error.status === 401);
}
