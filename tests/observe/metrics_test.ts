import assert from "node:assert/strict";
import {
  type CredentialView,
  MAX_MODELS,
  Metrics,
  METRICS_BYTE_LENGTH,
  type RenderOptions,
  routeFamily,
} from "../../src/observe/metrics.ts";
import {
  createSharedState,
  METRICS_BYTES,
  type Region,
} from "../../src/base/shared_state.ts";
import { makeRecord, TEST_MODELS } from "./metrics_records.ts";
import {
  type Exposition,
  parsePrometheusText,
  sampleValue,
  sumOf,
} from "./prometheus_parse.ts";
import type { WorkerTask } from "./metrics_worker.ts";

const CREDENTIALS: CredentialView[] = [
  { name: "primary-1", state: "ok" },
  { name: "primary-2", state: "failed" },
  { name: "backup", state: "cooling" },
];

function options(credentials: CredentialView[] = CREDENTIALS): RenderOptions {
  return { credentials, workersReady: 2, workersExpected: 3, version: "9.8.7" };
}

function scrape(metrics: Metrics, credentials?: CredentialView[]): Exposition {
  return parsePrometheusText(metrics.render(options(credentials)));
}

function freshRegion(): Region {
  // An offset other than 0 checks that every view honours byteOffset.
  const buffer = new SharedArrayBuffer(METRICS_BYTE_LENGTH + 64);
  return { buffer, byteOffset: 64, byteLength: METRICS_BYTE_LENGTH };
}

Deno.test("Metrics fits the region that shared_state reserves", () => {
  assert.ok(
    METRICS_BYTE_LENGTH <= METRICS_BYTES,
    `${METRICS_BYTE_LENGTH} > ${METRICS_BYTES}`,
  );
  const metrics = new Metrics(createSharedState().metrics);
  assert.match(
    metrics.render(options()),
    /^flow_proxy_build_info\{version="9.8.7"\} 1$/m,
  );
});

Deno.test("Metrics throws a RangeError for a region too small or misaligned", () => {
  const buffer = new SharedArrayBuffer(METRICS_BYTE_LENGTH + 8);
  assert.throws(
    () =>
      new Metrics({
        buffer,
        byteOffset: 0,
        byteLength: METRICS_BYTE_LENGTH - 1,
      }),
    (e: unknown) => e instanceof RangeError && /need \d+/.test(e.message),
  );
  assert.throws(
    () =>
      new Metrics({ buffer, byteOffset: 4, byteLength: METRICS_BYTE_LENGTH }),
    RangeError,
  );
});

