/**
 * A point-in-time reading of the shared metrics for the dashboard's
 * overview (overview.ts): totals summed over routes and credentials, read
 * with `Atomics.load` off the request path. Two readings a few seconds
 * apart give rates and latency percentiles of that interval.
 *
 * @module
 */
import {
  CREDENTIAL_SLOTS,
  DURATION_BASE,
  DURATION_BOUNDS_MS,
  DURATION_STRIDE,
  IN_FLIGHT,
  REQUESTS_BASE,
  REQUESTS_ROW,
  ROUTES,
  STATUS_CLASSES,
  TOKEN_CELLS,
  TOKEN_DIRECTIONS,
  TOKENS_BASE,
  TTFT_BASE,
  TTFT_BOUNDS_MS,
  TTFT_STRIDE,
} from "./metrics_layout.ts";

/** Cumulative counters at one moment. */
export interface MetricsSnapshot {
  /** Finished requests, all routes and credentials. */
  requests: number;
  /** Of those, answered 4xx or 5xx, or with no HTTP status. */
  errors: number;
  /** Finished requests per credential slot (index in secrets.json; the last slot: none). */
  byCredential: number[];
  /** Duration histogram bucket counts (not cumulative), the last one +Inf. */
  duration: number[];
  /** Time-to-first-token histogram bucket counts, the last one +Inf. */
  ttft: number[];
  /** Tokens in plus out. */
  tokens: number;
  /** Requests in flight now. */
  inFlight: number;
}

const ERROR_CLASSES = ["4xx", "5xx", "error"].map((c) =>
  (STATUS_CLASSES as readonly string[]).indexOf(c)
);

/** Reads the counters of `big` and `int` (a Metrics region's views). */
export function readSnapshot(
  big: BigInt64Array,
  int: Int32Array,
): MetricsSnapshot {
  let requests = 0;
  let errors = 0;
  const byCredential = new Array<number>(CREDENTIAL_SLOTS).fill(0);
  for (let c = 0; c < CREDENTIAL_SLOTS; c++) {
    const row = REQUESTS_BASE + c * REQUESTS_ROW;
    let sum = 0;
    for (let r = 0; r < ROUTES.length; r++) {
      const base = row + r * STATUS_CLASSES.length;
      for (let s = 0; s < STATUS_CLASSES.length; s++) {
        const n = Number(Atomics.load(big, base + s));
        sum += n;
        if (ERROR_CLASSES.includes(s)) errors += n;
      }
    }
    byCredential[c] = sum;
    requests += sum;
  }
  let tokens = 0;
  for (let cell = 0; cell < TOKEN_CELLS; cell++) {
    const base = TOKENS_BASE + cell * TOKEN_DIRECTIONS.length;
    tokens += Number(Atomics.load(big, base)) +
      Number(Atomics.load(big, base + 1));
  }
  return {
    requests,
    errors,
    byCredential,
    duration: histogram(
      big,
      DURATION_BASE,
      DURATION_STRIDE,
      DURATION_BOUNDS_MS,
    ),
    ttft: histogram(big, TTFT_BASE, TTFT_STRIDE, TTFT_BOUNDS_MS),
    tokens,
    inFlight: Math.max(0, Atomics.load(int, IN_FLIGHT)),
  };
}

function histogram(
  big: BigInt64Array,
  base: number,
  stride: number,
  bounds: readonly number[],
): number[] {
  const out = new Array<number>(bounds.length + 1).fill(0);
  for (let r = 0; r < ROUTES.length; r++) {
    for (let b = 0; b <= bounds.length; b++) {
      out[b] += Number(Atomics.load(big, base + r * stride + b));
    }
  }
  return out;
}

/**
 * The `q` quantile (0..1) of a histogram's bucket counts, linearly
 * interpolated within its bucket (as Prometheus' `histogram_quantile`);
 * null when the histogram is empty. The +Inf bucket answers its lower bound.
 */
export function quantile(
  counts: readonly number[],
  bounds: readonly number[],
  q: number,
): number | null {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let b = 0; b < counts.length; b++) {
    if (counts[b] === 0) continue;
    if (seen + counts[b] >= rank) {
      const lower = b === 0 ? 0 : bounds[b - 1];
      if (b >= bounds.length) return lower;
      const upper = bounds[b];
      return lower + (upper - lower) * ((rank - seen) / counts[b]);
    }
    seen += counts[b];
  }
  return bounds[bounds.length - 1];
}

export { DURATION_BOUNDS_MS, TTFT_BOUNDS_MS };
