/**
 * Prometheus metrics for the whole process. Every counter lives in the
 * metrics region of the shared buffer (src/base/shared_state.ts) and is
 * changed with `Atomics`, so whichever worker renders `/metrics` shows the sum
 * over all workers. The region's layout is in metrics_layout.ts, the
 * exposition in metrics_render.ts; this module counts.
 *
 * Credentials are kept by their index in secrets.json and named at render
 * time; model names are interned in a table of {@linkcode MAX_MODELS}, so
 * every label has a bounded set of values. Only a name the upstream answered
 * with may take a slot of that table (see {@linkcode ObserveOptions}): clients
 * choose the model they ask for, and 64 junk names would otherwise push every
 * real model into `other` for the life of the process.
 */
import { MAX_CREDENTIALS, type Region } from "../base/shared_state.ts";
import { NameTable } from "./name_table.ts";
import type { RequestRecord } from "../request_log/record.ts";
import type { ErrorKind } from "../base/error_kinds.ts";
import {
  ACME_ORDER_OUTCOMES,
  ACME_ORDERS_BASE,
  BIG_SLOTS,
  BUDGET_CROSSINGS,
  CELL_KEYS_BASE,
  CROSSINGS_BASE,
  DURATION_BASE,
  DURATION_BOUNDS_MS,
  DURATION_STRIDE,
  ERRORS_BASE,
  FAILOVERS_BASE,
  IN_FLIGHT,
  INT_OFFSET,
  INT_SLOTS,
  LOGIN_FAILURE_REASONS,
  LOGIN_FAILURES_BASE,
  type LogStore,
  MAPPINGS_BASE,
  MAX_MODELS,
  MAX_OBSERVED_MS,
  METRICS_BYTE_LENGTH,
  MODEL_KEY_BITS,
  MODEL_NAME_BYTES,
  MODEL_UNKNOWN,
  MODELS_OFFSET,
  NO_CREDENTIAL,
  REQUESTS_BASE,
  REQUESTS_ROW,
  REWRITE_KINDS,
  REWRITES_BASE,
  type RouteFamily,
  ROUTES,
  STATUS_CLASSES,
  STORE,
  STORE_FIELDS,
  STORES_BASE,
  TOKEN_CELLS,
  TOKEN_DIRECTIONS,
  TOKEN_PROBES,
  TOKENS_BASE,
  TRANSLATION_PAIRS,
  TRANSLATIONS_BASE,
  TTFT_BASE,
  TTFT_BOUNDS_MS,
  TTFT_STRIDE,
  UPSTREAM_ERRORS,
} from "./metrics_layout.ts";
import { renderMetrics, type RenderOptions } from "./metrics_render.ts";
import { type MetricsSnapshot, readSnapshot } from "./metrics_snapshot.ts";

export {
  type LogStore,
  MAX_MODELS,
  METRICS_BYTE_LENGTH,
  MODEL_NAME_BYTES,
  type RouteFamily,
};
export type { CredentialView, RenderOptions } from "./metrics_render.ts";

/** What {@linkcode Metrics.observe} knows of the upstream's answer. */
export interface ObserveOptions {
  /**
   * The model the upstream's response named (its JSON or SSE `model`), or
   * null when it named none or did not answer. When given, it is the token
   * counters' model label, and the only name that may take a new slot, and
   * only for a response below 400; any other name counts under a slot it
   * already has, or as `other`. Without options (a caller that reads no
   * response), the record's model of a request answered below 400 may take
   * a slot.
   */
  answeredModel: string | null;
}

/** Counts reported by a request-log sink; see {@linkcode Metrics.logStore}. */
export interface LogStoreEvent {
  /** Records written since the last report. */
  written?: number;
  /** Records dropped since the last report (queue full, retries exhausted). */
  dropped?: number;
  /** Failed write attempts since the last report. */
  failed?: number;
  /** Records waiting now. */
  queueDepth?: number;
}

/** Counter index by error kind; a kind not in the table is not an upstream error. */
const UPSTREAM_ERROR_INDEX: ReadonlyMap<ErrorKind, number> = new Map(
  UPSTREAM_ERRORS.map((kind, index) => [kind, index]),
);
const UPSTREAM_5XX = UPSTREAM_ERRORS.indexOf("upstream_5xx");

/** The route family of a request path, the `route` label. */
export function routeFamily(path: string): RouteFamily {
  return ROUTES[routeIndex(path)];
}

/** Index in `MAPPING_RULES` of a resolution's rule, or -1; no allocation. */
function mappingRuleIndex(rule: string): number {
  if (rule === "alias") return 0;
  if (rule.startsWith("pattern:")) return 1;
  if (rule.startsWith("builtin:")) return 2;
  if (rule.startsWith("default:")) return 3;
  return -1;
}

/** Counters of one process in a shared region; one instance per thread. */
export class Metrics {
  #big: BigInt64Array;
  #int: Int32Array;
  #models: NameTable;

