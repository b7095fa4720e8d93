import type { FalClient } from '@fal-ai/client';
import type { DefaultLimits } from '../config.js';
import { checkLimits, utcDayStart, type Refusal } from '../limits/admission.js';
import { estimateCost, type PriceTable } from '../limits/pricing.js';
import { errorContext, type Logger } from '../logger.js';
import type { GenerationMetrics } from '../metrics/botMetrics.js';
import { Semaphore } from '../shared/semaphore.js';
import type { Generation, GenerationStore } from '../store/generations.js';
import type { JobClaims } from '../store/jobClaims.js';
import type { DownloadLimits } from './downloads.js';
import { runGeneration, type PipelineOptions } from './pipeline.js';
import { ProgressThrottle } from './progressThrottle.js';
import { Scheduler, type Job } from './scheduler.js';
import { sameProgress, type GenerationRequest, type ImageLocator, type Progress, type ReplyTarget } from './types.js';

export type { Failure, GenerationRequest, ImageLocator, Progress, ReplyTarget } from './types.js';

export interface GenerationServiceOptions {
  readonly store: GenerationStore;
  /** Which process works which job, and the shared queue's turns (the database's side of the scheduler). */
  readonly claims: JobClaims;
  readonly fal: FalClient;
  readonly logger: Logger;
  /** Where every job's progress and result go. */
  readonly target: ReplyTarget;
  /** Where the images an action starts from can be fetched by fal now. */
  readonly images: ImageLocator;
  readonly pollIntervalMs: number;
  readonly jobTimeoutMs: number;
  readonly download: DownloadLimits;
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
  /** Where jobs' outcomes, spend and fal timings are reported (METRICS_PORT); none: nothing is measured. */
  readonly metrics?: GenerationMetrics | undefined;
}

const DEFAULT_DELIVERY_CONCURRENCY = 2;
/** How often, at most, this process renews its leases and looks for jobs a dead process left. */
const HEARTBEAT_MS = 5000;

/**
 * What commands talk to: admits a member's request against every limit (saving it in the same transaction),
 * hands saved jobs to the fair queue ({@link Scheduler}) that runs them through fal ({@link runGeneration}),
 * cancels, resumes what a previous process left, and drains on shutdown. The job rows belong to it: commands
 * change them only through these methods.
 */
export class GenerationService {
  readonly #options: GenerationServiceOptions;
  readonly #now: () => number;
  readonly #scheduler: Scheduler;
  readonly #deliverySlots: Semaphore;
  #heartbeat: NodeJS.Timeout | undefined;
  #ticking: Promise<void> | undefined;
  #tickAgain = false;
  /** Set once drained: this process holds nothing any more, and renews nothing. */
  #released = false;

