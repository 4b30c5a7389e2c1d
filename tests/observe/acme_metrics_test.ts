import assert from "node:assert/strict";
import { Metrics } from "../../src/observe/metrics.ts";
import { createSharedState } from "../../src/base/shared_state.ts";
import { parsePrometheusText, sampleValue } from "./prometheus_parse.ts";

Deno.test("Metrics.countAcmeOrder() counts flow_proxy_acme_orders_total by outcome", () => {
  const metrics = new Metrics(createSharedState().metrics);
  metrics.countAcmeOrder("failed");
  metrics.countAcmeOrder("failed");
  metrics.countAcmeOrder("issued");
  const text = metrics.render({
    credentials: [],
    workersReady: 1,
    workersExpected: 1,
    version: "0.0.0",
  });
  const scraped = parsePrometheusText(text);
  const name = "flow_proxy_acme_orders_total";
  assert.equal(sampleValue(scraped, name, { outcome: "issued" }), 1);
  assert.equal(sampleValue(scraped, name, { outcome: "failed" }), 2);
});