  /** Maps the counters onto `region`; throws a RangeError when it is too small or misaligned. */
  constructor(region: Region) {
    if (region.byteLength < METRICS_BYTE_LENGTH) {
      throw new RangeError(
        `Metrics region has ${region.byteLength} bytes, need ${METRICS_BYTE_LENGTH}`,
      );
    }
    if (region.byteOffset % 8 !== 0) {
      throw new RangeError(
        `Metrics region must start on 8 bytes, starts at ${region.byteOffset}`,
      );
    }
    const { buffer, byteOffset } = region;
    this.#big = new BigInt64Array(buffer, byteOffset, BIG_SLOTS);
    this.#int = new Int32Array(buffer, byteOffset + INT_OFFSET, INT_SLOTS);
    this.#models = new NameTable({
      buffer,
      byteOffset: byteOffset + MODELS_OFFSET,
      byteLength: METRICS_BYTE_LENGTH - MODELS_OFFSET,
    }, { capacity: MAX_MODELS, nameBytes: MODEL_NAME_BYTES });
  }

  /** A request started (`1`) or ended (`-1`). */
  inFlight(delta: 1 | -1): void {
    Atomics.add(this.#int, IN_FLIGHT, delta);
  }

  /**
   * Counts one finished request. `credentialIndex` is its credential's index
   * in secrets.json, or null when no credential was used; an index out of
   * range counts as null.
   */
  observe(
    record: RequestRecord,
    credentialIndex: number | null,
    options?: ObserveOptions,
  ): void {
    const credential = credentialIndex !== null && credentialIndex >= 0 &&
        credentialIndex < MAX_CREDENTIALS
      ? credentialIndex | 0
      : NO_CREDENTIAL;
    const route = routeIndex(record.path);
    const big = this.#big;
    Atomics.add(
      big,
      REQUESTS_BASE + credential * REQUESTS_ROW +
        route * STATUS_CLASSES.length + statusClass(record.status),
      1n,
    );
    this.#histogram(
      DURATION_BASE + route * DURATION_STRIDE,
      DURATION_BOUNDS_MS,
      record.durationMs,
    );
    if (record.ttftMs !== null) {
      this.#histogram(
        TTFT_BASE + route * TTFT_STRIDE,
        TTFT_BOUNDS_MS,
        record.ttftMs,
      );
    }
    const error = upstreamError(record.error, record.status);
    if (error !== -1) Atomics.add(big, ERRORS_BASE + error, 1n);
    if (
      record.tokensIn !== null || record.tokensOut !== null ||
      record.cacheReadTokens !== null ||
      record.cacheWriteTokens !== null
    ) {
      const answered = options === undefined
        ? record.model
        : options.answeredModel;
      const answeredOk = record.status >= 100 && record.status < 400 &&
        answered !== null && answered.length > 0;
      const model = answeredOk
        ? this.#modelSlot(answered, true)
        : this.#modelSlot(answered || record.model, false);
      const base = TOKENS_BASE +
        this.#cell(credential, model) * TOKEN_DIRECTIONS.length;
      addCount(big, base, record.tokensIn);
      addCount(big, base + 1, record.tokensOut);
      addCount(big, base + 2, record.cacheReadTokens);
      addCount(big, base + 3, record.cacheWriteTokens);
    }
  }

  /** Counts one failover away from the credential at `credentialIndex`. */
  failover(credentialIndex: number): void {
    if (credentialIndex >= 0 && credentialIndex < MAX_CREDENTIALS) {
      Atomics.add(this.#big, FAILOVERS_BASE + (credentialIndex | 0), 1n);
    }
  }

  /** Counts one rewritten request body per kind of change it had (`REWRITE_KINDS`; others are ignored). */
  countRewrites(kinds: readonly string[]): void {
    for (const kind of kinds) {
      const k = (REWRITE_KINDS as readonly string[]).indexOf(kind);
      if (k !== -1) Atomics.add(this.#big, REWRITES_BASE + k, 1n);
    }
  }

  /** Counts one model id mapped by `rule` (`ModelResolution.rule`), by its kind; `flow-name` is not counted. */
  countMapping(rule: string): void {
    const k = mappingRuleIndex(rule);
    if (k !== -1) Atomics.add(this.#big, MAPPINGS_BASE + k, 1n);
  }

  /** Counts one translated request by its pair (`"messages->chat"`); other names are ignored. */
  countTranslation(name: string): void {
    const k = TRANSLATION_PAIRS.indexOf(name);
    if (k !== -1) Atomics.add(this.#big, TRANSLATIONS_BASE + k, 1n);
  }

  /** Counts a key's budget crossing `percent` (80 or 100) of its `measure` limit. */
  countBudgetCrossing(measure: "tokens" | "spend", percent: 80 | 100): void {
    const k = BUDGET_CROSSINGS.findIndex(([m, p]) =>
      m === measure && p === String(percent)
    );
    if (k !== -1) Atomics.add(this.#big, CROSSINGS_BASE + k, 1n);
  }

  /** Counts one failed admin login: `invalid` (wrong name or password) or `locked` (locked out). */
  countLoginFailure(reason: typeof LOGIN_FAILURE_REASONS[number]): void {
    const k = LOGIN_FAILURE_REASONS.indexOf(reason);
    if (k !== -1) Atomics.add(this.#big, LOGIN_FAILURES_BASE + k, 1n);
  }

  /** Counts one ACME certificate order by its outcome: `issued` or `failed`. */
  countAcmeOrder(outcome: typeof ACME_ORDER_OUTCOMES[number]): void {
    const k = ACME_ORDER_OUTCOMES.indexOf(outcome);
    if (k !== -1) Atomics.add(this.#big, ACME_ORDERS_BASE + k, 1n);
  }

  /** Adds a request-log sink's counts and sets its queue depth; the store shows from its first report. */
  logStore(store: LogStore, event: LogStoreEvent): void {
    const base = STORES_BASE + (store === "sqlite" ? 0 : 1) * STORE_FIELDS;
    const big = this.#big;
    Atomics.store(big, base + STORE.SEEN, 1n);
    addCount(big, base + STORE.WRITTEN, event.written ?? null);
    addCount(big, base + STORE.DROPPED, event.dropped ?? null);
    addCount(big, base + STORE.FAILED, event.failed ?? null);
    if (
      event.queueDepth !== undefined &&
      Number.isSafeInteger(event.queueDepth) && event.queueDepth >= 0
    ) {
      Atomics.store(big, base + STORE.DEPTH, BigInt(event.queueDepth));
    }
  }

  /** The totals now, for the dashboard's overview (see metrics_snapshot.ts). */
  snapshot(): MetricsSnapshot {
    return readSnapshot(this.#big, this.#int);
  }

  /** The whole exposition, Prometheus text format 0.0.4. */
  render(options: RenderOptions): string {
    return renderMetrics(
      { big: this.#big, int: this.#int, models: this.#models },
      options,
    );
  }

  #histogram(base: number, bounds: readonly number[], ms: number): void {
    const value = ms >= 0 ? Math.min(ms, MAX_OBSERVED_MS) : 0;
    let bucket = 0;
    while (bucket < bounds.length && value > bounds[bucket]) bucket++;
    Atomics.add(this.#big, base + bucket, 1n);
    Atomics.add(
      this.#big,
      base + bounds.length + 1,
      BigInt(Math.round(value * 1000)),
    );
  }

  /** The tokens cell of a credential × model pair, claimed on first use; the overflow cell when all are taken. */
  #cell(credential: number, model: number): number {
    const key = ((credential << MODEL_KEY_BITS) | model) + 1;
    let cell = (Math.imul(key, 0x9e3779b1) >>> 0) % TOKEN_CELLS;
    for (let probe = 0; probe < TOKEN_PROBES; probe++) {
      const slot = CELL_KEYS_BASE + cell;
      const found = Atomics.load(this.#int, slot);
      if (found === key) return cell;
      if (found === 0) {
        const previous = Atomics.compareExchange(this.#int, slot, 0, key);
        if (previous === 0 || previous === key) return cell;
      }
      cell = (cell + 1) % TOKEN_CELLS;
    }
    return TOKEN_CELLS;
  }

  /**
   * The slot of a model name: its table slot, MAX_MODELS (`other`) when it has none
   * (the table is full, or `claim` is false and no answer put it there),
   * MODEL_UNKNOWN for none.
   */
  #modelSlot(name: string | null, claim: boolean): number {
    if (name === null || name.length === 0) return MODEL_UNKNOWN;
    return this.#models.slot(name, claim);
  }
}

function addCount(
  big: BigInt64Array,
  index: number,
  value: number | null,
): void {
  if (value !== null && value > 0 && Number.isSafeInteger(value)) {
    Atomics.add(big, index, BigInt(value));
  }
}

function routeIndex(path: string): number {
  if (hasSegment(path, "/completions")) return 0;
  if (hasSegment(path, "/messages")) return 1;
  if (hasSegment(path, "/responses")) return 2;
  if (hasSegment(path, "/embeddings")) return 3;
  if (hasSegment(path, "/models")) return 4;
  return 5;
}

/** True when `segment` occurs in `path` followed by `/` or the end. */
function hasSegment(path: string, segment: string): boolean {
  let at = path.indexOf(segment);
  while (at !== -1) {
    const next = at + segment.length;
    if (next === path.length || path.charCodeAt(next) === 0x2f) return true;
    at = path.indexOf(segment, at + 1);
  }
  return false;
}

function statusClass(status: number): number {
  return status >= 100 && status < 600
    ? Math.floor(status / 100) - 1
    : STATUS_CLASSES.length - 1;
}

/**
 * The upstream error type of a finished request, or -1. A 5xx without an
 * error type is an upstream error response passed through: `upstream_5xx`.
 */
function upstreamError(error: ErrorKind | null, status: number): number {
  if (error === null) return status >= 500 && status < 600 ? UPSTREAM_5XX : -1;
  return UPSTREAM_ERROR_INDEX.get(error) ?? -1;
}