  constructor(options: GenerationServiceOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#deliverySlots = new Semaphore(options.deliveryConcurrency ?? DEFAULT_DELIVERY_CONCURRENCY);
    const pipeline: PipelineOptions = {
      store: options.store,
      fal: options.fal,
      logger: options.logger,
      target: options.target,
      images: options.images,
      pollIntervalMs: options.pollIntervalMs,
      jobTimeoutMs: options.jobTimeoutMs,
      download: options.download,
      prices: options.prices,
      deliverySlots: this.#deliverySlots,
      now: this.#now,
      metrics: options.metrics,
    };
    this.#scheduler = new Scheduler({
      claims: options.claims,
      logger: options.logger,
      concurrency: options.concurrency,
      now: this.#now,
      run: (job) => runGeneration(job, pipeline),
      endWaiting: (job) => this.#endWaiting(job),
    });
  }

  /**
   * Saves a new generation if the member's, the server's and the bot's limits allow it; nothing is sent to fal
   * until {@link start}. A refused request is not saved and costs nothing.
   */
  admit(
    request: GenerationRequest,
    limits: DefaultLimits,
  ): Promise<{ ok: true; generation: Generation } | { ok: false; refusal: Refusal }> {
    const now = this.#now();
    const images = request.input.num_images;
    const costUsd = estimateCost(
      this.#options.prices,
      request.modelId,
      request.input.resolution,
      images,
      request.action,
    );
    const { server, ...fields } = request;
    return this.#options.store.createIfAllowed(
      { ...fields, safetyTolerance: server.safetyTolerance, createdAt: now, quotaImages: images, costUsd },
      utcDayStart(now),
      (usage) => checkLimits(usage, { images, costUsd, now }, limits, this.#options.dailyBudgetUsd),
    );
  }

  /**
   * Takes charge of a saved generation: a waiting one joins the fair queue, one that was already sent on its way
   * (resumed after a restart) continues at once. Returns a promise that settles when the job ends here.
   */
  start(generation: Generation): Promise<void> {
    // Shutting down: the saved row is left as it is, and the next start picks it up.
    if (this.#scheduler.stopping) return Promise.resolve();
    let finish = () => {};
    const done = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const { target, logger } = this.#options;
    const job: Job = {
      generation,
      controller: new AbortController(),
      progress: new ProgressThrottle<Progress>(
        this.#options.progressIntervalMs ?? 2000,
        (value, signal) =>
          target.progress(generation, value, signal).catch((error: unknown) => {
            logger.warn('could not show progress', { generation: generation.id, ...errorContext(error) });
          }),
        sameProgress,
      ),
      state: 'waiting',
      done,
      finish,
    };
    return this.#scheduler.add(job);
  }

  /**
   * Stops a job for its requester: a waiting one leaves the queue, a running one is cancelled at fal. A job
   * another process holds is asked to stop there. Returns false when the job has already finished.
   */
  async cancel(id: number): Promise<boolean> {
    if (this.#scheduler.cancel(id)) return true;
    return this.#options.claims.requestCancel(id);
  }

  /**
   * A job admitted but never started because Discord refused its acknowledgement (e.g. the interaction had
   * expired): it must not run or count against anyone.
   */
  async abandon(id: number): Promise<void> {
    await this.#options.store.markFailed(id, 'cancelled', 'not_acknowledged', this.#now());
    const generation = this.#options.metrics && (await this.#options.store.get(id));
    if (generation) this.#options.metrics?.jobEnded(generation.modelId, generation.action, 'not_acknowledged', 0);
  }

  /** The message showing a result was deleted: forget it (the row stays for history and rerolls). */
  async forgetMessage(id: number, messageId: string): Promise<void> {
    const { store } = this.#options;
    await store.clearMessage(id, messageId);
    // Whichever part it was, its images are gone: an action on them (a reroll of a Vary of them, say) must not
    // hand fal an image a member or moderator removed.
    await store.forgetImagesOf(id, messageId);
  }

  /** How many jobs wait in the bot's queue and how many run at fal (the metrics' queue depth). */
  queueCounts(): { waiting: number; running: number } {
    return this.#scheduler.counts();
  }

  /**
   * Runs work that holds image bytes (e.g. /imagine-show fetching and posting a result again) in the same few
   * slots as deliveries: however many members ask at once, the bot's memory stays bounded.
   */
  withImageSlot<T>(task: () => Promise<T>): Promise<T> {
    return this.#deliverySlots.run(task);
  }

  /** Every waiting job's place in the bot's queue (1 = next, across all processes), worked out once. */
  positionsInLine(): Promise<Map<number, number>> {
    return this.#scheduler.positionsInLine();
  }

  /** Resolves when every job this process holds now has ended. */
  async idle(): Promise<void> {
    await this.#scheduler.idle();
  }

  /**
   * Takes charge of the jobs no live process holds, then keeps this process's claims: every 5 s, or a third of a
   * lease if shorter (and whenever another process wakes it), it renews its leases, carries out cancels asked elsewhere, adopts what a
   * dead process left and fills free fal slots. With SQLite this process adopts every unfinished job at once (a
   * SQLite file has one process); with PostgreSQL, those whose lease ran out. Returns how many it adopted first.
   */
  async run(): Promise<number> {
    const adopted = await this.#adopt(this.#options.claims.solo);
    this.#options.claims.onWake(() => void this.#tick());
    const every = Math.min(HEARTBEAT_MS, this.#options.claims.leaseMs / 3);
    this.#heartbeat = setInterval(() => void this.#tick(), every);
    this.#heartbeat.unref();
    return adopted;
  }

  /**
   * Picks up unfinished generations: waiting ones rejoin the queue, a saved fal request id is followed (status,
   * then result; never a second submit), a job that never reached fal is submitted now.
   */
  async #adopt(all: boolean): Promise<number> {
    const { claims, logger, jobTimeoutMs } = this.#options;
    const { generations, damaged } = await claims.adopt(this.#now(), { all });
    for (const error of damaged) {
      logger.error('an unfinished generation cannot be read from the database; it is left as it is', {
        generation: String(error.id),
        detail: error.problem,
      });
    }
    const resumable = generations.filter(({ generation }) => !this.#scheduler.has(generation.id));
    for (const { generation, cancelRequested } of resumable) {
      // This process's logger has never seen the token: register it before anything can quote it, for as long as
      // the job may still run.
      if (generation.interactionToken !== null) {
        logger.addSecret(
          generation.interactionToken,
          Math.max(0, (generation.tokenExpiresAt ?? 0) - this.#now()) + jobTimeoutMs,
        );
      }
      logger.info('resuming generation', {
        generation: generation.id,
        status: generation.status,
        falRequestId: generation.falRequestId,
      });
      void this.start(generation);
      if (cancelRequested) this.#scheduler.cancel(generation.id);
    }
    return resumable.length;
  }

  /**
   * One round of keeping claims (see {@link run}). Rounds never overlap: a wake-up during a round runs one more
   * after it (what woke it, a freed slot say, may have come after this round looked).
   */
  #tick(): Promise<void> {
    if (this.#released) return Promise.resolve();
    if (this.#ticking) {
      this.#tickAgain = true;
      return this.#ticking;
    }
    this.#ticking = (async () => {
      try {
        const working = this.#scheduler.ids();
        this.#scheduler.renewed(await this.#options.claims.renew(this.#now(), working), working);
        // While draining, the jobs still running keep their leases (and cancels from elsewhere still reach
        // them), but nothing new is taken on.
        if (this.#scheduler.stopping) return;
        const adopted = await this.#adopt(false);
        if (adopted > 0) this.#options.logger.info('took over jobs another process left', { count: adopted });
      } catch (error) {
        this.#options.logger.error('could not renew this process’s jobs', errorContext(error));
      } finally {
        this.#ticking = undefined;
        if (this.#tickAgain) {
          this.#tickAgain = false;
          void this.#tick();
        }
      }
    })();
    return this.#ticking;
  }

  /**
   * For shutdown: sends nothing new to fal, lets running jobs finish for up to `graceMs`, then stops the rest
   * without touching their rows, so the next start resumes them (waiting ones keep their place).
   */
  async drain(graceMs: number): Promise<void> {
    const draining = this.#scheduler.drain(graceMs);
    // The queue's jobs go nowhere from this process now: other processes may take them at once. The running
    // ones keep being renewed (the heartbeat goes on) for as long as they may still finish here.
    await this.#options.claims.release(this.#now(), 'waiting').catch((error: unknown) => {
      this.#options.logger.warn('could not hand the waiting jobs over; their leases will run out', errorContext(error));
    });
    await draining;
    clearInterval(this.#heartbeat);
    this.#released = true;
    await this.#ticking;
    // What is left (waiting, or stopped at fal) is another process's to take over now, or the next start's.
    await this.#options.claims.release(this.#now()).catch((error: unknown) => {
      this.#options.logger.warn(
        'could not release this process’s jobs; their leases will run out',
        errorContext(error),
      );
    });
  }

  /** A waiting job cancelled by its requester: it never reached fal, so it costs nothing. */
  async #endWaiting(job: Job): Promise<void> {
    const { store, logger, target } = this.#options;
    await job.progress.stop();
    await store.markFailed(job.generation.id, 'cancelled', 'cancelled', this.#now());
    this.#options.metrics?.jobEnded(job.generation.modelId, job.generation.action, 'cancelled', 0);
    await target.fail(job.generation, { kind: 'cancelled' }).catch((error: unknown) => {
      logger.error('could not tell the member their generation was cancelled', {
        generation: job.generation.id,
        ...errorContext(error),
      });
    });
  }
}
