/**
 * Prometheus metrics for the whole process. Every counter lives in the
 * metrics region of the shared buffer (src/base/shared_state.ts) and is
 * changed with `Atomics`, so whichever worker renders `/metrics` shows the sum
 * over all workers.
 *
 * Region layout (see {@linkcode METRICS_BYTE_LENGTH}):
 * ```
 * BigInt64  requests    [credential slot][route][status class]
 *           duration    [route][bucket…, +Inf, sum µs]
 *           ttft        [route][bucket…, +Inf, sum µs]
 *           errors      [upstream error type]
 *           failovers   [credential]
 *           log stores  [store][written, dropped, failed, queue depth, seen]
 *           tokens      [cell][in, out, cache read, cache write]   (+1 overflow cell)
 * Int32     in flight   [1]
 *           cell keys   [cell]     credential × model pair owning a tokens cell
 * models    the model-name table: a NameTable of MAX_MODELS × MODEL_NAME_BYTES
 *           (layout in src/observe/name_table.ts)
 * ```
 * The region's size, `METRICS_BYTES`, is set in src/base/shared_state.ts;
 * {@linkcode METRICS_BYTE_LENGTH} is what this layout uses of it.
 * Credentials are kept by their index in secrets.json and named at render
 * time; model names are interned in a table of {@linkcode MAX_MODELS}, so
 * every label has a bounded set of values. Only a name the upstream answered
 * with may take a slot of that table (see {@linkcode ObserveOptions}): clients
 * choose the model they ask for, and 64 junk names would otherwise push every
 * real model into `other` for the life of the process.
 */
import { MAX_CREDENTIALS, type Region } from "../base/shared_state.ts";
import { NameTable, nameTableBytes } from "./name_table.ts";
import type { RequestRecord } from "../request_log/record.ts";
import type { ErrorKind } from "../base/error_kinds.ts";
import { PrometheusTextWriter } from "./prometheus_text.ts";

/** Route families, the `route` label. */
export type RouteFamily =
  | "chat"
  | "messages"
  | "responses"
  | "embeddings"
  | "models"
  | "other";

/** A credential as `/metrics` shows it: its name and health. */
export interface CredentialView {
  name: string;
  state: "ok" | "failed" | "cooling" | "probing";
}

/** What {@linkcode Metrics.render} needs besides the shared counters. */
export interface RenderOptions {
  /** Credentials by index in secrets.json; names the `credential` label. */
  credentials: CredentialView[];
  workersReady: number;
  workersExpected: number;
  version: string;
}

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

/** Request-log sinks, the `store` label. */
export type LogStore = "sqlite" | "clickhouse";

/** Most distinct model names kept as labels; later ones count as `model="other"`. */
export const MAX_MODELS = 64;
/** Longest model label in UTF-8 bytes; longer names are truncated. */
export const MODEL_NAME_BYTES = 64;

const ROUTES: readonly RouteFamily[] = [
  "chat",
  "messages",
  "responses",
  "embeddings",
  "models",
  "other",
];
const STATUS_CLASSES = ["1xx", "2xx", "3xx", "4xx", "5xx", "error"] as const;
/** The `type` labels of `flow_proxy_upstream_errors_total`, in the order of their counters. */
const UPSTREAM_ERRORS = [
  "upstream_timeout",
  "upstream_5xx",
  "upstream_unreachable",
  "client_cancel",
  "stream_error",
] as const satisfies readonly ErrorKind[];
/** Counter index by error kind; a kind not in the table is not an upstream error. */
const UPSTREAM_ERROR_INDEX: ReadonlyMap<ErrorKind, number> = new Map(
  UPSTREAM_ERRORS.map((kind, index) => [kind, index]),
);
const UPSTREAM_5XX = UPSTREAM_ERRORS.indexOf("upstream_5xx");
const CREDENTIAL_STATES = ["ok", "failed", "cooling", "probing"] as const;
const LOG_STORES: readonly LogStore[] = ["sqlite", "clickhouse"];
const TOKEN_DIRECTIONS = ["in", "out", "cache_read", "cache_write"] as const;

