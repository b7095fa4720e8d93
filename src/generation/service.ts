import type { FalClient, QueueStatus } from '@fal-ai/client';
import { classifyFalError, describeFalError, type FalFailure } from '../fal/errors.js';
import { errorContext, type Logger } from '../logger.js';
import { Imagen4Output } from '../models/imagen4.js';
import { findModel, type GenerationInput, type ImageModel, type ModelId } from '../models/registry.js';
import type { Generation, GenerationStore } from '../store/generations.js';
import { ImageDownloadError, downloadImage, imageFileName, type DownloadedImage } from './images.js';
import { ProgressThrottle } from './progressThrottle.js';

/** Where a job is, as shown to the member while they wait. Elapsed time is rendered by Discord itself. */
export type Progress =
  | { readonly phase: 'submitting' }
  | { readonly phase: 'queued'; readonly position: number }
  | { readonly phase: 'running' }
  | { readonly phase: 'downloading' };

/** Why a job ended without images. Each kind has its own plain-words message. */
export type Failure =
  | FalFailure
  | { kind: 'cancelled' }
  | { kind: 'download' }
  | { kind: 'delivery' }
  | { kind: 'model_unavailable' };

/**
 * How a job talks back to the member. The Discord implementation edits the interaction's reply; tests and
 * resume-after-restart need nothing else, so the job lifecycle never touches discord.js.
 */
export interface ReplyTarget {
  progress(generation: Generation, progress: Progress): Promise<void>;
  /** Posts the images; resolves with the id of the message that shows them. */
  deliver(generation: Generation, images: readonly DownloadedImage[], missing: number): Promise<string | null>;
  fail(generation: Generation, failure: Failure): Promise<void>;
}

export interface GenerationRequest {
  readonly modelId: ModelId;
  readonly input: GenerationInput;
  readonly requesterId: string;
  readonly guildId: string | null;
  readonly channelId: string;
  readonly applicationId: string;
  readonly interactionToken: string;
  /** When the interaction was created (ms); its token lets us edit the reply for 15 minutes after that. */
  readonly interactionCreatedAt: number;
  readonly parentId: number | null;
  readonly appPermissions: string | null;
  readonly attachmentSizeLimit: number | null;
  readonly inThread: boolean;
}

export interface GenerationServiceOptions {
  readonly store: GenerationStore;
  readonly fal: FalClient;
  readonly logger: Logger;
  readonly pollIntervalMs: number;
  readonly jobTimeoutMs: number;
  readonly download: { readonly timeoutMs: number; readonly maxBytes: number };
  /** Minimum time between two progress edits of one job (Discord rate limits); default 2000. */
  readonly progressIntervalMs?: number;
  readonly now?: () => number;
}

/** Interaction tokens are valid for 15 minutes after the interaction was created. */
export const INTERACTION_TOKEN_LIFETIME_MS = 15 * 60 * 1000;

/** Why a job's abort signal fired: the requester cancelled, the time limit passed, or the bot is stopping. */
class JobStopped extends Error {
  constructor(readonly reason: 'cancelled' | 'timeout' | 'shutdown') {
    super(`job stopped: ${reason}`);
    this.name = 'JobStopped';
  }
}

/**
 * Runs generations from a saved row to posted images: persist, submit to fal (saving the request id at once),
 * report progress, fetch the result, download the images and hand them to the reply target. Every ending,
 * good or bad, reaches the member; the row always ends in a final state.
 */
export class GenerationService {
  readonly #options: GenerationServiceOptions;
  readonly #now: () => number;
  readonly #active = new Map<number, { controller: AbortController; done: Promise<void> }>();

