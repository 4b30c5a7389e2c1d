/**
 * The dashboard overview's time series: a timer reads the shared metrics
 * (metrics_snapshot.ts) every few seconds and keeps one point per interval —
 * requests/s, error rate, latency and time-to-first-token percentiles,
 * tokens/min, requests in flight. The request path does no extra work: the
 * counters it updates anyway are only read here.
 *
 * The timer starts with the first overview request (a server nobody looks
 * at samples nothing), and is `unref`'d so it never keeps a process alive.
 * Each serving thread that answers an overview has its own sampler over the
 * same shared counters; their readings fall on the same clock ticks.
 *
 * @module
 */
import {
  DURATION_BOUNDS_MS,
  type MetricsSnapshot,
  quantile,
  TTFT_BOUNDS_MS,
} from "./metrics_snapshot.ts";

/** Default sampling interval, ms. */
export const SAMPLE_INTERVAL_MS = 5_000;
/** Longest window kept (and asked for), ms. */
export const MAX_WINDOW_MS = 3_600_000;

/** One interval of the overview. */
export interface OverviewPoint {
  /** End of the interval, epoch ms. */
  tMs: number;
  rps: number;
  /** Errors among the requests that finished in the interval; 0 when none did. */
  errorRate: number;
  p50Ms: number | null;
  p95Ms: number | null;
  ttftP50Ms: number | null;
  ttftP95Ms: number | null;
  tokensPerMin: number;
  inFlight: number;
}

/** Options of {@linkcode OverviewSampler}. */
export interface OverviewSamplerOptions {
  /** Reads the shared metrics now. */
  read: () => MetricsSnapshot;
  /** Sampling interval, ms. Default {@linkcode SAMPLE_INTERVAL_MS}. */
  intervalMs?: number;
  /** Clock, epoch ms; injectable for tests. */
  now?: () => number;
}

/** Samples the shared metrics on a timer; see the module doc. */
export class OverviewSampler {
  #read: () => MetricsSnapshot;
  #now: () => number;
  #intervalMs: number;
  #points: OverviewPoint[] = [];
  #last: { t: number; snapshot: MetricsSnapshot } | null = null;
  #timer: ReturnType<typeof setInterval> | undefined;
  #started = false;

  /** See {@linkcode OverviewSamplerOptions}; nothing runs until {@linkcode start}. */
  constructor(options: OverviewSamplerOptions) {
    this.#read = options.read;
    this.#now = options.now ?? Date.now;
    this.#intervalMs = options.intervalMs ?? SAMPLE_INTERVAL_MS;
    if (!(this.#intervalMs > 0)) {
      throw new RangeError(
        `Invalid sampling interval ${this.#intervalMs}: must be above 0 ms`,
      );
    }
  }

  /** The sampling interval, seconds. */
  get intervalSeconds(): number {
    return this.#intervalMs / 1000;
  }

  /**
   * Starts sampling (once; later calls do nothing) and takes a first
   * reading. Later readings fall on whole multiples of the interval of the
   * clock, so the samplers of different serving threads (each started by
   * its first overview request) give the same points for the same times.
   */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.sample();
    const wait = this.#intervalMs - (this.#now() % this.#intervalMs);
    const first = setTimeout(() => {
      this.sample();
      const timer = setInterval(() => this.sample(), this.#intervalMs);
      Deno.unrefTimer(timer);
      this.#timer = timer;
    }, wait);
    Deno.unrefTimer(first);
    this.#timer = first;
  }

  /** Stops the timer. */
  stop(): void {
    clearTimeout(this.#timer);
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#started = false;
  }

  /** Takes one reading and, after the first, appends the interval's point. */
  sample(): void {
    const t = this.#now();
    const snapshot = this.#read();
    const last = this.#last;
    this.#last = { t, snapshot };
    if (last === null || t <= last.t) return;
    this.#points.push(point(last.snapshot, snapshot, t - last.t, t));
    const oldest = t - MAX_WINDOW_MS;
    let drop = 0;
    while (drop < this.#points.length && this.#points[drop].tMs < oldest) {
      drop++;
    }
    if (drop > 0) this.#points.splice(0, drop);
  }

  /** The points of the last `windowMs`, oldest first. */
  series(windowMs: number): OverviewPoint[] {
    const from = this.#now() - windowMs;
    return this.#points.filter((p) => p.tMs > from);
  }

  /** A reading now, for totals. */
  latest(): MetricsSnapshot {
    return this.#read();
  }
}

function point(
  a: MetricsSnapshot,
  b: MetricsSnapshot,
  dtMs: number,
  t: number,
): OverviewPoint {
  const seconds = dtMs / 1000;
  // A counter never goes back, but a restarted supervisor's new region starts at 0.
  const delta = (x: number, y: number) => Math.max(0, y - x);
  const requests = delta(a.requests, b.requests);
  const errors = delta(a.errors, b.errors);
  const duration = b.duration.map((n, i) => delta(a.duration[i], n));
  const ttft = b.ttft.map((n, i) => delta(a.ttft[i], n));
  return {
    tMs: t,
    rps: requests / seconds,
    errorRate: requests === 0 ? 0 : Math.min(1, errors / requests),
    p50Ms: quantile(duration, DURATION_BOUNDS_MS, 0.5),
    p95Ms: quantile(duration, DURATION_BOUNDS_MS, 0.95),
    ttftP50Ms: quantile(ttft, TTFT_BOUNDS_MS, 0.5),
    ttftP95Ms: quantile(ttft, TTFT_BOUNDS_MS, 0.95),
    tokensPerMin: delta(a.tokens, b.tokens) / seconds * 60,
    inFlight: b.inFlight,
  };
}
