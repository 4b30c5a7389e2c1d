/**
 * Deadlines of upstream calls, watched by one timer per thread instead of a
 * timer per request: time to headers, silence between body chunks, and a
 * TCP check when an answer is slow, so a dead host fails fast while a long
 * generation is never cut.
 */
import { benchOff } from "../base/bench_switches.ts";

/** Why a deadline aborted an upstream call. */
export type DeadlineReason = "headers" | "idle" | "connect";

/** One watched upstream call. */
export interface Watch {
  /** Call when headers arrived: the idle deadline takes over. */
  headersReceived(): void;
  /** Call on every body chunk. */
  touch(): void;
  /**
   * Call when a chunk arrived and the next is not asked for yet: the idle
   * deadline stops until {@linkcode pull}. A reader that waits for its
   * client this way is not taken for a silent upstream.
   */
  pause(): void;
  /** Call when the next chunk is asked for: the idle deadline runs from now. */
  pull(): void;
  /** Stop watching (the call ended). */
  done(): void;
  /** Set once a deadline fired. */
  readonly expired: DeadlineReason | null;
}

/** `FLOW_PROXY_BENCH_OFF=deadline` (bench/README.md): no call is watched. */
const DEADLINES_OFF = benchOff("deadline");

/** The watch of every call when deadlines are switched off for a benchmark. */
const UNWATCHED: Watch = {
  headersReceived() {},
  touch() {},
  pause() {},
  pull() {},
  done() {},
  expired: null,
};

/**
 * How long a call runs before its client's connection is watched. Watching
 * (`Request.signal` of `Deno.serve`) costs an async operation per request,
 * about a tenth of a bare proxy's CPU time; most calls end before this.
 */
export const CLIENT_WATCH_AFTER_MS = 100;

/** Options of {@linkcode DeadlineWatcher}. */
export interface DeadlineOptions {
  connectTimeout: number;
  headersTimeout: number;
  idleTimeout: number;
  /** Checks that the upstream accepts a TCP connection within `connectTimeout`. */
  connectCheck?: (signal: AbortSignal) => Promise<boolean>;
  /** Monotonic clock in ms; injectable for tests. */
  now?: () => number;
}

/** One watched call; a class, so a request allocates one object, not closures. */
class Entry implements Watch {
  start: number;
  last: number;
  headers = false;
  /** Whether the idle deadline runs: false between pause() and pull(). */
  waiting = true;
  checking = false;
  expired: DeadlineReason | null = null;
  abort: (reason: DeadlineReason) => void;
  /** Called once when the call has run for {@linkcode CLIENT_WATCH_AFTER_MS}. */
  slow: (() => void) | null;
  #watcher: DeadlineWatcher;

  constructor(
    watcher: DeadlineWatcher,
    now: number,
    abort: (reason: DeadlineReason) => void,
    slow: (() => void) | null,
  ) {
    this.#watcher = watcher;
    this.start = now;
    this.last = now;
    this.abort = abort;
    this.slow = slow;
  }

  headersReceived(): void {
    this.headers = true;
    this.last = this.#watcher.now();
  }

  pull(): void {
    this.waiting = true;
    this.last = this.#watcher.now();
  }

  touch(): void {
    this.last = this.#watcher.now();
  }

  pause(): void {
    this.waiting = false;
    this.last = this.#watcher.now();
  }

  done(): void {
    this.#watcher.forget(this);
  }
}

/** Watches the deadlines of every upstream call of this thread. */
export class DeadlineWatcher {
  #entries = new Set<Entry>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #interval: number;
  #options: DeadlineOptions;
  #now: () => number;

