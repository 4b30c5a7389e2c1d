/**
 * The layout of the metrics region of the shared buffer: what every counter
 * of src/observe/metrics.ts is, and where. Internal to metrics.ts (which
 * writes) and metrics_render.ts (which reads); the region's size,
 * `METRICS_BYTES`, is set in src/base/shared_state.ts and
 * {@linkcode METRICS_BYTE_LENGTH} is what this layout uses of it.
 *
 * ```
 * BigInt64  requests    [credential slot][route][status class]
 *           duration    [route][bucket…, +Inf, sum µs]
 *           ttft        [route][bucket…, +Inf, sum µs]
 *           errors      [upstream error type]
 *           failovers   [credential]
 *           log stores  [store][written, dropped, failed, queue depth, seen]
 *           tokens      [cell][in, out, cache read, cache write]   (+1 overflow cell)
 *           rewrites    [rewrite kind]
 *           mappings    [mapping rule kind]
 *           translations [client API → Flow API pair]
 *           logins      [login failure reason]
 *           acme orders [outcome]
 * Int32     in flight   [1]
 *           cell keys   [cell]     credential × model pair owning a tokens cell
 * models    the model-name table: a NameTable of MAX_MODELS × MODEL_NAME_BYTES
 *           (layout in src/observe/name_table.ts)
 * ```
 * Credential slots are indexes in secrets.json plus one for "no credential";
 * model slots are the name table's, plus `other` (MAX_MODELS) and `unknown`.
 */
import { MAX_CREDENTIALS } from "../base/shared_state.ts";
import type { ErrorKind } from "../base/error_kinds.ts";
import { nameTableBytes } from "./name_table.ts";
import { REWRITE_KINDS } from "../base/rewrite_kinds.ts";

export { REWRITE_KINDS };

/** Route families, the `route` label. */
export type RouteFamily =
  | "chat"
  | "messages"
  | "responses"
  | "embeddings"
  | "models"
  | "other";

/** Request-log sinks, the `store` label. */
export type LogStore = "sqlite" | "clickhouse";

/** Most distinct model names kept as labels; later ones count as `model="other"`. */
export const MAX_MODELS = 64;
/** Longest model label in UTF-8 bytes; longer names are truncated. */
export const MODEL_NAME_BYTES = 64;

/** Route families by index, the `route` label. */
export const ROUTES: readonly RouteFamily[] = [
  "chat",
  "messages",
  "responses",
  "embeddings",
  "models",
  "other",
];
/** Status classes by index, the `status_class` label (`error`: no HTTP status). */
export const STATUS_CLASSES = [
  "1xx",
  "2xx",
  "3xx",
  "4xx",
  "5xx",
  "error",
] as const;
/** The `type` labels of `flow_proxy_upstream_errors_total`, in the order of their counters. */
export const UPSTREAM_ERRORS = [
  "upstream_timeout",
  "upstream_5xx",
  "upstream_unreachable",
  "client_cancel",
  "stream_error",
] as const satisfies readonly ErrorKind[];
/** Credential states, the `state` label of `flow_proxy_credential_state`. */
export const CREDENTIAL_STATES = [
  "ok",
  "failed",
  "cooling",
  "probing",
] as const;
/** Request-log sinks by index, the `store` label. */
export const LOG_STORES: readonly LogStore[] = ["sqlite", "clickhouse"];
/** Token counters of a cell, the `direction` label. */
export const TOKEN_DIRECTIONS = [
  "in",
  "out",
  "cache_read",
  "cache_write",
] as const;

/**
 * The `rule` labels of `flow_proxy_model_mappings_total`: the kinds of
 * `ModelResolution.rule` (`pattern:<glob>` counts as `pattern`, …). A
 * request naming a Flow model (`flow-name`) is not a mapping.
 */
export const MAPPING_RULES = [
  "alias",
  "pattern",
  "builtin",
  "default",
] as const;

/** The APIs of `flow_proxy_translations_total`'s `from` and `to` labels. */
export const TRANSLATION_APIS = [
  "messages",
  "chat",
  "responses",
  "gemini",
] as const;

/**
 * The counters of `flow_proxy_translations_total`, one per pair of
 * different APIs, as `"<from>-><to>"` (the request record's `translation`).
 */
export const TRANSLATION_PAIRS: readonly string[] = TRANSLATION_APIS.flatMap((
  from,
) =>
  TRANSLATION_APIS.filter((to) => to !== from).map((to) => `${from}->${to}`)
);

/** The `reason` labels of `flow_proxy_login_failures_total`: wrong name or password, or locked out. */
export const LOGIN_FAILURE_REASONS = ["invalid", "locked"] as const;

/** The `outcome` labels of `flow_proxy_acme_orders_total`: a certificate issued, or an order that failed. */
export const ACME_ORDER_OUTCOMES = ["issued", "failed"] as const;

