/**
 * The one SharedArrayBuffer that the supervisor creates and every worker
 * maps. This module owns its region table: where each region starts and how
 * many bytes it has (every size is stated here once). The first four regions
 * are laid out here too; the last three are byte ranges whose inner layout
 * is documented and defined by the module that owns them, which checks that
 * it fits:
 *
 * ```
 * offset 0   control   Int32[CONTROL_SLOTS]   readiness and generations (CONTROL)
 *            counters  BigInt64[COUNTER_SLOTS]  the round-robin counter (COUNTERS), never wraps
 *            health    Int32[MAX_CREDENTIALS × HEALTH_FIELDS]   state, failures in a row
 *            times     BigInt64[MAX_CREDENTIALS × TIME_FIELDS]  retry-at, probe lease (epoch ms)
 *            metrics   METRICS_BYTES, laid out in src/observe/metrics.ts
 *                      (with a model-name table, src/observe/name_table.ts)
 *            limits    LIMITS_BYTES, laid out in src/access/rate_limit.ts
 *            clients   CLIENTS_BYTES, laid out in src/observe/client_metrics.ts
 *            budgets   BUDGETS_BYTES, laid out in src/access/budget_table.ts
 *                      (with a key-name table, src/observe/name_table.ts)
 * ```
 * Every access goes through `Atomics`, so a write in one worker is seen by
 * all the others at once.
 */

/** Most credentials one secrets file may hold (the health table is sized by it). */
export const MAX_CREDENTIALS = 256;

/** Indexes into {@linkcode SharedState.control}. */
export const CONTROL = {
  /** Workers currently listening. */
  WORKERS_READY: 0,
  /** Bumped whenever any credential changes state. */
  HEALTH_GENERATION: 1,
  /** The secrets generation in use; verdicts about older credentials are ignored. */
  SECRETS_GENERATION: 2,
  /** With `--redis-url`: 0 not known yet, 1 reachable, 2 unreachable (src/server/redis_state.ts). */
  REDIS_STATE: 3,
} as const;
const CONTROL_SLOTS = 16;

/** Indexes into {@linkcode SharedState.counters}. */
export const COUNTERS = {
  /** The round-robin counter: advanced once per request; 64 bits, so it never wraps. */
  ROUND_ROBIN: 0,
} as const;
const COUNTER_SLOTS = 4;

/** Fields of one credential's slot in {@linkcode SharedState.health}. */
export const HEALTH = { STATE: 0, FAILURES: 1 } as const;
/** Int32 fields per credential. */
export const HEALTH_FIELDS = 2;
/** Fields of one credential's slot in {@linkcode SharedState.times}. */
export const TIMES = { RETRY_AT: 0, PROBE_LEASE: 1 } as const;
/** BigInt64 fields per credential. */
export const TIME_FIELDS = 2;

/** Bytes reserved for metrics (see src/observe/metrics.ts). */
export const METRICS_BYTES = 256 * 1024;
/** Bytes reserved for client-key rate limits (see src/access/rate_limit.ts, which uses all of them). */
export const LIMITS_BYTES = 64 * 1024;
/** Bytes reserved for per-client-key metrics (see src/observe/client_metrics.ts). */
export const CLIENTS_BYTES = 8 * 1024;
/** Bytes reserved for client-key budgets (see src/access/budget_table.ts): 512 keys. */
export const BUDGETS_BYTES = 512 * 9 * 8;

const CONTROL_BYTES = CONTROL_SLOTS * 4;
const COUNTERS_OFFSET = align8(CONTROL_BYTES);
const COUNTERS_BYTES = COUNTER_SLOTS * 8;
const HEALTH_OFFSET = COUNTERS_OFFSET + COUNTERS_BYTES;
const HEALTH_BYTES = MAX_CREDENTIALS * HEALTH_FIELDS * 4;
const TIMES_OFFSET = align8(HEALTH_OFFSET + HEALTH_BYTES);
const TIMES_BYTES = MAX_CREDENTIALS * TIME_FIELDS * 8;
const METRICS_OFFSET = align8(TIMES_OFFSET + TIMES_BYTES);
const LIMITS_OFFSET = align8(METRICS_OFFSET + METRICS_BYTES);
const CLIENTS_OFFSET = align8(LIMITS_OFFSET + LIMITS_BYTES);
const BUDGETS_OFFSET = align8(CLIENTS_OFFSET + CLIENTS_BYTES);
const TOTAL_BYTES = align8(BUDGETS_OFFSET + BUDGETS_BYTES);

/** A byte range of the shared buffer handed to the module that owns it. */
export interface Region {
  buffer: SharedArrayBuffer;
  byteOffset: number;
  byteLength: number;
}

/** Typed views over the shared buffer; cheap to build in every worker. */
export interface SharedState {
  buffer: SharedArrayBuffer;
  control: Int32Array;
  counters: BigInt64Array;
  health: Int32Array;
  times: BigInt64Array;
  metrics: Region;
  limits: Region;
  clients: Region;
  budgets: Region;
}

/** Allocates a zeroed shared buffer with the layout above (supervisor only). */
export function createSharedState(): SharedState {
  return mapSharedState(new SharedArrayBuffer(TOTAL_BYTES));
}

/** Maps the views onto a buffer received from the supervisor. */
export function mapSharedState(buffer: SharedArrayBuffer): SharedState {
  if (buffer.byteLength !== TOTAL_BYTES) {
    throw new RangeError(
      `Shared state has ${buffer.byteLength} bytes, expected ${TOTAL_BYTES}: supervisor and worker differ`,
    );
  }
  return {
    buffer,
    control: new Int32Array(buffer, 0, CONTROL_SLOTS),
    counters: new BigInt64Array(buffer, COUNTERS_OFFSET, COUNTER_SLOTS),
    health: new Int32Array(
      buffer,
      HEALTH_OFFSET,
      MAX_CREDENTIALS * HEALTH_FIELDS,
    ),
    times: new BigInt64Array(
      buffer,
      TIMES_OFFSET,
      MAX_CREDENTIALS * TIME_FIELDS,
    ),
    metrics: { buffer, byteOffset: METRICS_OFFSET, byteLength: METRICS_BYTES },
    limits: { buffer, byteOffset: LIMITS_OFFSET, byteLength: LIMITS_BYTES },
    clients: {
      buffer,
      byteOffset: CLIENTS_OFFSET,
      byteLength: CLIENTS_BYTES,
    },
    budgets: { buffer, byteOffset: BUDGETS_OFFSET, byteLength: BUDGETS_BYTES },
  };
}

function align8(n: number): number {
  return Math.ceil(n / 8) * 8;
}
