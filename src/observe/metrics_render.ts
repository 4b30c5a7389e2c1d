/**
 * The `/metrics` exposition: reads the metrics region (laid out in
 * metrics_layout.ts) and writes every family in Prometheus text format 0.0.4.
 * Several credential entries may share a name, racing workers may intern a
 * model twice and truncation can merge names, so samples are summed by label
 * here, at render time, never when counting.
 */
import { MAX_CREDENTIALS } from "../base/shared_state.ts";
import type { NameTable } from "./name_table.ts";
import { PrometheusTextWriter } from "./prometheus_text.ts";
import {
  ACME_ORDER_OUTCOMES,
  ACME_ORDERS_BASE,
  BUDGET_CROSSINGS,
  CELL_KEYS_BASE,
  CREDENTIAL_SLOTS,
  CREDENTIAL_STATES,
  CROSSINGS_BASE,
  DURATION_BASE,
  DURATION_BOUNDS_MS,
  DURATION_STRIDE,
  ERRORS_BASE,
  FAILOVERS_BASE,
  IN_FLIGHT,
  LOG_STORES,
  LOGIN_FAILURE_REASONS,
  LOGIN_FAILURES_BASE,
  MAPPING_RULES,
  MAPPINGS_BASE,
  MODEL_KEY_BITS,
  NO_CREDENTIAL,
  REQUESTS_BASE,
  REQUESTS_ROW,
  REWRITE_KINDS,
  REWRITES_BASE,
  ROUTES,
  STATUS_CLASSES,
  STORE,
  STORE_FIELDS,
  STORES_BASE,
  TOKEN_CELLS,
  TOKEN_DIRECTIONS,
  TOKENS_BASE,
  TRANSLATION_PAIRS,
  TRANSLATIONS_BASE,
  TTFT_BASE,
  TTFT_BOUNDS_MS,
  TTFT_STRIDE,
  UPSTREAM_ERRORS,
} from "./metrics_layout.ts";

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

/** The views of the metrics region that rendering reads. */
export interface MetricsView {
  big: BigInt64Array;
  int: Int32Array;
  models: NameTable;
}

/**
 * A counter family with one sample per label set, the counters at
 * consecutive slots of the BigInt64 region from `base`.
 */
function labelledCounters(
  w: PrometheusTextWriter,
  big: BigInt64Array,
  name: string,
  help: string,
  base: number,
  labels: readonly Record<string, string>[],
): void {
  w.family(name, "counter", help);
  for (let i = 0; i < labels.length; i++) {
    w.sample(name, labels[i], Atomics.load(big, base + i));
  }
}

/** The whole exposition of the counters in `view`. */
export function renderMetrics(
  view: MetricsView,
  options: RenderOptions,
): string {
  const big = view.big;
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
    Atomics.load(view.int, IN_FLIGHT),
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

  renderHistogram(w, big, {
    name: "flow_proxy_request_duration_seconds",
    help:
      "Time from a request's arrival to its last byte sent, by route family",
    base: DURATION_BASE,
    stride: DURATION_STRIDE,
    bounds: DURATION_BOUNDS_MS,
  });
  renderHistogram(w, big, {
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

  renderTokens(w, view, credentialName);

  labelledCounters(
    w,
    big,
    "flow_proxy_request_rewrites_total",
    "Request bodies changed for the upstream model, by kind of change (one request may count under several)",
    REWRITES_BASE,
    REWRITE_KINDS.map((kind) => ({ kind })),
  );
  labelledCounters(
    w,
    big,
    "flow_proxy_model_mappings_total",
    "Requested model ids sent as another (Flow) model, by the kind of rule that mapped them",
    MAPPINGS_BASE,
    MAPPING_RULES.map((rule) => ({ rule })),
  );
  labelledCounters(
    w,
    big,
    "flow_proxy_translations_total",
    "Requests translated from the client's API to another one Flow serves the model on",
    TRANSLATIONS_BASE,
    TRANSLATION_PAIRS.map((pair) => {
      const [from, to] = pair.split("->");
      return { from, to };
    }),
  );
  labelledCounters(
    w,
    big,
    "flow_proxy_budget_crossings_total",
    "Client-key budgets that passed 80 % or 100 % of a limit (once per key and period)",
    CROSSINGS_BASE,
    BUDGET_CROSSINGS.map(([measure, percent]) => ({ measure, percent })),
  );
  labelledCounters(
    w,
    big,
    "flow_proxy_login_failures_total",
    "Failed logins to the admin API, by reason: wrong user name or password, or locked out",
    LOGIN_FAILURES_BASE,
    LOGIN_FAILURE_REASONS.map((reason) => ({ reason })),
  );
  labelledCounters(
    w,
    big,
    "flow_proxy_acme_orders_total",
    "ACME certificate orders, by outcome: issued, or failed (and retried)",
    ACME_ORDERS_BASE,
    ACME_ORDER_OUTCOMES.map((outcome) => ({ outcome })),
  );

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

function renderHistogram(
  w: PrometheusTextWriter,
  big: BigInt64Array,
  h: HistogramSpec,
): void {
  w.family(h.name, "histogram", h.help);
  for (let r = 0; r < ROUTES.length; r++) {
    const base = h.base + r * h.stride;
    const route = ROUTES[r];
    let cumulative = 0n;
    for (let b = 0; b <= h.bounds.length; b++) {
      cumulative += Atomics.load(big, base + b);
      const le = b === h.bounds.length ? "+Inf" : String(h.bounds[b] / 1000);
      w.sample(`${h.name}_bucket`, { route, le }, cumulative);
    }
    const sumMicros = Atomics.load(big, base + h.bounds.length + 1);
    w.sample(`${h.name}_sum`, { route }, Number(sumMicros) / 1e6);
    w.sample(`${h.name}_count`, { route }, cumulative);
  }
}

function renderTokens(
  w: PrometheusTextWriter,
  view: MetricsView,
  credentialName: (index: number) => string,
): void {
  const models = view.models.names().map((name) => name ?? "other");
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
      const key = Atomics.load(view.int, CELL_KEYS_BASE + cell);
      if (key === 0) continue;
      credential = credentialName((key - 1) >> MODEL_KEY_BITS);
      model = models[(key - 1) & ((1 << MODEL_KEY_BITS) - 1)];
    }
    const base = TOKENS_BASE + cell * TOKEN_DIRECTIONS.length;
    for (let d = 0; d < TOKEN_DIRECTIONS.length; d++) {
      const value = Atomics.load(view.big, base + d);
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