Deno.test("Metrics.render() reports what observe() and the other calls counted", async (t) => {
  const metrics = new Metrics(freshRegion());
  metrics.inFlight(1);
  metrics.inFlight(1);
  metrics.inFlight(1);
  metrics.inFlight(-1);
  metrics.observe(
    makeRecord({
      status: 200,
      durationMs: 40,
      model: "gpt-4o",
      tokensIn: 100,
      tokensOut: 20,
    }),
    0,
  );
  metrics.observe(
    makeRecord({
      status: 200,
      durationMs: 3000,
      ttftMs: 600,
      model: "gpt-4o",
      tokensIn: 50,
      tokensOut: 7,
      cacheReadTokens: 32,
      stream: true,
    }),
    0,
  );
  metrics.observe(
    makeRecord({
      path: "/v1/messages",
      status: 200,
      durationMs: 700,
      ttftMs: 80,
      model: "anthropic.claude-4-5-sonnet",
      tokensIn: 9,
      tokensOut: 4,
      cacheWriteTokens: 1000,
    }),
    1,
  );
  metrics.observe(
    makeRecord({ path: "/v1/messages", status: 529, durationMs: 20 }),
    1,
  );
  metrics.observe(
    makeRecord({ status: 504, durationMs: 30000, error: "upstream_timeout" }),
    2,
  );
  metrics.observe(
    makeRecord({ status: 502, durationMs: 10, error: "upstream_unreachable" }),
    2,
  );
  metrics.observe(
    makeRecord({ status: 0, durationMs: 5, error: "client_cancel" }),
    0,
  );
  metrics.observe(
    makeRecord({
      status: 200,
      durationMs: 9000,
      ttftMs: 50,
      error: "stream_error",
    }),
    0,
  );
  metrics.observe(
    makeRecord({
      status: 503,
      durationMs: 1,
      error: "no_credentials_available",
    }),
    null,
  );
  metrics.observe(
    makeRecord({
      path: "/v1/models",
      method: "GET",
      status: 401,
      durationMs: 2,
    }),
    null,
  );
  metrics.observe(
    makeRecord({
      path: "/v1/embeddings",
      status: 200,
      durationMs: 15,
      tokensIn: 8,
    }),
    1,
  );
  metrics.failover(1);
  metrics.failover(1);
  metrics.failover(2);
  metrics.logStore("sqlite", { queueDepth: 0 });
  metrics.logStore("sqlite", { written: 10, queueDepth: 4 });
  metrics.logStore("sqlite", {
    written: 5,
    dropped: 2,
    failed: 1,
    queueDepth: 3,
  });
  const m = scrape(metrics);

  await t.step("build, workers and in-flight gauges", () => {
    assert.equal(
      sampleValue(m, "flow_proxy_build_info", { version: "9.8.7" }),
      1,
    );
    assert.equal(sampleValue(m, "flow_proxy_workers_ready"), 2);
    assert.equal(sampleValue(m, "flow_proxy_workers_expected"), 3);
    assert.equal(sampleValue(m, "flow_proxy_in_flight_requests"), 2);
  });

  await t.step("requests by credential, route and status class", () => {
    const requests = (credential: string, route: string, statusClass: string) =>
      sampleValue(m, "flow_proxy_requests_total", {
        credential,
        route,
        status_class: statusClass,
      });
    assert.equal(requests("primary-1", "chat", "2xx"), 3);
    assert.equal(requests("primary-1", "chat", "error"), 1);
    assert.equal(requests("primary-2", "messages", "2xx"), 1);
    assert.equal(requests("primary-2", "messages", "5xx"), 1);
    assert.equal(requests("primary-2", "embeddings", "2xx"), 1);
    assert.equal(requests("backup", "chat", "5xx"), 2);
    assert.equal(requests("none", "chat", "5xx"), 1);
    assert.equal(requests("none", "models", "4xx"), 1);
    assert.equal(sumOf(m, "flow_proxy_requests_total"), 11);
    assert.equal(
      requests("primary-1", "chat", "4xx"),
      undefined,
      "zero series are left out",
    );
  });

  await t.step("duration histogram: cumulative buckets, sum and count", () => {
    const bucket = (le: string) =>
      sampleValue(m, "flow_proxy_request_duration_seconds_bucket", {
        route: "chat",
        le,
      });
    // chat durations: 40, 3000, 30000, 10, 5, 9000, 1 ms
    assert.equal(bucket("0.005"), 2);
    assert.equal(bucket("0.01"), 3);
    assert.equal(bucket("0.05"), 4);
    assert.equal(bucket("5"), 5);
    assert.equal(bucket("10"), 6);
    assert.equal(bucket("30"), 7);
    assert.equal(bucket("+Inf"), 7);
    assert.equal(
      sampleValue(m, "flow_proxy_request_duration_seconds_count", {
        route: "chat",
      }),
      7,
    );
    assert.equal(
      sampleValue(m, "flow_proxy_request_duration_seconds_sum", {
        route: "chat",
      }),
      42.056,
    );
    assert.equal(
      sampleValue(m, "flow_proxy_request_duration_seconds_count", {
        route: "messages",
      }),
      2,
    );
    assert.equal(
      sampleValue(m, "flow_proxy_request_duration_seconds_count", {
        route: "responses",
      }),
      0,
    );
  });

  await t.step("TTFT histogram counts only records with a TTFT", () => {
    assert.equal(
      sampleValue(m, "flow_proxy_ttft_seconds_count", { route: "chat" }),
      2,
    );
    assert.equal(
      sampleValue(m, "flow_proxy_ttft_seconds_sum", { route: "chat" }),
      0.65,
    );
    assert.equal(
      sampleValue(m, "flow_proxy_ttft_seconds_bucket", {
        route: "chat",
        le: "0.5",
      }),
      1,
    );
    assert.equal(
      sampleValue(m, "flow_proxy_ttft_seconds_bucket", {
        route: "chat",
        le: "0.75",
      }),
      2,
    );
    assert.equal(
      sampleValue(m, "flow_proxy_ttft_seconds_count", { route: "messages" }),
      1,
    );
  });

  await t.step(
    "upstream errors by type, a passed-through 5xx counting as upstream_5xx",
    () => {
      const errors = (type: string) =>
        sampleValue(m, "flow_proxy_upstream_errors_total", { type });
      assert.equal(errors("upstream_timeout"), 1);
      assert.equal(errors("upstream_unreachable"), 1);
      assert.equal(errors("client_cancel"), 1);
      assert.equal(errors("stream_error"), 1);
      assert.equal(
        errors("upstream_5xx"),
        1,
        "the 529 without an error type; not the proxy's own 503",
      );
    },
  );

  await t.step("credential state: one series per state", () => {
    assert.equal(
      sampleValue(m, "flow_proxy_credential_state", {
        credential: "primary-1",
        state: "ok",
      }),
      1,
    );
    assert.equal(
      sampleValue(m, "flow_proxy_credential_state", {
        credential: "primary-1",
        state: "failed",
      }),
      0,
    );
    assert.equal(
      sampleValue(m, "flow_proxy_credential_state", {
        credential: "primary-2",
        state: "failed",
      }),
      1,
    );
    assert.equal(
      sampleValue(m, "flow_proxy_credential_state", {
        credential: "backup",
        state: "cooling",
      }),
      1,
    );
    assert.equal(sumOf(m, "flow_proxy_credential_state"), 3);
  });

  await t.step("failovers per credential, zero included", () => {
    assert.equal(
      sampleValue(m, "flow_proxy_failovers_total", { credential: "primary-1" }),
      0,
    );
    assert.equal(
      sampleValue(m, "flow_proxy_failovers_total", { credential: "primary-2" }),
      2,
    );
    assert.equal(
      sampleValue(m, "flow_proxy_failovers_total", { credential: "backup" }),
      1,
    );
  });

  await t.step("tokens by credential, model and direction", () => {
    const tokens = (credential: string, model: string, direction: string) =>
      sampleValue(m, "flow_proxy_tokens_total", {
        credential,
        model,
        direction,
      });
    assert.equal(tokens("primary-1", "gpt-4o", "in"), 150);
    assert.equal(tokens("primary-1", "gpt-4o", "out"), 27);
    assert.equal(tokens("primary-1", "gpt-4o", "cache_read"), 32);
    assert.equal(
      tokens("primary-2", "anthropic.claude-4-5-sonnet", "cache_write"),
      1000,
    );
    assert.equal(
      tokens("primary-2", "unknown", "in"),
      8,
      "a record without a model",
    );
    assert.equal(tokens("primary-2", "unknown", "out"), undefined);
  });

  await t.step("log store counters for the stores that reported", () => {
    assert.equal(
      sampleValue(m, "flow_proxy_log_store_written_total", { store: "sqlite" }),
      15,
    );
    assert.equal(
      sampleValue(m, "flow_proxy_log_store_dropped_total", { store: "sqlite" }),
      2,
    );
    assert.equal(
      sampleValue(m, "flow_proxy_log_store_failures_total", {
        store: "sqlite",
      }),
      1,
    );
    assert.equal(
      sampleValue(m, "flow_proxy_log_store_queue_depth", { store: "sqlite" }),
      3,
    );
    assert.equal(
      sampleValue(m, "flow_proxy_log_store_queue_depth", {
        store: "clickhouse",
      }),
      undefined,
    );
  });

  await t.step("every family has HELP and TYPE", () => {
    for (const [name, type] of m.types) {
      assert.ok(name.startsWith("flow_proxy_"), name);
      assert.ok(m.help.get(name)!.length > 0, `HELP of ${name}`);
      if (type === "counter") assert.ok(name.endsWith("_total"), name);
    }
    assert.equal(
      m.types.get("flow_proxy_request_duration_seconds"),
      "histogram",
    );
    assert.equal(m.types.get("flow_proxy_in_flight_requests"), "gauge");
  });
});

