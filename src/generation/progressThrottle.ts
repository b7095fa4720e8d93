/**
 * Sends the latest of a stream of values at most once per interval: the first at once, later ones once the
 * interval has passed since the previous send *finished* (only the newest waiting value is kept). Counting from
 * the end of the previous send means a request that sat in discord.js's REST queue cannot arrive at Discord
 * right before the next one. Discord rate-limits message edits at about one per 1-2 s per channel, so a job's
 * progress must never be edited on every poll.
 */
export class ProgressThrottle<T> {
  readonly #intervalMs: number;
  readonly #send: (value: T, signal: AbortSignal) => Promise<void>;
  readonly #same: (a: T, b: T) => boolean;
  #last: T | undefined;
  #pending: T | undefined;
  #lastSentAt = Number.NEGATIVE_INFINITY;
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<void> | undefined;
  #inFlightController: AbortController | undefined;
  #stopped = false;

  /**
   * `send` gets a signal that {@link stop} aborts: a send that has not really started by then (e.g. still waiting
   * its turn to reach Discord) should be dropped, so the final message does not wait for a stale progress edit.
   */
  constructor(
    intervalMs: number,
    send: (value: T, signal: AbortSignal) => Promise<void>,
    same: (a: T, b: T) => boolean,
  ) {
    this.#intervalMs = intervalMs;
    this.#send = send;
    this.#same = same;
  }

  push(value: T): void {
    if (this.#stopped) return;
    const newest = this.#pending ?? this.#last;
    if (newest !== undefined && this.#same(newest, value)) return;
    this.#pending = value;
    this.#schedule();
  }

  /** Drops anything not yet sent and waits for a send in flight, so a final message can follow safely. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#pending = undefined;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#inFlightController?.abort();
    await this.#inFlight;
  }

  #schedule(): void {
    if (this.#inFlight || this.#timer || this.#pending === undefined) return;
    const wait = this.#lastSentAt + this.#intervalMs - Date.now();
    if (wait > 0) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#flush();
      }, wait);
    } else {
      this.#flush();
    }
  }

  #flush(): void {
    const value = this.#pending;
    if (value === undefined || this.#stopped) return;
    this.#pending = undefined;
    this.#last = value;
    const controller = new AbortController();
    this.#inFlightController = controller;
    this.#inFlight = this.#send(value, controller.signal).finally(() => {
      this.#lastSentAt = Date.now();
      this.#inFlight = undefined;
      this.#inFlightController = undefined;
      this.#schedule();
    });
  }
}
