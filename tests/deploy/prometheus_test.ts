/**
 * The metrics exposition, alert rules and dashboard checked by promtool (from
 * Debian's `prometheus` package). Without promtool these tests fail: CI
 * installs it, and a skipped check would hide broken rules.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { Metrics, METRICS_BYTE_LENGTH } from "../../src/observe/metrics.ts";
import { renderTlsMetrics } from "../../src/observe/tls_metrics.ts";
import { renderRedisMetrics } from "../../src/server/redis_state.ts";
import { createSharedState } from "../../src/base/shared_state.ts";
import { makeRecord } from "../observe/metrics_records.ts";
import { parsePrometheusText } from "../observe/prometheus_parse.ts";

const ROOT = new URL("../../", import.meta.url);
const ALERTS = new URL("deploy/prometheus/alerts.yml", ROOT);
const ALERTS_TEST = new URL("deploy/prometheus/alerts_test.yml", ROOT);
const DASHBOARD = new URL("deploy/grafana/flow-proxy.json", ROOT);

interface Output {
  code: number;
  stdout: string;
  stderr: string;
}

async function promtool(args: string[], stdin?: string): Promise<Output> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("promtool", {
      args,
      stdin: stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Error(
        "Cannot run promtool: not installed (it comes with the Debian package prometheus: apt-get install -y prometheus)",
        { cause: error },
      );
    }
    throw error;
  }
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const { code, stdout, stderr } = await child.output();
  const decoder = new TextDecoder();
  return {
    code,
    stdout: decoder.decode(stdout),
    stderr: decoder.decode(stderr),
  };
}

function assertSuccess(output: Output, what: string): void {
  assert.equal(
    output.code,
    0,
    `${what} failed (exit ${output.code}):\n${output.stdout}${output.stderr}`,
  );
}

/** An exposition with every family populated, odd label values included. */
function busyExposition(): string {
  const metrics = new Metrics({
    buffer: new SharedArrayBuffer(METRICS_BYTE_LENGTH),
    byteOffset: 0,
    byteLength: METRICS_BYTE_LENGTH,
  });
  metrics.inFlight(1);
  metrics.observe(
    makeRecord({
      model: "gpt-4o",
      tokensIn: 10,
      tokensOut: 3,
      cacheReadTokens: 2,
      ttftMs: 120,
    }),
    0,
  );
  metrics.observe(
    makeRecord({
      path: "/v1/messages",
      model: 'claude "4.5"\\\n',
      tokensIn: 4,
      cacheWriteTokens: 9,
      ttftMs: 900,
    }),
    1,
  );
  metrics.observe(
    makeRecord({
      path: "/v1/embeddings",
      model: "text-embedding-3-small",
      tokensIn: 8,
    }),
    2,
  );
  metrics.observe(
    makeRecord({
      path: "/v1/models",
      method: "GET",
      status: 502,
      error: "upstream_unreachable",
    }),
    null,
  );
  metrics.observe(makeRecord({ status: 0, error: "client_cancel" }), 1);
  metrics.failover(1);
  metrics.logStore("sqlite", {
    written: 5,
    dropped: 1,
    failed: 1,
    queueDepth: 2,
  });
  metrics.logStore("clickhouse", { failed: 3, queueDepth: 40 });
  return metrics.render({
    credentials: [
      { name: "primary-1", state: "ok" },
      { name: 'back"up\\2', state: "cooling" },
      { name: "ünïcode", state: "failed" },
    ],
    workersReady: 2,
    workersExpected: 2,
    version: "0.1.0",
  }) + renderTlsMetrics({
    names: ["proxy.example.com", "10.0.0.1"],
    notBefore: 1_700_000_000,
    notAfter: 1_800_000_000,
    serial: "01",
    sha256: "00".repeat(32),
  }) + renderRedisMetrics(createSharedState().control);
}

/** Metric names a PromQL text refers to, histogram suffixes removed. */
function metricNames(promql: string): Set<string> {
  const names = new Set<string>();
  for (const [name] of promql.matchAll(/flow_proxy_[a-z_]+/g)) {
    names.add(name.replace(/_(bucket|sum|count)$/, ""));
  }
  return names;
}

Deno.test("Metrics.render() output passes promtool check metrics", async () => {
  const text = busyExposition();
  parsePrometheusText(text);
  const output = await promtool(["check", "metrics"], text);
  assertSuccess(output, "promtool check metrics");
  assert.equal(output.stdout + output.stderr, "", "no lint findings");
});

Deno.test("deploy/prometheus/alerts.yml passes promtool check rules", async () => {
  const output = await promtool(["check", "rules", fileURLToPath(ALERTS)]);
  assertSuccess(output, "promtool check rules");
  assert.match(output.stdout, /SUCCESS: \d+ rules found/);
});

