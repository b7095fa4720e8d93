import type { FalClient, QueueStatus } from '@fal-ai/client';
import type { DefaultLimits } from '../config.js';
import { classifyFalError, describeFalError, isModelGone, type FalFailure } from '../fal/errors.js';
import { followStatus } from '../fal/followStatus.js';
import { maybeReceivedByFal, submitJob } from '../fal/submit.js';
import { checkLimits, utcDayStart, type Refusal } from '../limits/admission.js';
import { estimateCost, type PriceTable } from '../limits/pricing.js';
import { errorContext, type Logger } from '../logger.js';
import type { OutputFormat, OutputImageFile } from '../models/fields.js';
import { chooseOutputFormat, type UploadBudget } from '../models/outputFormat.js';
import { findModel, type GenerationInput, type ImageModel } from '../models/registry.js';
import type { Generation, GenerationStore, NewGeneration } from '../store/generations.js';
import { fairOrder } from './fairQueue.js';
import { ImageDownloadError, downloadImage, imageFileName, type DownloadedImage } from './images.js';
import { ProgressThrottle } from './progressThrottle.js';
import { Semaphore } from './semaphore.js';

/** Where a job is, as shown to the member while they wait. Elapsed time is rendered by Discord itself. */
export type Progress =
  | { readonly phase: 'waiting'; readonly position: number }
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
  /** `signal` is aborted once the edit is no longer wanted (the job is ending): one not yet sent is dropped. */
  progress(generation: Generation, progress: Progress, signal?: AbortSignal): Promise<void>;
  /** Posts the images; resolves with the id of the message that shows them. */
  deliver(generation: Generation, images: readonly DownloadedImage[], missing: number): Promise<string | null>;
  fail(generation: Generation, failure: Failure): Promise<void>;
  /** What the destination accepts, so fal is asked for a format that fits (PNG when none is given). */
  uploadBudget?(generation: Generation): UploadBudget;
}

/** A member's request, as the command hands it over; the service adds timing and accounting. */
export type GenerationRequest = Omit<NewGeneration, 'tokenExpiresAt' | 'createdAt' | 'quotaImages' | 'costUsd'> & {
  /** When the interaction was created (ms); its token lets us edit the reply for 15 minutes after that. */
  readonly interactionCreatedAt: number;
};

export interface GenerationServiceOptions {
  readonly store: GenerationStore;
  readonly fal: FalClient;
  readonly logger: Logger;
  readonly pollIntervalMs: number;
  readonly jobTimeoutMs: number;
  readonly download: { readonly timeoutMs: number; readonly maxBytes: number };
  /** Jobs at fal at once; the rest wait in the bot's own fair queue. */
  readonly concurrency: number;
  readonly prices: PriceTable;
  /** Spending cap for the whole bot per UTC day. */
  readonly dailyBudgetUsd: number;
  /**
   * Jobs downloading and uploading their images at once (default 2). Image bytes are the bot's memory peak:
   * this bounds it however many jobs finish together, at a cost of a few milliseconds of queueing per job.
   */
  readonly deliveryConcurrency?: number;
  /** Minimum time between two progress edits of one job (Discord rate limits); default 2000. */
  readonly progressIntervalMs?: number;
  readonly now?: () => number;
}

/** Interaction tokens are valid for 15 minutes after the interaction was created. */
export const INTERACTION_TOKEN_LIFETIME_MS = 15 * 60 * 1000;

const DAY_MS = 24 * 60 * 60 * 1000;
const DEFAULT_DELIVERY_CONCURRENCY = 2;
/** How often waiting members are told their place in line (each reply still edits at most every 2 s). */
const POSITION_REFRESH_MS = 500;
/**
 * "Fetching the images" is shown only once fetching (or waiting for a delivery slot) takes this long. Shown at
 * once, that edit would usually still be in flight when the images are ready, and a reply's edits reach
 * Discord one at a time: every quick result would wait one more round trip.
 */
const DOWNLOAD_NOTICE_MS = 1000;

/** Failures after which fal may still have billed the images (a 422 can be billed; 5xx are not). */
const BILLED_FAILURES = new Set<Failure['kind']>(['safety', 'invalid_input', 'download', 'delivery']);

/** Why a job's abort signal fired: the requester cancelled, the time limit passed, or the bot is stopping. */
class JobStopped extends Error {
  constructor(readonly reason: 'cancelled' | 'timeout' | 'shutdown') {
    super(`job stopped: ${reason}`);
    this.name = 'JobStopped';
  }
}