/** Upper bounds of the duration histogram, milliseconds. */
const DURATION_BOUNDS_MS = [
  5,
  10,
  25,
  50,
  100,
  250,
  500,
  1000,
  2500,
  5000,
  10000,
  30000,
  60000,
  120000,
  300000,
];
/** Upper bounds of the TTFT histogram, milliseconds. */
const TTFT_BOUNDS_MS = [
  25,
  50,
  100,
  250,
  500,
  750,
  1000,
  1500,
  2000,
  3000,
  5000,
  7500,
  10000,
  20000,
  30000,
  60000,
];
/** Longer values are clamped so their microseconds stay exact in a BigInt64. */
const MAX_OBSERVED_MS = 1e10;

/** Slot of requests that reached no credential. */
const NO_CREDENTIAL = MAX_CREDENTIALS;
const CREDENTIAL_SLOTS = MAX_CREDENTIALS + 1;
/** Model slot `other` is MAX_MODELS: what the name table answers for a name without a slot. */
const MODEL_UNKNOWN = MAX_MODELS + 1;
/** Model slot bits of a cell key (slots up to MODEL_UNKNOWN). */
const MODEL_KEY_BITS = 7;
/** Credential × model cells for token counters; far above any real mix. */
const TOKEN_CELLS = 4096;
const TOKEN_PROBES = 64;
const STORE_FIELDS = 5;
const STORE = { WRITTEN: 0, DROPPED: 1, FAILED: 2, DEPTH: 3, SEEN: 4 } as const;

const REQUESTS_BASE = 0;
const REQUESTS_ROW = ROUTES.length * STATUS_CLASSES.length;
const DURATION_STRIDE = DURATION_BOUNDS_MS.length + 2;
const DURATION_BASE = REQUESTS_BASE + CREDENTIAL_SLOTS * REQUESTS_ROW;
const TTFT_STRIDE = TTFT_BOUNDS_MS.length + 2;
const TTFT_BASE = DURATION_BASE + ROUTES.length * DURATION_STRIDE;
const ERRORS_BASE = TTFT_BASE + ROUTES.length * TTFT_STRIDE;
const FAILOVERS_BASE = ERRORS_BASE + UPSTREAM_ERRORS.length;
const STORES_BASE = FAILOVERS_BASE + MAX_CREDENTIALS;
const TOKENS_BASE = STORES_BASE + LOG_STORES.length * STORE_FIELDS;
const BIG_SLOTS = TOKENS_BASE + (TOKEN_CELLS + 1) * TOKEN_DIRECTIONS.length;

const IN_FLIGHT = 0;
const CELL_KEYS_BASE = 1;
const INT_SLOTS = CELL_KEYS_BASE + TOKEN_CELLS;

const INT_OFFSET = BIG_SLOTS * 8;
const MODELS_OFFSET = INT_OFFSET + INT_SLOTS * 4;

/** Bytes of the metrics region this module uses (must not exceed `METRICS_BYTES`). */
export const METRICS_BYTE_LENGTH = MODELS_OFFSET +
  nameTableBytes(MAX_MODELS, MODEL_NAME_BYTES);