  constructor(options: DeadlineOptions) {
    for (
      const key of ["connectTimeout", "headersTimeout", "idleTimeout"] as const
    ) {
      if (!(options[key] > 0)) throw new RangeError(`${key} must be positive`);
    }
    this.#options = options;
    this.#now = options.now ?? performance.now.bind(performance);
    const shortest = Math.min(
      options.connectTimeout,
      options.headersTimeout,
      options.idleTimeout,
    );
    // At most every CLIENT_WATCH_AFTER_MS, so a client that left is noticed
    // within about twice that.
    this.#interval = Math.min(
      CLIENT_WATCH_AFTER_MS,
      Math.max(20, Math.floor(shortest / 5)),
    );
  }

  /** Calls being watched (for leak checks). */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Starts watching one call; `abort` is called at most once, with the
   * reason, and `slow` once the call has run for CLIENT_WATCH_AFTER_MS.
   */
  watch(
    abort: (reason: DeadlineReason) => void,
    slow: (() => void) | null = null,
  ): Watch {
    if (DEADLINES_OFF) return UNWATCHED;
    const now = this.#now();
    const entry = new Entry(this, now, abort, slow);
    this.#entries.add(entry);
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.sweep(), this.#interval);
      Deno.unrefTimer(this.#timer as unknown as number);
    }
    return entry;
  }

  /** The clock, for entries. */
  now(): number {
    return this.#now();
  }

  /** Forgets one call (its `done()`). */
  forget(entry: Entry): void {
    // The timer stops at the next sweep that finds nothing to watch, not
    // here: one request at a time would otherwise set and clear an interval
    // per request.
    this.#entries.delete(entry);
  }

  /** Checks every deadline now (the timer calls this; tests may too). */
  sweep(): void {
    if (this.#entries.size === 0) return this.#stop();
    const now = this.#now();
    const { connectTimeout, headersTimeout, idleTimeout, connectCheck } =
      this.#options;
    for (const entry of this.#entries) {
      if (entry.slow !== null && now - entry.start >= CLIENT_WATCH_AFTER_MS) {
        const slow = entry.slow;
        entry.slow = null;
        slow();
      }
      if (entry.headers) {
        if (entry.waiting && now - entry.last >= idleTimeout) {
          this.#expire(entry, "idle");
        }
      } else if (now - entry.start >= headersTimeout) {
        this.#expire(entry, "headers");
      } else if (
        connectCheck && !entry.checking && now - entry.start >= connectTimeout
      ) {
        entry.checking = true;
        this.#check(entry, connectCheck, connectTimeout);
      }
    }
  }

  async #check(
    entry: Entry,
    check: (signal: AbortSignal) => Promise<boolean>,
    timeout: number,
  ) {
    let reachable = false;
    try {
      reachable = await check(AbortSignal.timeout(timeout));
    } catch {
      reachable = false;
    }
    if (!reachable && !entry.headers && this.#entries.has(entry)) {
      this.#expire(entry, "connect");
    }
  }

  #expire(entry: Entry, reason: DeadlineReason): void {
    if (entry.expired !== null) return;
    entry.expired = reason;
    this.#entries.delete(entry);
    if (this.#entries.size === 0) this.#stop();
    entry.abort(reason);
  }

  #stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Stops the timer and forgets every call. */
  close(): void {
    this.#entries.clear();
    this.#stop();
  }
}

/** A connect check that opens (and closes) a TCP connection to the upstream. */
export function tcpConnectCheck(
  upstream: URL,
): (signal: AbortSignal) => Promise<boolean> {
  const hostname = upstream.hostname.replace(/^\[|\]$/g, "");
  const port = Number(
    upstream.port || (upstream.protocol === "https:" ? 443 : 80),
  );
  return async function tcpConnectCheck(signal: AbortSignal): Promise<boolean> {
    const connecting = Deno.connect({ hostname, port });
    const aborted = new Promise<null>((resolve) => {
      if (signal.aborted) resolve(null);
      signal.addEventListener("abort", () => resolve(null), { once: true });
    });
    const conn = await Promise.race([connecting, aborted]).catch(() => null);
    if (conn === null) {
      connecting.then((c) => c.close(), () => {});
      return false;
    }
    conn.close();
    return true;
  };
}