Deno.test("Metrics sums the counters of 2 workers sharing one region", async () => {
  const region = createSharedState().metrics;
  const count = 20_000;
  const gate = new SharedArrayBuffer(4);
  const workers = [0, 1].map(() =>
    new Worker(new URL("./metrics_worker.ts", import.meta.url), {
      type: "module",
    })
  );
  try {
    const ready: Promise<void>[] = [];
    const done: Promise<void>[] = [];
    for (const worker of workers) {
      let onReady!: () => void;
      ready.push(new Promise<void>((resolve) => onReady = resolve));
      done.push(
        new Promise<void>((resolve, reject) => {
          worker.onmessage = (event) =>
            event.data === "ready" ? onReady() : resolve();
          worker.onerror = (event) => {
            event.preventDefault();
            reject(new Error(`Worker failed: ${event.message}`));
          };
        }),
      );
      worker.postMessage({ region, count, gate } satisfies WorkerTask);
    }
    await Promise.all(ready);
    const flag = new Int32Array(gate);
    Atomics.store(flag, 0, 1);
    Atomics.notify(flag, 0);
    await Promise.all(done);
  } finally {
    for (const worker of workers) worker.terminate();
  }
  const m = scrape(new Metrics(region));
  assert.equal(sumOf(m, "flow_proxy_requests_total"), 2 * count);
  for (let c = 0; c < 3; c++) {
    const expected = 2 * Math.ceil((count - c) / 3);
    const credential = CREDENTIALS[c].name;
    assert.equal(
      sampleValue(m, "flow_proxy_requests_total", {
        credential,
        route: "chat",
        status_class: "2xx",
      }),
      expected,
    );
    assert.equal(
      sampleValue(m, "flow_proxy_failovers_total", { credential }),
      expected,
    );
  }
  assert.equal(
    sampleValue(m, "flow_proxy_request_duration_seconds_count", {
      route: "chat",
    }),
    2 * count,
  );
  assert.equal(
    sampleValue(m, "flow_proxy_request_duration_seconds_sum", {
      route: "chat",
    }),
    2 * count * 1.5,
  );
  assert.equal(
    sampleValue(m, "flow_proxy_ttft_seconds_bucket", {
      route: "chat",
      le: "0.25",
    }),
    0,
  );
  assert.equal(
    sampleValue(m, "flow_proxy_ttft_seconds_bucket", {
      route: "chat",
      le: "0.5",
    }),
    2 * count,
  );
  assert.equal(sampleValue(m, "flow_proxy_in_flight_requests"), 0);
  assert.equal(
    sumOf(m, "flow_proxy_tokens_total", { direction: "in" }),
    2 * count * 10,
  );
  assert.equal(
    sumOf(m, "flow_proxy_tokens_total", { direction: "out" }),
    2 * count * 5,
  );
  // Both workers interned the same names; the label set stays one series per pair.
  const models = new Set(
    m.samples.filter((s) => s.name === "flow_proxy_tokens_total").map((s) =>
      s.labels.model
    ),
  );
  assert.deepEqual([...models].sort(), [...TEST_MODELS].sort());
});

