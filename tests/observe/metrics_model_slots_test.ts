import assert from "node:assert/strict";
import {
  MAX_MODELS,
  Metrics,
  METRICS_BYTE_LENGTH,
} from "../../src/observe/metrics.ts";
import { makeRecord } from "./metrics_records.ts";
import { parsePrometheusText, sampleValue } from "./prometheus_parse.ts";

function render(metrics: Metrics) {
  return parsePrometheusText(metrics.render({
    credentials: [{ name: "primary-1", state: "ok" }],
    workersReady: 1,
    workersExpected: 1,
    version: "test",
  }));
}

function tokensIn(metrics: Metrics, model: string): number | undefined {
  return sampleValue(render(metrics), "flow_proxy_tokens_total", {
    credential: "primary-1",
    model,
    direction: "in",
  });
}

Deno.test("Metrics.observe() gives model slots only to names the upstream answered with", async (t) => {
  const region = {
    buffer: new SharedArrayBuffer(METRICS_BYTE_LENGTH),
    byteOffset: 0,
    byteLength: METRICS_BYTE_LENGTH,
  };
  const metrics = new Metrics(region);

  await t.step("refused requests for junk names take no slot", () => {
    for (let i = 0; i < 5 * MAX_MODELS; i++) {
      metrics.observe(
        makeRecord({ model: `junk-${i}`, status: 400, tokensIn: 1 }),
        0,
        { answeredModel: null },
      );
    }
    assert.equal(tokensIn(metrics, "other"), 5 * MAX_MODELS);
  });

  await t.step("a junk name the upstream answered as another model", () => {
    metrics.observe(
      makeRecord({ model: "junk-x", status: 200, tokensIn: 2 }),
      0,
      { answeredModel: "gpt-4o-mini" },
    );
    assert.equal(tokensIn(metrics, "gpt-4o-mini"), 2);
    assert.equal(tokensIn(metrics, "junk-x"), undefined);
  });

  await t.step("a real model answered gets its own label", () => {
    metrics.observe(
      makeRecord({ model: "gpt-4o", status: 200, tokensIn: 7 }),
      0,
      { answeredModel: "gpt-4o" },
    );
    assert.equal(tokensIn(metrics, "gpt-4o"), 7);
  });

  await t.step("an error for a model that has a slot counts under it", () => {
    metrics.observe(
      makeRecord({ model: "gpt-4o", status: 429, tokensIn: 3 }),
      0,
      { answeredModel: null },
    );
    assert.equal(tokensIn(metrics, "gpt-4o"), 10);
  });

  await t.step("an error response that names a new model takes no slot", () => {
    metrics.observe(
      makeRecord({ model: "junk-y", status: 404, tokensIn: 1 }),
      0,
      { answeredModel: "junk-y" },
    );
    assert.equal(tokensIn(metrics, "junk-y"), undefined);
    assert.equal(tokensIn(metrics, "other"), 5 * MAX_MODELS + 1);
  });
});