Deno.test("deploy/prometheus/alerts_test.yml passes promtool test rules", async () => {
  const output = await promtool(["test", "rules", fileURLToPath(ALERTS_TEST)]);
  assertSuccess(output, "promtool test rules");
  // Every alert of alerts.yml has a case that expects it to fire.
  const rules = Deno.readTextFileSync(ALERTS);
  const tests = Deno.readTextFileSync(ALERTS_TEST);
  const alerts = [...rules.matchAll(/- alert: (\w+)/g)].map((m) => m[1]);
  assert.ok(alerts.length >= 5, alerts.join());
  for (const alert of alerts) {
    const firing = new RegExp(
      `alertname: ${alert}\\n\\s+exp_alerts:\\n\\s+- exp_labels:`,
    );
    assert.match(tests, firing, `a test case where ${alert} fires`);
  }
  assert.match(
    tests,
    /exp_alerts: \[\]/,
    "a case where an alert does not fire",
  );
});

Deno.test("deploy files refer only to metrics that flow-proxy exports", () => {
  const exported = new Set(parsePrometheusText(busyExposition()).types.keys());
  const used = new Set([
    ...metricNames(Deno.readTextFileSync(ALERTS)),
    ...metricNames(Deno.readTextFileSync(DASHBOARD)),
  ]);
  assert.ok(used.size >= 10, [...used].join());
  for (const name of used) {
    assert.ok(exported.has(name), `${name} is not exported`);
  }
});

Deno.test("deploy/grafana/flow-proxy.json is importable and its queries are valid PromQL", async (t) => {
  const dashboard = JSON.parse(Deno.readTextFileSync(DASHBOARD));
  const panels: Panel[] = dashboard.panels.filter((p: Panel) =>
    p.type !== "row"
  );

  await t.step("a datasource variable that every panel and query uses", () => {
    const variable = dashboard.templating.list.find((v: { type: string }) =>
      v.type === "datasource"
    );
    assert.equal(variable?.query, "prometheus");
    for (const panel of panels) {
      assert.equal(panel.datasource.uid, `\${${variable.name}}`, panel.title);
      for (const target of panel.targets) {
        assert.equal(
          target.datasource.uid,
          `\${${variable.name}}`,
          panel.title,
        );
      }
    }
    assert.equal(typeof dashboard.uid, "string");
    assert.equal(typeof dashboard.title, "string");
    assert.equal(
      new Set(dashboard.panels.map((p: Panel) => p.id)).size,
      dashboard.panels.length,
      "unique panel ids",
    );
  });

  await t.step("the panels the operations guide promises", () => {
    const all = panels.flatMap((p) => p.targets.map((target) => target.expr))
      .join("\n");
    assert.match(
      all,
      /sum by \(route\) \(rate\(flow_proxy_requests_total/,
      "requests/s by route",
    );
    assert.match(
      all,
      /histogram_quantile\(0\.95, sum by \(le, route\) \(rate\(flow_proxy_request_duration_seconds_bucket/,
    );
    assert.match(
      all,
      /histogram_quantile\(0\.5, sum by \(le, route\) \(rate\(flow_proxy_ttft_seconds_bucket/,
    );
    assert.match(
      all,
      /histogram_quantile\(0\.95, sum by \(le, route\) \(rate\(flow_proxy_ttft_seconds_bucket/,
    );
    assert.match(all, /status_class="5xx"/, "error rate");
    assert.match(all, /flow_proxy_in_flight_requests/);
    assert.match(all, /flow_proxy_credential_state/);
    assert.match(
      all,
      /sum by \(model, direction\) \(rate\(flow_proxy_tokens_total/,
      "tokens by model",
    );
  });

  await t.step(
    "promtool accepts every query (as recording rules)",
    async () => {
      // Grafana's variables are replaced by what they expand to.
      const rules = panels.flatMap((panel) => panel.targets).map(
        (target, i) => {
          const expr = target.expr
            .replaceAll("$__rate_interval", "5m")
            .replaceAll("$__range", "1h")
            .replaceAll("$instance", ".*");
          return `      - record: dashboard:query_${i}\n        expr: ${
            JSON.stringify(expr)
          }\n`;
        },
      );
      const file = await Deno.makeTempFile({ suffix: ".yml" });
      try {
        await Deno.writeTextFile(
          file,
          `groups:\n  - name: dashboard\n    rules:\n${rules.join("")}`,
        );
        const output = await promtool(["check", "rules", file]);
        assertSuccess(output, "promtool check rules (dashboard queries)");
        assert.match(
          output.stdout,
          new RegExp(`SUCCESS: ${rules.length} rules found`),
        );
      } finally {
        await Deno.remove(file);
      }
    },
  );
});

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource: { uid: string };
  targets: { expr: string; datasource: { uid: string } }[];
}
