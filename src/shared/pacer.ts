/**
 * Starts queued async tasks one per event-loop turn. Starting an HTTP request runs a long chain of promise
 * callbacks (discord.js's queues, undici's request set-up, fetch's streams) before it first waits on the
 * network, and promise callbacks all run before the loop reads its sockets again: 200 progress edits or 40 fal
 * submissions started together hold back the acknowledgement of every interaction that arrives meanwhile.
 * Paced, the loop reads its sockets between two starts. Tasks still run concurrently once started.
 *
 * Two lanes: `urgent` tasks (a finished job's result) start before any waiting `routine` one (progress), each
 * lane in order, so a result never waits behind the progress edits of a busy queue.
 */
export class LoopPacer {
  readonly #lanes = { urgent: [] as Array<() => void>, routine: [] as Array<() => void> };
  #scheduled = false;

  /**
   * `signal`: aborted before the task's turn comes, the task leaves the queue at once, never starts, and the
   * call rejects with the signal's reason.
   */
  run<T>(task: () => Promise<T>, lane: 'urgent' | 'routine' = 'routine', signal?: AbortSignal): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (signal?.aborted) {
        reject(abortReason(signal));
        return;
      }
      const queue = this.#lanes[lane];
      const onAbort = () => {
        const index = queue.indexOf(start);
        if (index >= 0) queue.splice(index, 1);
        if (signal) reject(abortReason(signal));
      };
      const start = () => {
        signal?.removeEventListener('abort', onAbort);
        // A task that throws before returning its promise rejects like one that fails later.
        Promise.resolve().then(task).then(resolve, reject);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      queue.push(start);
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled || (this.#lanes.urgent.length === 0 && this.#lanes.routine.length === 0)) return;
    this.#scheduled = true;
    // An immediate queued from an immediate runs in the next turn, after the loop has polled for I/O.
    setImmediate(() => {
      this.#scheduled = false;
      (this.#lanes.urgent.shift() ?? this.#lanes.routine.shift())?.();
      this.#schedule();
    });
  }
}

/** The reason a signal was aborted with (an Error: `abort()` with none gives a DOMException, which is one). */
function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new DOMException('This operation was aborted', 'AbortError');
}
