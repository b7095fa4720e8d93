/**
 * Starts queued async tasks one per event-loop turn, in order. Starting a REST call runs a long chain of
 * promise callbacks (discord.js's queues, undici's request set-up) before it first waits on the network, and
 * promise callbacks all run before the loop reads the socket again: 200 progress edits started together hold
 * back the acknowledgement of every interaction that arrives meanwhile. Paced, the loop reads its sockets
 * between two starts. Tasks still run concurrently once started.
 */
export class LoopPacer {
  readonly #queue: Array<() => void> = [];
  #scheduled = false;

  run<T>(task: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push(() => {
        task().then(resolve, reject);
      });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled || this.#queue.length === 0) return;
    this.#scheduled = true;
    // An immediate queued from an immediate runs in the next turn, after the loop has polled for I/O.
    setImmediate(() => {
      this.#scheduled = false;
      this.#queue.shift()?.();
      this.#schedule();
    });
  }
}
