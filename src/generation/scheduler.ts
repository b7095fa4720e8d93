import type { GenerationStore } from '../store/generations.js';
import { fairOrder } from './fairQueue.js';
import { JobStopped } from './failures.js';
import type { RunningJob } from './pipeline.js';

const DAY_MS = 24 * 60 * 60 * 1000;
/** How often waiting members are told their place in line (each reply still edits at most every 2 s). */
const POSITION_REFRESH_MS = 500;

/** A generation this process is looking after: waiting in the bot's queue, or running. */
export interface Job extends RunningJob {
  state: 'waiting' | 'running';
  readonly done: Promise<void>;
  readonly finish: () => void;
}

export interface SchedulerOptions {
  readonly store: GenerationStore;
  /** Jobs at fal at once; the rest wait in the bot's own fair queue. */
  readonly concurrency: number;
  readonly now: () => number;
  /** Runs one job to its end (the pipeline). */
  readonly run: (job: Job) => Promise<void>;
  /** Ends a waiting job its requester cancelled (it never reached fal). */
  readonly endWaiting: (job: Job) => Promise<void>;
}

/**
 * The bot's own queue in front of fal: at most `concurrency` jobs run at once; the rest wait, taken in fair order
 * (round-robin across servers, then members) whenever a slot frees, and are told their place in line.
 */
export class Scheduler {
  readonly #options: SchedulerOptions;
  readonly #jobs = new Map<number, Job>();
  #positionsTimer: NodeJS.Timeout | undefined;
  #stopping = false;

  constructor(options: SchedulerOptions) {
    this.#options = options;
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
    if (job.generation.status === 'waiting') this.#pump();
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
        this.#pump();
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

  /** Every waiting job's place in the bot's queue (1 = next), worked out once. */
  positionsInLine(): Map<number, number> {
    return new Map(this.#waitingOrder().map((job, index) => [job.id, index + 1]));
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
   * Fills free fal slots from the fair queue. The order is worked out only when a slot is free; telling waiting
   * members their place in line is batched (at most every {@link POSITION_REFRESH_MS}), so a burst of requests
   * costs one ordering per refresh rather than one per request.
   */
  #pump(): void {
    if (this.#stopping) return;
    const { store, concurrency, now } = this.#options;
    let running = 0;
    let waiting = 0;
    for (const job of this.#jobs.values()) {
      if (job.state === 'running') running += 1;
      else waiting += 1;
    }
    if (running < concurrency && waiting > 0) {
      for (const next of this.#waitingOrder()) {
        if (running >= concurrency) break;
        const job = this.#jobs.get(next.id);
        if (job && store.markDispatched(next.id, now())) {
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
    const { store, now } = this.#options;
    return fairOrder(
      store.waiting().filter((waiting) => this.#jobs.get(waiting.id)?.state === 'waiting'),
      store.lastDispatches(now() - DAY_MS),
    );
  }

  #runJob(job: Job): void {
    job.state = 'running';
    void this.#options.run(job).finally(() => {
      this.#jobs.delete(job.generation.id);
      job.finish();
      this.#pump();
    });
  }
}
