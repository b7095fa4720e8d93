import { errorContext, type Logger } from '../logger.js';
import type { JobClaims, Renewal } from '../store/jobClaims.js';
import { fairOrder } from './fairQueue.js';
import { JobStopped } from './failures.js';
import type { RunningJob } from './pipeline.js';

const DAY_MS = 24 * 60 * 60 * 1000;
/** How often waiting members are told their place in line (each reply still edits at most every 2 s). */
const POSITION_REFRESH_MS = 500;
/** The shortest time between two wake-ups this process sends because another's job is due. */
const NUDGE_INTERVAL_MS = 1000;

/** A generation this process is looking after: waiting in the bot's queue, or running. */
export interface Job extends RunningJob {
  state: 'waiting' | 'running';
  readonly done: Promise<void>;
  readonly finish: () => void;
}

export interface SchedulerOptions {
  readonly claims: JobClaims;
  readonly logger: Logger;
  /** Jobs at fal at once across every process on the database; the rest wait in the bot's own fair queue. */
  readonly concurrency: number;
  readonly now: () => number;
  /** Runs one job to its end (the pipeline). */
  readonly run: (job: Job) => Promise<void>;
  /** Ends a waiting job its requester cancelled (it never reached fal). */
  readonly endWaiting: (job: Job) => Promise<void>;
}

/**
 * The bot's own queue in front of fal: at most `concurrency` jobs run at once (in all processes together: the
 * turns are taken in the database, jobClaims.ts); the rest wait, taken in fair order (round-robin across servers,
 * then members) whenever a slot frees, and are told their place in line.
 */
export class Scheduler {
  readonly #options: SchedulerOptions;
  readonly #jobs = new Map<number, Job>();
  #positionsTimer: NodeJS.Timeout | undefined;
  #stopping = false;
  #pumping = false;
  #pumpAgain = false;
  #lastNudge = Number.NEGATIVE_INFINITY;

  constructor(options: SchedulerOptions) {
    this.#options = options;
  }