Deno.test("Metrics caps model labels at MAX_MODELS names", () => {
  const metrics = new Metrics(freshRegion());
  const distinct = MAX_MODELS + 16;
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < distinct; i++) {
      metrics.observe(makeRecord({ model: `model-${i}`, tokensIn: 1 }), 0);
    }
  }
  const m = scrape(metrics);
  const series = m.samples.filter((s) => s.name === "flow_proxy_tokens_total");
  assert.equal(series.length, MAX_MODELS + 1);
  assert.equal(
    sampleValue(m, "flow_proxy_tokens_total", {
      credential: "primary-1",
      model: "model-0",
      direction: "in",
    }),
    2,
  );
  assert.equal(
    sampleValue(m, "flow_proxy_tokens_total", {
      credential: "primary-1",
      model: "other",
      direction: "in",
    }),
    2 * 16,
  );
  assert.equal(sumOf(m, "flow_proxy_tokens_total"), 2 * distinct);
});

Deno.test("Metrics truncates long model names to 64 bytes of valid UTF-8", () => {
  const metrics = new Metrics(freshRegion());
  const long = "é".repeat(40); // 80 bytes
  metrics.observe(makeRecord({ model: long, tokensOut: 3 }), 0);
  const m = scrape(metrics);
  const sample = m.samples.find((s) => s.name === "flow_proxy_tokens_total")!;
  assert.equal(sample.labels.model, "é".repeat(32));
  assert.equal(sample.value, 3);
});

