import assert from "node:assert/strict";
import { resolveSettings } from "../../src/config/settings.ts";
import { createSharedState } from "../../src/base/shared_state.ts";
import { ClientMetrics } from "../../src/observe/client_metrics.ts";
import { Metrics } from "../../src/observe/metrics.ts";
import type { RequestRecord } from "../../src/request_log/record.ts";
import type { RecordSink } from "../../src/request_log/record_queue.ts";
import { openRecordPipeline } from "../../src/server/record_pipeline.ts";
import { makeRecord } from "../observe/metrics_records.ts";

function settings(args: string[] = []) {
  const parsed = resolveSettings(["--no-db", ...args]);
  assert(!parsed.help);
  return parsed.settings;
}

Deno.test("openRecordPipeline() counts clients and hands records to the store's sink", async () => {
  const state = createSharedState();
  const metrics = new Metrics(state.metrics);
  const clientMetrics = new ClientMetrics(state.clients);
  const written: RequestRecord[] = [];
  let closed = false;
  const sink: RecordSink = {
    name: "sqlite",
    write(batch) {
      written.push(...batch);
      return Promise.resolve();
    },
    close() {
      closed = true;
      return Promise.resolve();
    },
  };
  const pipeline = openRecordPipeline(settings(), {
    metrics,
    clientMetrics,
    store: { requestLog: sink },
  });
  pipeline.onRecords([makeRecord({ id: "a", client: "ci" })]);
  assert.match(
    clientMetrics.render(),
    /^flow_proxy_client_requests_total\{client="ci"\} 1$/m,
  );
  await pipeline.close();
  assert.deepEqual(written.map((r) => r.id), ["a"]);
  assert.equal(closed, true);
});

Deno.test("openRecordPipeline() without stores still counts clients", async () => {
  const state = createSharedState();
  const clientMetrics = new ClientMetrics(state.clients);
  const pipeline = openRecordPipeline(settings(), {
    metrics: new Metrics(state.metrics),
    clientMetrics,
    store: null,
  });
  pipeline.onRecords([makeRecord({ client: "ci" })]);
  assert.match(
    clientMetrics.render(),
    /^flow_proxy_client_requests_total\{client="ci"\} 1$/m,
  );
  await pipeline.close();
});