  constructor(options: GenerationServiceOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** Saves a new generation; nothing is sent to fal until {@link start}. */
  create(request: GenerationRequest): Generation {
    this.#options.logger.addSecret(request.interactionToken, INTERACTION_TOKEN_LIFETIME_MS);
    return this.#options.store.create({
      modelId: request.modelId,
      input: request.input,
      requesterId: request.requesterId,
      guildId: request.guildId,
      channelId: request.channelId,
      applicationId: request.applicationId,
      interactionToken: request.interactionToken,
      tokenExpiresAt: request.interactionCreatedAt + INTERACTION_TOKEN_LIFETIME_MS,
      parentId: request.parentId,
      createdAt: this.#now(),
      appPermissions: request.appPermissions,
      attachmentSizeLimit: request.attachmentSizeLimit,
      inThread: request.inThread,
    });
  }

  /** Starts (or resumes) a saved generation in the background. Returns a promise that settles when it ends. */
  start(generation: Generation, target: ReplyTarget): Promise<void> {
    const existing = this.#active.get(generation.id);
    if (existing) return existing.done;
    const controller = new AbortController();
    const done = this.#run(generation, target, controller).finally(() => this.#active.delete(generation.id));
    this.#active.set(generation.id, { controller, done });
    return done;
  }

  /** Asks a running job to stop; fal is told to cancel it. Returns false when the job is not running here. */
  cancel(id: number): boolean {
    const job = this.#active.get(id);
    if (!job) return false;
    job.controller.abort(new JobStopped('cancelled'));
    return true;
  }

  isActive(id: number): boolean {
    return this.#active.has(id);
  }

  /** Resolves when every job running now has ended. */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.#active.values()].map((job) => job.done));
  }

  /**
   * Picks up every generation a previous process left unfinished: a saved fal request id is followed
   * (status, then result; never a second submit), a job that never reached fal is submitted now.
   * @returns how many jobs were resumed.
   */
  resumeUnfinished(targetFor: (generation: Generation) => ReplyTarget): number {
    const unfinished = this.#options.store.unfinished().filter((generation) => !this.#active.has(generation.id));
    for (const generation of unfinished) {
      this.#options.logger.info('resuming generation', {
        generation: generation.id,
        status: generation.status,
        falRequestId: generation.falRequestId,
      });
      void this.start(generation, targetFor(generation));
    }
    return unfinished.length;
  }

  /**
   * For shutdown: lets running jobs finish for up to `graceMs`, then stops the rest without touching their rows,
   * so the next start resumes them.
   */
  async drain(graceMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    await Promise.race([this.idle(), graceOver]);
    clearTimeout(timer);
    for (const job of this.#active.values()) job.controller.abort(new JobStopped('shutdown'));
    await this.idle();
  }

  async #run(generation: Generation, target: ReplyTarget, controller: AbortController): Promise<void> {
    const { store, logger, fal } = this.#options;
    const signal = controller.signal;
    const context = { generation: generation.id, model: generation.modelId };
    const timer = setTimeout(
      () => controller.abort(new JobStopped('timeout')),
      Math.max(0, (generation.submittedAt ?? this.#now()) + this.#options.jobTimeoutMs - this.#now()),
    );
    const progress = new ProgressThrottle<Progress>(
      this.#options.progressIntervalMs ?? 2000,
      (value) =>
        target.progress(generation, value).catch((error: unknown) => {
          logger.warn('could not show progress', { ...context, ...errorContext(error) });
        }),
      sameProgress,
    );
    let requestId = generation.falRequestId;
    const model = findModel(generation.modelId);
    try {
      if (!model) throw new ModelUnavailable();
      if (!requestId) {
        progress.push({ phase: 'submitting' });
        const submitted = await fal.queue.submit(model.endpointId, {
          input: falInput(model, generation.input),
          abortSignal: signal,
        });
        requestId = submitted.request_id;
        store.markSubmitted(generation.id, requestId, this.#now());
        logger.info('submitted to fal', { ...context, falRequestId: requestId });
      }
      let running = false;
      await fal.queue.subscribeToStatus(model.endpointId, {
        requestId,
        pollInterval: this.#options.pollIntervalMs,
        abortSignal: signal,
        logs: false,
        onQueueUpdate: (status: QueueStatus) => {
          if (status.status === 'IN_QUEUE') {
            progress.push({ phase: 'queued', position: status.queue_position });
          } else if (status.status === 'IN_PROGRESS') {
            if (!running) store.setStatus(generation.id, 'running');
            running = true;
            progress.push({ phase: 'running' });
          }
        },
      });
      const result = await fal.queue.result(model.endpointId, { requestId, abortSignal: signal });
      const output = Imagen4Output.parse(result.data);
      progress.push({ phase: 'downloading' });
      const images = await this.#download(generation, output, signal, context);
      if (images.length === 0) throw new DownloadFailed();
      store.setStatus(generation.id, 'delivering');
      await progress.stop();
      let messageId: string | null;
      try {
        messageId = await target.deliver(generation, images, output.images.length - images.length);
      } catch (error) {
        throw new DeliveryFailed(error);
      }
      store.markDone(generation.id, messageId, images.length, this.#now());
      logger.info('generation delivered', { ...context, falRequestId: requestId, images: images.length });
    } catch (error) {
      await progress.stop();
      if (signal.reason instanceof JobStopped && signal.reason.reason === 'shutdown') {
        logger.info('left for the next start to resume', { ...context, falRequestId: requestId });
        return;
      }
      const failure = this.#failureOf(error, signal);
      if (requestId && (failure.kind === 'cancelled' || failure.kind === 'timeout')) {
        await fal.queue.cancel(model?.endpointId ?? '', { requestId }).catch((cancelError: unknown) => {
          logger.warn('fal did not accept the cancel', { ...context, falRequestId: requestId, detail: describeFalError(cancelError) });
        });
      }
      this.#logFailure(failure, error, { ...context, falRequestId: requestId });
      store.markFailed(generation.id, failure.kind === 'cancelled' ? 'cancelled' : 'failed', failure.kind, this.#now());
      await target.fail(generation, failure).catch((replyError: unknown) => {
        logger.error('could not tell the member their generation failed', { ...context, ...errorContext(replyError) });
      });
    } finally {
      clearTimeout(timer);
    }
  }

  async #download(
    generation: Generation,
    output: Imagen4Output,
    signal: AbortSignal,
    context: Record<string, string | number>,
  ): Promise<DownloadedImage[]> {
    const { timeoutMs, maxBytes } = this.#options.download;
    const settled = await Promise.allSettled(
      output.images.map(async (image, index) => {
        signal.throwIfAborted();
        const download = () => downloadImage(image.url, { timeoutMs, maxBytes, signal });
        // One retry for a transient failure; a too-large image will not shrink on a second try.
        const { data, contentType } = await download().catch((error: unknown) => {
          if (error instanceof ImageDownloadError && error.reason === 'too_large') throw error;
          signal.throwIfAborted();
          return download();
        });
        return { index, data, contentType, fileName: imageFileName(generation.id, index, contentType) };
      }),
    );
    signal.throwIfAborted();
    const images: DownloadedImage[] = [];
    for (const [index, outcome] of settled.entries()) {
      if (outcome.status === 'fulfilled') images.push(outcome.value);
      else this.#options.logger.warn('image download failed', { ...context, index, ...errorContext(outcome.reason) });
    }
    return images;
  }

  #failureOf(error: unknown, signal: AbortSignal): Failure {
    if (signal.aborted) {
      const reason: unknown = signal.reason;
      if (reason instanceof JobStopped) return { kind: reason.reason === 'cancelled' ? 'cancelled' : 'timeout' };
    }
    if (error instanceof ModelUnavailable) return { kind: 'model_unavailable' };
    if (error instanceof DownloadFailed) return { kind: 'download' };
    if (error instanceof DeliveryFailed) return { kind: 'delivery' };
    return classifyFalError(error);
  }

  #logFailure(failure: Failure, error: unknown, context: Record<string, string | number | null>): void {
    const { logger } = this.#options;
    const detail = error instanceof DeliveryFailed ? errorContext(error.cause) : { detail: describeFalError(error), ...errorContext(error) };
    switch (failure.kind) {
      case 'unauthorized':
      case 'no_credit':
        logger.error(
          failure.kind === 'no_credit'
            ? 'fal refused the job: the account is out of credit (top up at https://fal.ai/dashboard/billing)'
            : 'fal refused the key: check FAL_KEY (https://fal.ai/dashboard/keys)',
          { ...context, ...detail },
        );
        return;
      case 'unknown':
      case 'delivery':
      case 'model_unavailable':
        logger.error(`generation failed: ${failure.kind}`, { ...context, ...detail });
        return;
      default:
        logger.warn(`generation failed: ${failure.kind}`, { ...context, ...detail });
    }
  }
}

class ModelUnavailable extends Error {
  override readonly name = 'ModelUnavailable';
}
class DownloadFailed extends Error {
  override readonly name = 'DownloadFailed';
}
class DeliveryFailed extends Error {
  override readonly name = 'DeliveryFailed';
  constructor(cause: unknown) {
    super('Discord did not accept the result', { cause });
  }
}

/** The exact body sent to fal: the stored input, re-checked against the model so only its own fields go out. */
function falInput(model: ImageModel, input: GenerationInput): Record<string, unknown> {
  return model.input.parse(input);
}

function sameProgress(a: Progress, b: Progress): boolean {
  return a.phase === b.phase && (a.phase !== 'queued' || b.phase !== 'queued' || a.position === b.position);
}