/** A generation this process is looking after: waiting in the bot's queue, or running. */
interface Job {
  readonly generation: Generation;
  readonly target: ReplyTarget;
  readonly controller: AbortController;
  readonly progress: ProgressThrottle<Progress>;
  state: 'waiting' | 'running';
  readonly done: Promise<void>;
  readonly finish: () => void;
}

/**
 * Runs generations from a saved row to posted images. Admission checks every limit and saves the job in one
 * transaction; jobs then wait in a fair queue (round-robin across servers, then members) until one of
 * `concurrency` slots at fal is free; a running job is submitted (its request id saved at once), followed,
 * fetched, downloaded and handed to the reply target. Every ending, good or bad, reaches the member; the row
 * always ends in a final state, except when the bot stops, which leaves it for the next start to resume.
 */
export class GenerationService {
  readonly #options: GenerationServiceOptions;
  readonly #now: () => number;
  readonly #jobs = new Map<number, Job>();
  readonly #deliverySlots: Semaphore;
  #positionsTimer: NodeJS.Timeout | undefined;
  #stopping = false;

  constructor(options: GenerationServiceOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#deliverySlots = new Semaphore(options.deliveryConcurrency ?? DEFAULT_DELIVERY_CONCURRENCY);
  }

  /**
   * Saves a new generation if the member's, the server's and the bot's limits allow it; nothing is sent to fal
   * until {@link start}. A refused request is not saved and costs nothing.
   */
  admit(request: GenerationRequest, limits: DefaultLimits): { ok: true; generation: Generation } | { ok: false; refusal: Refusal } {
    this.#options.logger.addSecret(request.interactionToken, INTERACTION_TOKEN_LIFETIME_MS);
    const now = this.#now();
    const images = request.input.num_images;
    const costUsd = estimateCost(this.#options.prices, request.modelId, request.input.resolution, images);
    const { interactionCreatedAt, ...fields } = request;
    return this.#options.store.createIfAllowed(
      {
        ...fields,
        tokenExpiresAt: interactionCreatedAt + INTERACTION_TOKEN_LIFETIME_MS,
        createdAt: now,
        quotaImages: images,
        costUsd,
      },
      utcDayStart(now),
      (usage) => checkLimits(usage, { images, costUsd, now }, limits, this.#options.dailyBudgetUsd),
    );
  }

  /**
   * Takes charge of a saved generation: a waiting one joins the fair queue, one that was already sent on its way
   * (resumed after a restart) continues at once. Returns a promise that settles when the job ends here.
   */
  start(generation: Generation, target: ReplyTarget): Promise<void> {
    const existing = this.#jobs.get(generation.id);
    if (existing) return existing.done;
    // Shutting down: the saved row is left as it is, and the next start picks it up.
    if (this.#stopping) return Promise.resolve();
    let finish = () => {};
    const done = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const job: Job = {
      generation,
      target,
      controller: new AbortController(),
      progress: new ProgressThrottle<Progress>(
        this.#options.progressIntervalMs ?? 2000,
        (value, signal) =>
          target.progress(generation, value, signal).catch((error: unknown) => {
            this.#options.logger.warn('could not show progress', { generation: generation.id, ...errorContext(error) });
          }),
        sameProgress,
      ),
      state: 'waiting',
      done,
      finish,
    };
    this.#jobs.set(generation.id, job);
    if (generation.status === 'waiting') this.#pump();
    else this.#runJob(job);
    return done;
  }

  /**
   * Stops a job for its requester: a waiting one leaves the queue, a running one is cancelled at fal.
   * Returns false when the job is not in this process's hands (already finished).
   */
  cancel(id: number): boolean {
    const job = this.#jobs.get(id);
    if (!job) return false;
    job.controller.abort(new JobStopped('cancelled'));
    if (job.state === 'waiting') void this.#endWaiting(job);
    return true;
  }

  /** Every waiting job's place in the bot's queue (1 = next), worked out once. */
  positionsInLine(): Map<number, number> {
    return new Map(this.#waitingOrder().map((job, index) => [job.id, index + 1]));
  }

  /** Resolves when every job this process holds now has ended. */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.#jobs.values()].map((job) => job.done));
  }

  /**
   * Picks up every generation a previous process left unfinished: waiting ones rejoin the queue, a saved fal
   * request id is followed (status, then result; never a second submit), a job that never reached fal is
   * submitted now. Returns how many were picked up.
   */
  resumeUnfinished(target: ReplyTarget): number {
    const unfinished = this.#options.store.unfinished().filter((generation) => !this.#jobs.has(generation.id));
    for (const generation of unfinished) {
      // This process's logger has never seen the token: register it before anything can quote it (for a full
      // lifetime from now, which outlasts whatever is left of it).
      if (generation.interactionToken !== null) {
        this.#options.logger.addSecret(generation.interactionToken, INTERACTION_TOKEN_LIFETIME_MS);
      }
      this.#options.logger.info('resuming generation', {
        generation: generation.id,
        status: generation.status,
        falRequestId: generation.falRequestId,
      });
      void this.start(generation, target);
    }
    return unfinished.length;
  }