Deno.test("Metrics escapes label values and merges credentials that share a name", () => {
  const metrics = new Metrics(freshRegion());
  const odd = 'we"ird\\name\nline';
  const credentials: CredentialView[] = [
    { name: odd, state: "ok" },
    { name: "dup", state: "ok" },
    { name: "dup", state: "probing" },
  ];
  metrics.observe(makeRecord({ model: 'm"o\\d\nel', tokensIn: 4 }), 0);
  metrics.observe(makeRecord({}), 1);
  metrics.observe(makeRecord({}), 2);
  metrics.failover(1);
  metrics.failover(2);
  const text = metrics.render(options(credentials));
  assert.ok(text.includes('credential="we\\"ird\\\\name\\nline"'), text);
  const m = parsePrometheusText(text);
  assert.equal(
    sampleValue(m, "flow_proxy_tokens_total", {
      credential: odd,
      model: 'm"o\\d\nel',
      direction: "in",
    }),
    4,
  );
  assert.equal(
    sampleValue(m, "flow_proxy_requests_total", {
      credential: "dup",
      route: "chat",
      status_class: "2xx",
    }),
    2,
  );
  assert.equal(
    sampleValue(m, "flow_proxy_failovers_total", { credential: "dup" }),
    2,
  );
  assert.equal(
    sampleValue(m, "flow_proxy_credential_state", {
      credential: "dup",
      state: "ok",
    }),
    1,
  );
  assert.equal(
    sampleValue(m, "flow_proxy_credential_state", {
      credential: "dup",
      state: "probing",
    }),
    1,
  );
});

Deno.test("Metrics names counters of a credential index no longer configured 'unknown'", () => {
  const metrics = new Metrics(freshRegion());
  metrics.observe(makeRecord({}), 5);
  metrics.observe(makeRecord({}), 9999);
  const m = scrape(metrics);
  assert.equal(
    sampleValue(m, "flow_proxy_requests_total", {
      credential: "unknown",
      route: "chat",
      status_class: "2xx",
    }),
    1,
  );
  assert.equal(
    sampleValue(m, "flow_proxy_requests_total", {
      credential: "none",
      route: "chat",
      status_class: "2xx",
    }),
    1,
  );
});

Deno.test("routeFamily() maps request paths to route families", () => {
  const cases: [string, string][] = [
    ["/v1/chat/completions", "chat"],
    ["/flow-llm-proxy/v1/chat/completions", "chat"],
    ["/v1/completions", "chat"],
    ["/v1/messages", "messages"],
    ["/v1/messages/count_tokens", "messages"],
    ["/v1/responses", "responses"],
    ["/v1/responses/resp_1", "responses"],
    ["/v1/embeddings", "embeddings"],
    ["/v1/models", "models"],
    ["/v1/models/gpt-4o", "models"],
    ["/v1/modelsx", "other"],
    ["/healthz", "other"],
    ["/", "other"],
  ];
  for (const [path, family] of cases) {
    assert.equal(routeFamily(path), family, path);
  }
});

