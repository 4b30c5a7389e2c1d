/**
 * The client's side of a proxied request: whether it left, watched only
 * when that is worth its cost.
 */

/** How long {@linkcode ClientLink.left} waits for Deno to report a client that left. */
export const CLIENT_LEFT_WAIT_MS = 50;

/**
 * The client's connection, as far as the proxy needs it: a client that left
 * aborts the current upstream attempt. Reading `Request.signal` of
 * `Deno.serve` starts an async operation per request that costs about a tenth
 * of a bare proxy's CPU time, so it is read only for calls that outlive
 * CLIENT_WATCH_AFTER_MS (the deadline watcher calls `watch`), for downloads
 * passed through, and after a failed read. Deno reports a client that left
 * before the signal was read as soon as it is.
 */
export class ClientLink {
  /** True once the client left (as far as it was watched). */
  gone = false;
  #req: Request;
  #controller: AbortController | null = null;
  #watching = false;

  constructor(req: Request) {
    this.#req = req;
  }

  /** The attempt whose upstream call the client's leaving aborts. */
  attach(controller: AbortController): void {
    this.#controller = controller;
    if (this.gone) controller.abort(this.#req.signal.reason);
  }

  /** Starts watching the client (once); bound, for the deadline watcher. */
  watch = (): void => {
    if (this.#watching) return;
    this.#watching = true;
    const signal = this.#req.signal;
    const left = () => {
      this.gone = true;
      this.#controller?.abort(signal.reason);
    };
    if (signal.aborted) left();
    else signal.addEventListener("abort", left, { once: true });
  };

  /** After a failed read: whether the client left (waits briefly to know). */
  left(): Promise<boolean> {
    this.watch();
    if (this.gone) return Promise.resolve(true);
    const signal = this.#req.signal;
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve(this.gone || signal.aborted);
      };
      const timer = setTimeout(done, CLIENT_LEFT_WAIT_MS);
      signal.addEventListener("abort", done, { once: true });
    });
  }
}