/** Upper bounds of the duration histogram, milliseconds. */
export const DURATION_BOUNDS_MS = [
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
export const TTFT_BOUNDS_MS = [
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
export const MAX_OBSERVED_MS = 1e10;

/** Slot of requests that reached no credential. */
export const NO_CREDENTIAL = MAX_CREDENTIALS;
/** Credential slots: one per credential, plus {@linkcode NO_CREDENTIAL}. */
export const CREDENTIAL_SLOTS = MAX_CREDENTIALS + 1;
/** Model slot `other` is MAX_MODELS: what the name table answers for a name without a slot. */
export const MODEL_UNKNOWN = MAX_MODELS + 1;
/** Model slot bits of a cell key (slots up to MODEL_UNKNOWN). */
export const MODEL_KEY_BITS = 7;
/** Credential × model cells for token counters; far above any real mix. */
export const TOKEN_CELLS = 4096;
/** Cells tried after a token cell's hash before the overflow cell is used. */
export const TOKEN_PROBES = 64;
/** BigInt64 fields per log store. */
export const STORE_FIELDS = 5;
/** Fields of one log store. */
export const STORE = {
  WRITTEN: 0,
  DROPPED: 1,
  FAILED: 2,
  DEPTH: 3,
  SEEN: 4,
} as const;

/** BigInt64 index of the requests table. */
export const REQUESTS_BASE = 0;
/** Requests counters per credential slot: route × status class. */
export const REQUESTS_ROW = ROUTES.length * STATUS_CLASSES.length;
/** Duration histogram fields per route: buckets, +Inf, sum. */
export const DURATION_STRIDE = DURATION_BOUNDS_MS.length + 2;
/** BigInt64 index of the duration histograms. */
export const DURATION_BASE = REQUESTS_BASE + CREDENTIAL_SLOTS * REQUESTS_ROW;
/** TTFT histogram fields per route: buckets, +Inf, sum. */
export const TTFT_STRIDE = TTFT_BOUNDS_MS.length + 2;
/** BigInt64 index of the TTFT histograms. */
export const TTFT_BASE = DURATION_BASE + ROUTES.length * DURATION_STRIDE;
/** BigInt64 index of the upstream error counters. */
export const ERRORS_BASE = TTFT_BASE + ROUTES.length * TTFT_STRIDE;
/** BigInt64 index of the failover counters. */
export const FAILOVERS_BASE = ERRORS_BASE + UPSTREAM_ERRORS.length;
/** BigInt64 index of the log-store fields. */
export const STORES_BASE = FAILOVERS_BASE + MAX_CREDENTIALS;
/** BigInt64 index of the token cells. */
export const TOKENS_BASE = STORES_BASE + LOG_STORES.length * STORE_FIELDS;
/** BigInt64 index of the rewrite counters, by {@linkcode REWRITE_KINDS}. */
export const REWRITES_BASE = TOKENS_BASE +
  (TOKEN_CELLS + 1) * TOKEN_DIRECTIONS.length;
/** BigInt64 index of the mapping counters, by {@linkcode MAPPING_RULES}. */
export const MAPPINGS_BASE = REWRITES_BASE + REWRITE_KINDS.length;
/** BigInt64 index of the translation counters, by {@linkcode TRANSLATION_PAIRS}. */
export const TRANSLATIONS_BASE = MAPPINGS_BASE + MAPPING_RULES.length;
/**
 * The counters of `flow_proxy_budget_crossings_total`, as
 * `[measure, percent]`: a key's budget passing 80 % or 100 % of a limit.
 */
export const BUDGET_CROSSINGS = [
  ["tokens", "80"],
  ["tokens", "100"],
  ["spend", "80"],
  ["spend", "100"],
] as const;
/** BigInt64 index of the budget crossing counters, by {@linkcode BUDGET_CROSSINGS}. */
export const CROSSINGS_BASE = TRANSLATIONS_BASE + TRANSLATION_PAIRS.length;
/** BigInt64 index of the login failure counters, by {@linkcode LOGIN_FAILURE_REASONS}. */
export const LOGIN_FAILURES_BASE = CROSSINGS_BASE + BUDGET_CROSSINGS.length;
/** BigInt64 index of the ACME order counters, by {@linkcode ACME_ORDER_OUTCOMES}. */
export const ACME_ORDERS_BASE = LOGIN_FAILURES_BASE +
  LOGIN_FAILURE_REASONS.length;
/** BigInt64 slots of the region. */
export const BIG_SLOTS = ACME_ORDERS_BASE + ACME_ORDER_OUTCOMES.length;

/** Int32 index of the in-flight gauge. */
export const IN_FLIGHT = 0;
/** Int32 index of the token cells' keys. */
export const CELL_KEYS_BASE = 1;
/** Int32 slots of the region. */
export const INT_SLOTS = CELL_KEYS_BASE + TOKEN_CELLS;

/** Byte offset of the Int32 part. */
export const INT_OFFSET = BIG_SLOTS * 8;
/** Byte offset of the model-name table. */
export const MODELS_OFFSET = INT_OFFSET + INT_SLOTS * 4;

/** Bytes of the metrics region this module uses (must not exceed `METRICS_BYTES`). */
export const METRICS_BYTE_LENGTH = MODELS_OFFSET +
  nameTableBytes(MAX_MODELS, MODEL_NAME_BYTES);
