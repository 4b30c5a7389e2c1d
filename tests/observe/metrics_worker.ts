/**
 * Worker for metrics_test.ts: maps the shared metrics region sent by the test,
 * says "ready", waits at the gate so both workers write at the same time,
 * observes `count` records built by {@linkcode testRecord}, and says "done".
 */
/// <reference lib="deno.worker" />
import { Metrics } from "../../src/observe/metrics.ts";
import type { Region } from "../../src/base/shared_state.ts";
import { testRecord } from "./metrics_records.ts";

/** The message the test sends. */
export interface WorkerTask {
  region: Region;
  count: number;
  /** Int32[1]: the workers start when the test sets it to 1. */
  gate: SharedArrayBuffer;
}

self.onmessage = (event: MessageEvent<WorkerTask>) => {
  const { region, count, gate } = event.data;
  const metrics = new Metrics(region);
  const flag = new Int32Array(gate);
  self.postMessage("ready");
  Atomics.wait(flag, 0, 0);
  for (let i = 0; i < count; i++) {
    metrics.inFlight(1);
    metrics.observe(testRecord(i), i % 3);
    metrics.failover(i % 3);
    metrics.inFlight(-1);
  }
  self.postMessage("done");
};
