/**
 * Nothing grows without bound: after a few thousand requests of every kind
 * (JSON, SSE, cancelled, failed, timed out), every queue and map of the hot
 * path is back to its resting size or capped.
 */
import assert from "node:assert/strict";
import { Balancer, resetHealth } from "../../src/upstream/balancer.ts";
import { signFlowToken } from "../../src/upstream/jwt.ts";
import { getLog } from "../../src/base/logging.ts";
import { Metrics } from "../../src/observe/metrics.ts";
import type { RequestRecord } from "../../src/request_log/record.ts";
import {
  RecordQueue,
  type RecordSink,
} from "../../src/request_log/record_queue.ts";
import { createHandler } from "../../src/proxy/handler.ts";
import { createSharedState } from "../../src/base/shared_state.ts";
import { MockUpstream } from "../support/mock_upstream.ts";
import { testCredentials } from "../support/proxy.ts";

const INFO = {
  remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 50000 },
  completed: Promise.resolve(),
} as unknown as Deno.ServeHandlerInfo;

Deno.test("a few thousand mixed requests leave no watched call, a capped queue and a capped model table", async () => {
  const creds = testCredentials(3);
  await using upstream = MockUpstream.start({
    credentials: creds,
    behave: (r) => {
      if (r.path.endsWith("/hang")) return { kind: "hang" };
      if (r.path.endsWith("/boom")) return { kind: "status", status: 502 };
      if (r.path.endsWith("/stall")) {
        return {
          kind: "sse",
          events: ['data: {"a":1}\n\n'],
          stopAfter: 1,
          then: "stall",
        };
      }
      return undefined;
    },
  });
  const state = createSharedState();
  resetHealth(state);
  const tokens = await Promise.all(
    creds.map((c, index) => signFlowToken({ ...c, index })),
  );
  const balancer = new Balancer(state, {
    names: creds.map((c) => c.name),
    tokens,
    generation: 1,
  }, {
    backoffBase: 1000,
    backoffMax: 2000,
  });
  const metrics = new Metrics(state.metrics);

  // A store that never finishes a write: the queue must cap, drop and count.
  const stuck = Promise.withResolvers<void>();
  const sink: RecordSink = {
    name: "sqlite",
    write: () => stuck.promise,
    close: () => Promise.resolve(),
  };
  const queue = new RecordQueue([sink], {
    capacity: 500,
    batchSize: 100,
    flushIntervalMs: 10,
    closeTimeoutMs: 10,
  });
  let maxDepth = 0;

  const handler = createHandler({
    upstream: new URL(upstream.url),
    balancer: () => balancer,
    retryBodyLimit: 1024,
    maxBodySize: 1024 * 1024,
    maxAttempts: 2,
    connectTimeout: 5_000,
    headersTimeout: 200,
    idleTimeout: 200,
    cooldownDefault: 1000,
    logger: getLog("bounded-test"),
    health: () => ({ healthy: true, body: {} }),
    observer: {
      started: () => metrics.inFlight(1),
      finished(record, index) {
        metrics.inFlight(-1);
        metrics.observe(record, index);
      },
      failover: (index) => metrics.failover(index),
    },
    onRecord(record: RequestRecord) {
      queue.push([record]);
      maxDepth = Math.max(maxDepth, queue.depth);
    },
  });

  try {
    const kinds = ["json", "sse", "cancel", "boom", "hang", "stall"] as const;
    let n = 0;
    const worker = async () => {
      while (n < 3000) {
        const i = n++;
        const kind = kinds[i % kinds.length];
        if ((kind === "hang" || kind === "stall") && i % 60 >= 12) continue; // a few timeouts, not hundreds
        const path = kind === "json" || kind === "cancel"
          ? "/v1/chat/completions"
          : kind === "sse"
          ? "/v1/messages"
          : `/${kind}`;
        const controller = new AbortController();
        const res = await handler(
          new Request(`http://127.0.0.1:8899${path}`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({
              model: `model-${i % 200}`,
              stream: kind === "sse" || kind === "cancel",
            }),
            signal: controller.signal,
          }),
          INFO,
        );
        if (kind === "cancel") {
          const reader = res.body!.getReader();
          await reader.read();
          await reader.cancel();
        } else {
          await res.arrayBuffer();
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));

    assert.equal(
      handler.watching,
      0,
      "every upstream call left the deadline watcher",
    );
    assert.ok(maxDepth <= 500, `queue depth reached ${maxDepth}`);
    assert.ok(queue.dropped > 0, "overflow was counted");
    const text = metrics.render({
      credentials: balancer.health(),
      workersReady: 1,
      workersExpected: 1,
      version: "test",
    });
    const models = new Set(
      [...text.matchAll(/model="([^"]*)"/g)].map((m) => m[1]),
    );
    assert.ok(models.size <= 66, `${models.size} model label values`);
    assert.ok(
      models.has("other"),
      "models beyond the cap are folded into other",
    );
    assert.match(text, /flow_proxy_in_flight_requests 0\n/);
  } finally {
    handler.close();
    stuck.resolve();
    await queue.close();
  }
});
