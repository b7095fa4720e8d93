import {
  DiscordAPIError,
  Routes,
  RESTJSONErrorCodes,
  makeURLSearchParams,
  type APIMessage,
  type REST,
} from 'discord.js';
import type { DownloadedImage } from '../generation/images.js';
import { LoopPacer } from '../shared/pacer.js';
import type { Failure, Progress, ReplyTarget } from '../generation/service.js';
import type { Logger } from '../logger.js';
import type { UploadBudget } from '../models/outputFormat.js';
import type { Generation, GenerationStore } from '../store/generations.js';
import { fitForDiscord, uploadLimits } from './fitAttachments.js';
import { missingChannelPermissions } from './permissions.js';
import { messageBody } from './messageBody.js';
import { sendMessage } from './upload.js';
import type { MessageView, ResultView } from './views/common.js';
import { renderFailure, renderProgress, renderResult } from './views/jobMessages.js';

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
 * Images are fitted to the channel's upload limits first (re-encoded and split across messages as needed). Each
 * message of a result is recorded once Discord has it, so delivering again (a resume from `delivering`) posts
 * only the missing parts; the first part edits the reply, which is safe to repeat.
 */
export class DiscordReplyTarget implements ReplyTarget {
  readonly #botRest: REST;
  readonly #interactionRest: REST;
  readonly #store: GenerationStore;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #pacer: LoopPacer;

  /**
   * `interactionRest` carries the interaction webhook calls (no bot token, no global cap: Discord does not count
   * them against the bot's global limit); channel posts use the client's REST and the bot token.
   */
  constructor(options: {
    /** The client's REST, with the bot token (channel posts). */
    botRest: REST;
    interactionRest: REST;
    store: GenerationStore;
    logger: Logger;
    now?: () => number;
    pacer?: LoopPacer;
  }) {
    this.#botRest = options.botRest;
    this.#interactionRest = options.interactionRest;
    this.#pacer = options.pacer ?? new LoopPacer();
    this.#store = options.store;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
  }

  uploadBudget(generation: Generation): UploadBudget {
    const { perFileBytes, perRequestBytes } = uploadLimits(generation.attachmentSizeLimit);
    return { perFileBytes, perRequestBytes };
  }

  async progress(generation: Generation, progress: Progress, signal?: AbortSignal): Promise<void> {
    if (!this.#tokenUsable(generation)) return;
    try {
      await this.#editReply(generation, renderProgress(generation, progress), 'routine', signal);
    } catch (error) {
      // Dropped before it started: the job's final message is on its way. Any other failure is reported.
      if (signal?.aborted && error === signal.reason) return;
      throw error;
    }
  }

  async deliver(generation: Generation, images: readonly DownloadedImage[], missing: number): Promise<string | null> {
    const fitted = await fitForDiscord(images, uploadLimits(generation.attachmentSizeLimit));
    if (fitted.reencoded > 0) {
      this.#logger.info('re-encoded images to fit Discord', { generation: generation.id, count: fitted.reencoded });
    }
    // What it points back at: the result whose image it acted on (a retried Upscale's parent is the failed try),
    // else the result it rerolls.
    const source = generation.imageRefs[0];
    const originId = source?.type === 'result' ? source.generationId : generation.parentId;
    const parent = originId === null ? undefined : await this.#store.get(originId);
    const finishedAt = this.#now();
    const views = (inChannel: boolean) =>
      fitted.messages.map((group, index) =>
        renderResult(generation, group, missing, {
          finishedAt,
          parent,
          part: index + 1,
          parts: fitted.messages.length,
          inChannel,
        }),
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
        await this.#editReply(generation, renderFailure(generation, failure), 'urgent');
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

  #token(generation: Generation): string {
    if (!generation.interactionToken) throw new Error(`generation ${generation.id} has no interaction token left`);
    return generation.interactionToken;
  }

  /**
   * Edits the interaction reply (`@original`); editing it again with the same view is idempotent. Progress is
   * `routine`; results and failures are `urgent` and start before any progress edit still waiting its turn.
   */
  async #editReply(
    generation: Generation,
    view: MessageView,
    lane: 'urgent' | 'routine',
    signal?: AbortSignal,
  ): Promise<APIMessage> {
    const route = Routes.webhookMessage(generation.applicationId, this.#token(generation), '@original');
    return this.#pacer.run(
      () => this.#send(view, { rest: this.#interactionRest, method: 'patch', route, auth: false }),
      lane,
      signal,
    );
  }

  /**
   * First part edits the reply (again, on a resume: progress edits may have replaced it); further parts are
   * followups, each posted only if Discord does not have it yet (followups have no nonce to deduplicate them).
   */
  async #sendToReply(generation: Generation, views: readonly ResultView[]): Promise<string> {
    const [first, ...rest] = views;
    if (!first) throw new Error('nothing to deliver');
    const delivered = await this.#store.deliveredParts(generation.id);
    const message = await this.#editReply(generation, first, 'urgent');
    await this.#recordPart(generation, 1, first, message);
    const route = Routes.webhook(generation.applicationId, this.#token(generation));
    const query = makeURLSearchParams({ wait: true });
    for (const [index, view] of rest.entries()) {
      const part = index + 2;
      if (delivered.has(part)) continue;
      const posted = await this.#pacer.run(
        () => this.#send(view, { rest: this.#interactionRest, method: 'post', route, auth: false, query }),
        'urgent',
      );
      await this.#recordPart(generation, part, view, posted);
    }
    return message.id;
  }