  /**
   * For shutdown: sends nothing new to fal, lets running jobs finish for up to `graceMs`, then stops the rest
   * without touching their rows, so the next start resumes them (waiting ones keep their place).
   */
  async drain(graceMs: number): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#positionsTimer);
    for (const job of this.#jobs.values()) {
      if (job.state === 'waiting') {
        this.#jobs.delete(job.generation.id);
        void job.progress.stop().then(job.finish);
      }
    }
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    await Promise.race([this.idle(), graceOver]);
    clearTimeout(timer);
    for (const job of this.#jobs.values()) job.controller.abort(new JobStopped('shutdown'));
    await this.idle();
  }

  /**
   * Fills free fal slots from the fair queue. The order is worked out only when a slot is free; telling waiting
   * members their place in line is batched (at most every {@link POSITION_REFRESH_MS}), so a burst of requests
   * costs one ordering per refresh rather than one per request.
   */
  #pump(): void {
    if (this.#stopping) return;
    const { store } = this.#options;
    let running = 0;
    let waiting = 0;
    for (const job of this.#jobs.values()) {
      if (job.state === 'running') running += 1;
      else waiting += 1;
    }
    if (running < this.#options.concurrency && waiting > 0) {
      for (const next of this.#waitingOrder()) {
        if (running >= this.#options.concurrency) break;
        const job = this.#jobs.get(next.id);
        if (job && store.markDispatched(next.id, this.#now())) {
          running += 1;
          waiting -= 1;
          this.#runJob(job);
        }
      }
    }
    if (waiting > 0) this.#schedulePositions();
  }

  #schedulePositions(): void {
    if (this.#positionsTimer) return;
    this.#positionsTimer = setTimeout(() => {
      this.#positionsTimer = undefined;
      if (this.#stopping) return;
      let position = 0;
      for (const next of this.#waitingOrder()) {
        const job = this.#jobs.get(next.id);
        if (job?.state === 'waiting') job.progress.push({ phase: 'waiting', position: (position += 1) });
      }
    }, POSITION_REFRESH_MS);
  }

  #waitingOrder() {
    const { store } = this.#options;
    return fairOrder(
      store.waiting().filter((waiting) => this.#jobs.get(waiting.id)?.state === 'waiting'),
      store.lastDispatches(this.#now() - DAY_MS),
    );
  }

  #runJob(job: Job): void {
    job.state = 'running';
    void this.#run(job).finally(() => {
      this.#jobs.delete(job.generation.id);
      job.finish();
      this.#pump();
    });
  }

  /** A waiting job cancelled by its requester: it never reached fal, so it costs nothing. */
  async #endWaiting(job: Job): Promise<void> {
    const { store, logger } = this.#options;
    this.#jobs.delete(job.generation.id);
    await job.progress.stop();
    store.markFailed(job.generation.id, 'cancelled', 'cancelled', this.#now());
    await job.target.fail(job.generation, { kind: 'cancelled' }).catch((error: unknown) => {
      logger.error('could not tell the member their generation was cancelled', { generation: job.generation.id, ...errorContext(error) });
    });
    job.finish();
    this.#pump();
  }

  async #run(job: Job): Promise<void> {
    const { store, logger, fal } = this.#options;
    const { generation, target, progress, controller } = job;
    const signal = controller.signal;
    const context = { generation: generation.id, model: generation.modelId };
    const timer = setTimeout(
      () => controller.abort(new JobStopped('timeout')),
      Math.max(0, (generation.submittedAt ?? this.#now()) + this.#options.jobTimeoutMs - this.#now()),
    );
    let requestId = generation.falRequestId;
    let running = generation.status === 'running';
    let downloadNotice: NodeJS.Timeout | undefined;
    const model = findModel(generation.modelId);
    try {
      signal.throwIfAborted();
      if (!model) throw new ModelUnavailable();
      if (!requestId) {
        progress.push({ phase: 'submitting' });
        if (generation.status === 'pending') {
          // A previous process sent this job and stopped before saving fal's answer: fal may already have it.
          logger.warn('resubmitting a job whose earlier submit got no saved answer: fal may run it twice', context);
        }
        const input = falInput(model, generation.input, chooseOutputFormat(generation.input, target.uploadBudget?.(generation)));
        requestId = await submitJob(fal, model.endpointId, input, signal).catch((error: unknown) => {
          // A 404 at submit means fal no longer serves the endpoint: the model is gone, not this job.
          throw isModelGone(error) ? new ModelGone(model.endpointId, error) : error;
        });
        store.markSubmitted(generation.id, requestId, this.#now());
        logger.info('submitted to fal', { ...context, falRequestId: requestId });
      }
      await followStatus(fal, model.endpointId, {
        requestId,
        pollIntervalMs: this.#options.pollIntervalMs,
        signal,
        logger,
        context,
        onUpdate: (status: QueueStatus) => {
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
      const output = model.output.parse(result.data);
      downloadNotice = setTimeout(() => {
        if (!signal.aborted) progress.push({ phase: 'downloading' });
      }, DOWNLOAD_NOTICE_MS);
      const delivered = await this.#deliverySlots.run(async () => {
        const images = await this.#download(generation, output, signal, context);
        if (images.length === 0) throw new DownloadFailed();
        store.setStatus(generation.id, 'delivering');
        clearTimeout(downloadNotice);
        await progress.stop();
        try {
          const messageId = await target.deliver(generation, images, output.images.length - images.length);
          return { messageId, count: images.length };
        } catch (error) {
          throw new DeliveryFailed(error);
        }
      });
      // fal bills the images it returned, which may be fewer than asked; the member's quota counts those delivered.
      const costUsd = estimateCost(this.#options.prices, generation.modelId, generation.input.resolution, output.images.length);
      store.markDone(generation.id, delivered.messageId, delivered.count, costUsd, this.#now());
      logger.info('generation delivered', { ...context, falRequestId: requestId, images: delivered.count });
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
      // A submit fal may have stored is not retried (../fal/submit.ts); fal may still run and bill it.
      const maybeAtFal = maybeReceivedByFal(error);
      this.#logFailure(failure, error, { ...context, falRequestId: requestId, ...(maybeAtFal && { submitOutcome: 'unknown, not retried' }) });
      const billed =
        maybeAtFal || BILLED_FAILURES.has(failure.kind) || (running && (failure.kind === 'cancelled' || failure.kind === 'timeout'));
      store.markFailed(generation.id, failure.kind === 'cancelled' ? 'cancelled' : 'failed', failure.kind, this.#now(), billed);
      await target.fail(generation, failure).catch((replyError: unknown) => {
        logger.error('could not tell the member their generation failed', { ...context, ...errorContext(replyError) });
      });
    } finally {
      clearTimeout(timer);
      clearTimeout(downloadNotice);
    }
  }

  async #download(
    generation: Generation,
    output: { readonly images: readonly OutputImageFile[] },
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
    if (error instanceof ModelUnavailable || error instanceof ModelGone) return { kind: 'model_unavailable' };
    if (error instanceof DownloadFailed) return { kind: 'download' };
    if (error instanceof DeliveryFailed) return { kind: 'delivery' };
    return classifyFalError(error);
  }

  #logFailure(failure: Failure, error: unknown, context: Record<string, string | number | null>): void {
    const { logger } = this.#options;
    if (error instanceof ModelGone) {
      logger.error('fal no longer serves this model: offer another with IMAGEN_MODELS and IMAGEN_MODEL (see README, Models)', {
        ...context,
        endpoint: error.endpointId,
        detail: describeFalError(error.cause),
      });
      return;
    }
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

/** The generation's model is not in the catalog (a row from a version that had it). */
class ModelUnavailable extends Error {
  override readonly name = 'ModelUnavailable';
}
/** fal answered the submit with 404 / "application not found": it no longer serves this endpoint. */
class ModelGone extends Error {
  override readonly name = 'ModelGone';
  constructor(
    readonly endpointId: string,
    cause: unknown,
  ) {
    super(`fal no longer serves ${endpointId}`, { cause });
  }
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

/**
 * The exact body sent to fal: the member's stored options, re-checked against the model's request schema so only
 * its own fields go out, plus what the server sets: the output format for this destination and the safety
 * tolerance (kept in the input by rows of every version; fal's default "4" for none).
 */
function falInput(model: ImageModel, input: GenerationInput, outputFormat: OutputFormat): Record<string, unknown> {
  const { safety_tolerance: safetyTolerance, ...options } = input;
  return model.request.parse({ ...options, output_format: outputFormat, safety_tolerance: safetyTolerance ?? '4' });
}

/** Two progress states read the same to the member: same phase, and the same place in line where there is one. */
function sameProgress(a: Progress, b: Progress): boolean {
  if (a.phase !== b.phase) return false;
  return !('position' in a && 'position' in b) || a.position === b.position;
}
