import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * What the generation services report, as they report it. A port, so generation/ never sees prom-client, and
 * optional there: an install without METRICS_PORT passes none and nothing is measured.
 */
export interface GenerationMetrics {
  /** A job ended: `outcome` is `done` or the failure kind; `spendUsd` is what stays counted against the budgets. */
  jobEnded(model: string, action: string, outcome: string, spendUsd: number): void;
  /** The clock of one job at fal: submit -> IN_PROGRESS (queue wait), IN_PROGRESS -> COMPLETED (run time). */
  falClock(model: string, now: () => number): FalClock;
}

/** One job's timing at fal; each step is reported once, and a step whose start this process did not see is skipped. */
export interface FalClock {
  submitted(): void;
  status(status: string): void;
}

/** Discord's REST clients, as bot.ts names them: the bot's own, and the one for interaction webhooks. */
export type RestClientName = 'bot' | 'interaction';

/** Read at each scrape: how many jobs wait in the bot's own queue and how many are at fal. */
export type QueueCounts = () => { readonly waiting: number; readonly running: number };

/** Seconds: fal's queue is usually empty (sub-second) and a busy one takes minutes; jobs run from ~2 s to minutes. */
const FAL_BUCKETS = [0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600];
/** Discord wants an interaction acknowledged within 3 s; the buckets are dense below that. */
const ACK_BUCKETS = [0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 2.5, 3, 5];
const RATE_LIMIT_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60];

/** Discord's callback types (https://discord.com/developers/docs/interactions/receiving-and-responding). */
const RESPONSE_TYPES: Readonly<Record<number, string>> = {
  4: 'reply',
  5: 'deferred_reply',
  6: 'deferred_update',
  7: 'update',
  9: 'modal',
};

/**
 * The bot's Prometheus metrics, on a registry of its own (never prom-client's global one), so tests and several
 * bots in one process do not collide. Labels are model ids, actions, outcomes, REST client names and response
 * kinds: a handful of values each; never a user, server or channel id, never a token.
 */
export class BotMetrics implements GenerationMetrics {
  readonly registry = new Registry();
  readonly #jobs: Counter<'model' | 'action' | 'outcome'>;
  readonly #spend: Counter<'model'>;
  readonly #falQueueWait: Histogram<'model'>;
  readonly #falRun: Histogram<'model'>;
  readonly #ack: Histogram<'response'>;
  readonly #ackFailures: Counter<'status'>;
  readonly #rateLimitWait: Histogram<'client' | 'global'>;

  constructor(options: { queue: QueueCounts; defaultMetrics?: boolean }) {
    const registers = [this.registry];
    this.#jobs = new Counter({
      name: 'imagen_jobs_total',
      help: 'Jobs ended, by model, action and outcome (done, or the failure kind)',
      labelNames: ['model', 'action', 'outcome'],
      registers,
    });
    this.#spend = new Counter({
      name: 'imagen_spend_usd_total',
      help: "Estimated spend at fal in US dollars, by model: what the bot's budgets count",
      labelNames: ['model'],
      registers,
    });
    const { queue } = options;
    new Gauge({
      name: 'imagen_queue_jobs',
      help: "Jobs this process holds: waiting in the bot's own queue, or running at fal",
      labelNames: ['state'],
      registers,
      collect() {
        const counts = queue();
        this.set({ state: 'waiting' }, counts.waiting);
        this.set({ state: 'running' }, counts.running);
      },
    });
    this.#falQueueWait = new Histogram({
      name: 'imagen_fal_queue_wait_seconds',
      help: "Time in fal's queue, from submit to IN_PROGRESS, by model",
      labelNames: ['model'],
      buckets: FAL_BUCKETS,
      registers,
    });
    this.#falRun = new Histogram({
      name: 'imagen_fal_run_seconds',
      help: 'Time fal ran a job, from IN_PROGRESS to COMPLETED, by model',
      labelNames: ['model'],
      buckets: FAL_BUCKETS,
      registers,
    });
    this.#ack = new Histogram({
      name: 'imagen_interaction_ack_seconds',
      help: 'From an interaction created (its snowflake) to Discord confirming our first response, by response type',
      labelNames: ['response'],
      buckets: ACK_BUCKETS,
      registers,
    });
    this.#ackFailures = new Counter({
      name: 'imagen_interaction_ack_failures_total',
      help: 'First responses Discord refused (404: the interaction expired before we answered), by HTTP status',
      labelNames: ['status'],
      registers,
    });
    this.#rateLimitWait = new Histogram({
      name: 'imagen_discord_rate_limit_wait_seconds',
      help: 'Waits imposed by Discord rate limits, by REST client and whether the limit was global',
      labelNames: ['client', 'global'],
      buckets: RATE_LIMIT_BUCKETS,
      registers,
    });
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  jobEnded(model: string, action: string, outcome: string, spendUsd: number): void {
    this.#jobs.inc({ model, action, outcome });
    // Touching the series makes it appear at 0, so a model that never spent shows up too.
    this.#spend.inc({ model }, Math.max(0, spendUsd));
  }

  falClock(model: string, now: () => number): FalClock {
    let submittedAt: number | undefined;
    let startedAt: number | undefined;
    let completed = false;
    return {
      submitted: () => {
        submittedAt = now();
      },
      status: (status) => {
        if (status === 'IN_PROGRESS' && startedAt === undefined) {
          startedAt = now();
          if (submittedAt !== undefined) this.#falQueueWait.observe({ model }, (startedAt - submittedAt) / 1000);
        } else if (status === 'COMPLETED' && !completed) {
          completed = true;
          if (startedAt !== undefined) this.#falRun.observe({ model }, (now() - startedAt) / 1000);
        }
      },
    };
  }

  /**
   * Discord answered the first response to an interaction (`POST /interactions/{id}/{token}/callback`). The
   * interaction's creation time is in its id (a snowflake), so every kind of acknowledgement (defer, reply,
   * modal, update) is measured in one place, whichever command sent it.
   */
  interactionAcknowledged(createdAt: number, at: number, responseType: unknown, status: number): void {
    if (status >= 200 && status < 300) {
      const response = (typeof responseType === 'number' && RESPONSE_TYPES[responseType]) || 'other';
      this.#ack.observe({ response }, Math.max(0, at - createdAt) / 1000);
    } else {
      this.#ackFailures.inc({ status: String(status) });
    }
  }

  /** discord.js waits `retryAfterMs` before sending a request, because of a rate limit (RESTEvents.RateLimited). */
  rateLimited(client: RestClientName, global: boolean, retryAfterMs: number): void {
    this.#rateLimitWait.observe({ client, global: String(global) }, Math.max(0, retryAfterMs) / 1000);
  }
}