  async #sendToChannel(
    generation: Generation,
    views: readonly MessageView[],
    kind: 'result' | 'failure',
  ): Promise<string> {
    const missing = missingChannelPermissions(generation.appPermissions, generation.inThread);
    if (missing.length > 0) {
      throw new ChannelUnavailable(`cannot post in channel ${generation.channelId}: missing ${missing.join(', ')}`);
    }
    const delivered = kind === 'result' ? await this.#store.deliveredParts(generation.id) : new Map<number, string>();
    let firstId: string | undefined;
    for (const [index, view] of views.entries()) {
      const part = index + 1;
      const known = delivered.get(part);
      if (known !== undefined) {
        firstId ??= known;
        continue;
      }
      const message = await this.#send(view, {
        rest: this.#botRest,
        method: 'post',
        route: Routes.channelMessages(generation.channelId),
        auth: true,
        // Discord drops a second message with the same nonce (for a few minutes): no double post on retry.
        extra: { nonce: `imagine-${generation.id}-${kind === 'result' ? part : 'f'}`, enforce_nonce: true },
      });
      if (kind === 'result') await this.#recordPart(generation, part, view, message);
      firstId ??= message.id;
    }
    if (!firstId) throw new Error('nothing to deliver');
    return firstId;
  }

  /**
   * Records a part of a result once Discord has it, and where each of its images lives (the attachment of the
   * same file name), so an action on one image later finds it.
   */
  async #recordPart(generation: Generation, part: number, view: MessageView, message: APIMessage): Promise<void> {
    await this.#store.recordPart(generation.id, part, message.id, this.#now());
    for (const image of view.images ?? []) {
      const attachment = message.attachments.find((candidate) => candidate.filename === image.fileName);
      if (!attachment) continue;
      await this.#store.recordResultImage(generation.id, {
        index: image.index,
        messageId: message.id,
        url: attachment.url,
        width: attachment.width ?? null,
        height: attachment.height ?? null,
      });
    }
  }

  /** Posts or edits one message, with a result's images as its attachments; returns Discord's message. */
  async #send(
    view: MessageView,
    request: {
      rest: REST;
      method: 'post' | 'patch';
      route: `/${string}`;
      auth: boolean;
      extra?: Record<string, unknown>;
      query?: URLSearchParams;
    },
  ): Promise<APIMessage> {
    const body = messageBody(view);
    const json = { ...body.json, ...request.extra };
    const { files } = body;
    const { rest, method, route, auth, query } = request;
    return (await sendMessage(rest, { method, route, json, files, auth, ...(query && { query }) })) as APIMessage;
  }
}

function replyGone(error: unknown): boolean {
  return error instanceof DiscordAPIError && (REPLY_GONE.has(error.code) || error.status === 401);
}