Deno.test("Metrics counts request rewrites by kind, every kind shown from 0", () => {
  const metrics = new Metrics(freshRegion());
  const before = scrape(metrics);
  for (
    const kind of [
      "model",
      "beta",
      "max_tokens",
      "thinking",
      "context_management",
      "output_config",
      "system_message",
    ]
  ) {
    assert.equal(
      sampleValue(before, "flow_proxy_request_rewrites_total", { kind }),
      0,
      kind,
    );
  }
  metrics.countRewrites(["beta", "thinking"]);
  metrics.countRewrites(["beta", "not-a-kind"]);
  const after = scrape(metrics);
  assert.equal(
    sampleValue(after, "flow_proxy_request_rewrites_total", { kind: "beta" }),
    2,
  );
  assert.equal(
    sampleValue(after, "flow_proxy_request_rewrites_total", {
      kind: "thinking",
    }),
    1,
  );
  assert.equal(sumOf(after, "flow_proxy_request_rewrites_total"), 3);
});

Deno.test("Metrics counts model mappings by the kind of rule", () => {
  const metrics = new Metrics(freshRegion());
  for (const rule of ["alias", "pattern", "builtin", "default"]) {
    assert.equal(
      sampleValue(scrape(metrics), "flow_proxy_model_mappings_total", { rule }),
      0,
      rule,
    );
  }
  metrics.countMapping("alias");
  metrics.countMapping("pattern:team-*");
  metrics.countMapping("builtin:claude-opus-newest");
  metrics.countMapping("builtin:gpt");
  metrics.countMapping("default:chat");
  metrics.countMapping("flow-name");
  const after = scrape(metrics);
  const value = (rule: string) =>
    sampleValue(after, "flow_proxy_model_mappings_total", { rule });
  assert.deepEqual(
    ["alias", "pattern", "builtin", "default"].map(value),
    [1, 1, 2, 1],
  );
  assert.equal(sumOf(after, "flow_proxy_model_mappings_total"), 5);
});

Deno.test("Metrics counts translated requests by client API and Flow API", () => {
  const metrics = new Metrics(freshRegion());
  const before = scrape(metrics);
  assert.equal(
    sampleValue(before, "flow_proxy_translations_total", {
      from: "responses",
      to: "chat",
    }),
    0,
  );
  // Every pair of different APIs is shown from 0: 4 × 3.
  assert.equal(
    before.samples.filter((s) => s.name === "flow_proxy_translations_total")
      .length,
    12,
  );
  metrics.countTranslation("responses->chat");
  metrics.countTranslation("responses->chat");
  metrics.countTranslation("gemini->chat");
  metrics.countTranslation("chat->chat");
  metrics.countTranslation("fax->chat");
  const after = scrape(metrics);
  assert.equal(
    sampleValue(after, "flow_proxy_translations_total", {
      from: "responses",
      to: "chat",
    }),
    2,
  );
  assert.equal(
    sampleValue(after, "flow_proxy_translations_total", {
      from: "gemini",
      to: "chat",
    }),
    1,
  );
  assert.equal(sumOf(after, "flow_proxy_translations_total"), 3);
});

Deno.test("Metrics counts budget crossings by measure and threshold", () => {
  const metrics = new Metrics(freshRegion());
  const value = (measure: string, percent: string) =>
    sampleValue(scrape(metrics), "flow_proxy_budget_crossings_total", {
      measure,
      percent,
    });
  assert.equal(value("spend", "100"), 0);
  metrics.countBudgetCrossing("tokens", 80);
  metrics.countBudgetCrossing("tokens", 80);
  metrics.countBudgetCrossing("spend", 100);
  assert.equal(value("tokens", "80"), 2);
  assert.equal(value("tokens", "100"), 0);
  assert.equal(value("spend", "100"), 1);
});