  /** The ids of the jobs this process holds now (waiting or running). */
  ids(): number[] {
    return [...this.#jobs.keys()];
  }

  get stopping(): boolean {
    return this.#stopping;
  }

  has(id: number): boolean {
    return this.#jobs.has(id);
  }

  /** Takes a job: a waiting one joins the queue, one already on its way (resumed) runs at once. */
  add(job: Job): Promise<void> {
    const existing = this.#jobs.get(job.generation.id);
    if (existing) return existing.done;
    this.#jobs.set(job.generation.id, job);
    if (job.generation.status === 'waiting') this.pump();
    else this.#runJob(job);
    return job.done;
  }

  /**
   * Stops a job for its requester: a waiting one leaves the queue, a running one is cancelled at fal.
   * Returns false when the job is not in this process's hands (already finished).
   */
  cancel(id: number): boolean {
    const job = this.#jobs.get(id);
    if (!job) return false;
    job.controller.abort(new JobStopped('cancelled'));
    if (job.state === 'waiting') {
      this.#jobs.delete(id);
      void this.#options.endWaiting(job).finally(() => {
        job.finish();
        this.pump();
      });
    }
    return true;
  }

  /** How many jobs wait in the bot's queue and how many run, for the metrics (no database read). */
  counts(): { waiting: number; running: number } {
    let running = 0;
    for (const job of this.#jobs.values()) if (job.state === 'running') running += 1;
    return { waiting: this.#jobs.size - running, running };
  }

  /** Every waiting job's place in the bot's queue (1 = next, across all processes), worked out once. */
  async positionsInLine(): Promise<Map<number, number>> {
    return new Map((await this.#waitingOrder()).map((job, index) => [job.id, index + 1]));
  }

  /**
   * What another process (or a stall) changed, found at a lease renewal: cancels asked from elsewhere are carried
   * out, and a job this process no longer holds (another adopted it) is stopped here, its row left to its new
   * holder. Then free slots are filled again (another process may have freed one).
   */
  renewed(renewal: Renewal, working: readonly number[]): void {
    for (const id of renewal.cancelRequested) this.cancel(id);
    // Only the jobs asked about: one admitted while the renewal was on its way is this process's all the same.
    for (const id of working) {
      const job = this.#jobs.get(id);
      if (job && !renewal.held.has(id) && !job.controller.signal.aborted) {
        this.#options.logger.warn('another process took this job over; stopping it here', { generation: id });
        job.controller.abort(new JobStopped('shutdown'));
        if (job.state === 'waiting') {
          this.#jobs.delete(id);
          void job.progress.stop().then(job.finish);
        }
      }
    }
    this.pump();
  }

  /** Resolves when every job this process holds now has ended. */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.#jobs.values()].map((job) => job.done));
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
   * Fills free fal slots from the fair queue, one pass at a time (a request during a pass runs one more after
   * it). The turns are taken in the database; telling waiting members their place in line is batched (at most
   * every {@link POSITION_REFRESH_MS}), so a burst of requests costs one ordering per refresh, not one per request.
   */
  pump(): void {
    if (this.#stopping) return;
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = true;
    this.#pumpOnce()
      .catch((error: unknown) => {
        // The next freed slot or lease renewal tries again.
        this.#options.logger.error('could not take the next jobs from the queue', errorContext(error));
      })
      .finally(() => {
        this.#pumping = false;
        if (this.#pumpAgain) {
          this.#pumpAgain = false;
          this.pump();
        }
      });
  }

  async #pumpOnce(): Promise<void> {
    const { claims, concurrency, now } = this.#options;
    const waiting = new Set<number>();
    for (const [id, job] of this.#jobs) if (job.state === 'waiting') waiting.add(id);
    if (waiting.size === 0) return;
    const { claimed: turns, othersDue } = await claims.claimTurns(
      waiting,
      concurrency,
      fairOrder,
      now(),
      now() - DAY_MS,
    );
    // A free slot is another process's turn: wake it now rather than at its next renewal. At most once a second,
    // so processes that keep finding each other's jobs due cannot wake each other in a loop.
    if (othersDue && now() - this.#lastNudge >= NUDGE_INTERVAL_MS) {
      this.#lastNudge = now();
      claims.notify().catch((error: unknown) => {
        this.#options.logger.warn('could not wake the other processes', errorContext(error));
      });
    }
    // Shutting down while the turns were taken: they go back in line for whoever takes them over.
    if (this.#stopping) {
      await claims.returnTurns(turns);
      return;
    }
    for (const id of turns) {
      const job = this.#jobs.get(id);
      // Cancelled while its turn was being taken: the cancel settles its row.
      if (job?.state === 'waiting') this.#runJob(job);
    }
    if (waiting.size > turns.length) this.#schedulePositions();
  }

  #schedulePositions(): void {
    if (this.#positionsTimer) return;
    this.#positionsTimer = setTimeout(() => {
      this.#positionsTimer = undefined;
      if (this.#stopping) return;
      this.#waitingOrder()
        .then((order) => {
          let position = 0;
          for (const next of order) {
            position += 1;
            const job = this.#jobs.get(next.id);
            if (job?.state === 'waiting') job.progress.push({ phase: 'waiting', position });
          }
        })
        .catch((error: unknown) => {
          this.#options.logger.warn('could not work out places in line', errorContext(error));
        });
    }, POSITION_REFRESH_MS);
  }

  /** Every live waiting job of every process, in the order they go to fal. */
  #waitingOrder() {
    const { claims, now } = this.#options;
    return claims.waitingInOrder(fairOrder, now(), now() - DAY_MS);
  }

  #runJob(job: Job): void {
    job.state = 'running';
    const { logger } = this.#options;
    void this.#options
      .run(job)
      .catch((error: unknown) => {
        // Its ending could not be saved (the database failed): the row keeps its last state, its lease runs out
        // (renewals cover only jobs this process works) and it is taken over and resumed.
        logger.error('a job ended without its row being saved; it will be taken over and resumed', {
          generation: job.generation.id,
          ...errorContext(error),
        });
      })
      .finally(() => {
        this.#jobs.delete(job.generation.id);
        job.finish();
        this.pump();
        // A fal slot is free: a process whose job is next takes it.
        this.#options.claims.notify().catch((error: unknown) => {
          this.#options.logger.warn('could not wake the other processes', errorContext(error));
        });
      });
  }
}