/** The route family of a request path, the `route` label. */
export function routeFamily(path: string): RouteFamily {
  return ROUTES[routeIndex(path)];
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

  /** The whole exposition, Prometheus text format 0.0.4. */
  render(options: RenderOptions): string {
    const big = this.#big;
    const w = new PrometheusTextWriter();
    const credentialName = (index: number): string =>
      index === NO_CREDENTIAL
        ? "none"
        : index < options.credentials.length
        ? options.credentials[index].name
        : "unknown";

    w.family(
      "flow_proxy_build_info",
      "gauge",
      "Always 1; the version label says which flow-proxy is running",
    );
    w.sample("flow_proxy_build_info", { version: options.version }, 1);
    w.family(
      "flow_proxy_workers_ready",
      "gauge",
      "Workers currently listening",
    );
    w.sample("flow_proxy_workers_ready", null, options.workersReady);
    w.family(
      "flow_proxy_workers_expected",
      "gauge",
      "Workers the process is configured to run",
    );
    w.sample("flow_proxy_workers_expected", null, options.workersExpected);
    w.family(
      "flow_proxy_in_flight_requests",
      "gauge",
      "Requests being served now, all workers",
    );
    w.sample(
      "flow_proxy_in_flight_requests",
      null,
      Atomics.load(this.#int, IN_FLIGHT),
    );

    // Several entries may share a name (duplicates weight the rotation): sum them.
    const requests = new Map<string, bigint[]>();
    for (let c = 0; c < CREDENTIAL_SLOTS; c++) {
      const base = REQUESTS_BASE + c * REQUESTS_ROW;
      for (let k = 0; k < REQUESTS_ROW; k++) {
        const value = Atomics.load(big, base + k);
        if (value !== 0n) {
          totalsFor(requests, credentialName(c), REQUESTS_ROW)[k] += value;
        }
      }
    }
    w.family(
      "flow_proxy_requests_total",
      "counter",
      "Requests served, by credential, route family and status class",
    );
    for (const [credential, row] of requests) {
      for (let k = 0; k < REQUESTS_ROW; k++) {
        if (row[k] === 0n) continue;
        const route = ROUTES[Math.floor(k / STATUS_CLASSES.length)];
        const statusClass = STATUS_CLASSES[k % STATUS_CLASSES.length];
        w.sample("flow_proxy_requests_total", {
          credential,
          route,
          status_class: statusClass,
        }, row[k]);
      }
    }

    this.#renderHistogram(w, {
      name: "flow_proxy_request_duration_seconds",
      help:
        "Time from a request's arrival to its last byte sent, by route family",
      base: DURATION_BASE,
      stride: DURATION_STRIDE,
      bounds: DURATION_BOUNDS_MS,
    });
    this.#renderHistogram(w, {
      name: "flow_proxy_ttft_seconds",
      help:
        "Time from arrival to the first token (SSE) or first byte (other streams), by route family",
      base: TTFT_BASE,
      stride: TTFT_STRIDE,
      bounds: TTFT_BOUNDS_MS,
    });

    w.family(
      "flow_proxy_upstream_errors_total",
      "counter",
      "Requests that ended in an upstream or stream error, by type",
    );
    for (let e = 0; e < UPSTREAM_ERRORS.length; e++) {
      w.sample(
        "flow_proxy_upstream_errors_total",
        { type: UPSTREAM_ERRORS[e] },
        Atomics.load(big, ERRORS_BASE + e),
      );
    }

    const states = new Map<string, number[]>();
    for (const credential of options.credentials) {
      let row = states.get(credential.name);
      if (row === undefined) states.set(credential.name, row = [0, 0, 0, 0]);
      const s = CREDENTIAL_STATES.indexOf(credential.state);
      if (s !== -1) row[s]++;
    }
    w.family(
      "flow_proxy_credential_state",
      "gauge",
      "Credentials with this name in this state (1 per entry)",
    );
    for (const [credential, row] of states) {
      for (let s = 0; s < CREDENTIAL_STATES.length; s++) {
        w.sample("flow_proxy_credential_state", {
          credential,
          state: CREDENTIAL_STATES[s],
        }, row[s]);
      }
    }

    const failovers = new Map<string, bigint[]>();
    for (const credential of options.credentials) {
      totalsFor(failovers, credential.name, 1);
    }
    for (let c = 0; c < MAX_CREDENTIALS; c++) {
      const value = Atomics.load(big, FAILOVERS_BASE + c);
      if (value !== 0n) totalsFor(failovers, credentialName(c), 1)[0] += value;
    }
    w.family(
      "flow_proxy_failovers_total",
      "counter",
      "Attempts moved from this credential to another one",
    );
    for (const [credential, row] of failovers) {
      w.sample("flow_proxy_failovers_total", { credential }, row[0]);
    }

    this.#renderTokens(w, credentialName);

    w.family(
      "flow_proxy_log_store_written_total",
      "counter",
      "Request records written by the request-log sink",
    );
    w.family(
      "flow_proxy_log_store_dropped_total",
      "counter",
      "Request records dropped (queue full or retries exhausted)",
    );
    w.family(
      "flow_proxy_log_store_failures_total",
      "counter",
      "Failed writes of the request-log sink",
    );
    w.family(
      "flow_proxy_log_store_queue_depth",
      "gauge",
      "Request records waiting to be written",
    );
    for (let s = 0; s < LOG_STORES.length; s++) {
      const base = STORES_BASE + s * STORE_FIELDS;
      if (Atomics.load(big, base + STORE.SEEN) === 0n) continue;
      const labels = { store: LOG_STORES[s] };
      w.sample(
        "flow_proxy_log_store_written_total",
        labels,
        Atomics.load(big, base + STORE.WRITTEN),
      );
      w.sample(
        "flow_proxy_log_store_dropped_total",
        labels,
        Atomics.load(big, base + STORE.DROPPED),
      );
      w.sample(
        "flow_proxy_log_store_failures_total",
        labels,
        Atomics.load(big, base + STORE.FAILED),
      );
      w.sample(
        "flow_proxy_log_store_queue_depth",
        labels,
        Atomics.load(big, base + STORE.DEPTH),
      );
    }
    return w.toString();
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

  #renderHistogram(w: PrometheusTextWriter, h: HistogramSpec): void {
    w.family(h.name, "histogram", h.help);
    for (let r = 0; r < ROUTES.length; r++) {
      const base = h.base + r * h.stride;
      const route = ROUTES[r];
      let cumulative = 0n;
      for (let b = 0; b <= h.bounds.length; b++) {
        cumulative += Atomics.load(this.#big, base + b);
        const le = b === h.bounds.length ? "+Inf" : String(h.bounds[b] / 1000);
        w.sample(`${h.name}_bucket`, { route, le }, cumulative);
      }
      const sumMicros = Atomics.load(this.#big, base + h.bounds.length + 1);
      w.sample(`${h.name}_sum`, { route }, Number(sumMicros) / 1e6);
      w.sample(`${h.name}_count`, { route }, cumulative);
    }
  }

  #renderTokens(
    w: PrometheusTextWriter,
    credentialName: (index: number) => string,
  ): void {
    const models = this.#models.names().map((name) => name ?? "other");
    models.push("other", "unknown");

    // Racing workers may intern one name twice, and truncation can merge names: sum by label.
    const totals = new Map<
      string,
      { credential: string; model: string; values: bigint[] }
    >();
    for (let cell = 0; cell <= TOKEN_CELLS; cell++) {
      let credential: string;
      let model: string;
      if (cell === TOKEN_CELLS) {
        credential = "other";
        model = "other";
      } else {
        const key = Atomics.load(this.#int, CELL_KEYS_BASE + cell);
        if (key === 0) continue;
        credential = credentialName((key - 1) >> MODEL_KEY_BITS);
        model = models[(key - 1) & ((1 << MODEL_KEY_BITS) - 1)];
      }
      const base = TOKENS_BASE + cell * TOKEN_DIRECTIONS.length;
      for (let d = 0; d < TOKEN_DIRECTIONS.length; d++) {
        const value = Atomics.load(this.#big, base + d);
        if (value === 0n) continue;
        const id = `${credential}\u0000${model}`;
        let entry = totals.get(id);
        if (entry === undefined) {
          totals.set(
            id,
            entry = { credential, model, values: [0n, 0n, 0n, 0n] },
          );
        }
        entry.values[d] += value;
      }
    }
    w.family(
      "flow_proxy_tokens_total",
      "counter",
      "Tokens reported by the upstream, by credential, model and direction",
    );
    for (const { credential, model, values } of totals.values()) {
      for (let d = 0; d < TOKEN_DIRECTIONS.length; d++) {
        if (values[d] === 0n) continue;
        w.sample("flow_proxy_tokens_total", {
          credential,
          model,
          direction: TOKEN_DIRECTIONS[d],
        }, values[d]);
      }
    }
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

interface HistogramSpec {
  name: string;
  help: string;
  base: number;
  stride: number;
  bounds: readonly number[];
}

function totalsFor(
  map: Map<string, bigint[]>,
  name: string,
  size: number,
): bigint[] {
  let row = map.get(name);
  if (row === undefined) map.set(name, row = new Array<bigint>(size).fill(0n));
  return row;
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
