/**
 * Edge cases of the handler found by the unit tests: Retry-After values V8
 * would read as dates, a nested model field, the byte count of an upload too
 * large to keep, and a log line nobody listens to.
 */
import assert from "node:assert/strict";
import { Balancer } from "../../src/upstream/balancer.ts";
import type { RequestRecord } from "../../src/request_log/record.ts";
import {
  createHandler,
  findModel,
  type ProxyHandler,
  retryAfterMs,
} from "../../src/proxy/handler.ts";
import { createSharedState } from "../../src/base/shared_state.ts";

const OPTS = { backoffBase: 10_000, backoffMax: 60_000, now: () => 1e12 };

Deno.test("retryAfterMs() does not read numbers as legacy dates", () => {
  const now = Date.UTC(2026, 0, 1);
  // Date.parse("1.5") and Date.parse("-1") are valid (legacy) dates in V8, so
  // the credential is cooled for 0 ms instead of the default cool-down.
  assert.equal(retryAfterMs("1.5", now), null);
  assert.equal(retryAfterMs("-1", now), null);
  assert.equal(retryAfterMs("2", now), 2000, "control: integers work");
});

Deno.test("findModel() takes the top-level model, not a nested one", () => {
  const body = '{"metadata":{"model":"nested"},"model":"gpt-4o"}';
  assert.equal(findModel(new TextEncoder().encode(body)), "gpt-4o");
});

/** A one-credential handler with an injected fetch, logger and record sink. */
function smallHandler(options: {
  logger: unknown;
  fetch: typeof fetch;
  onRecord: (record: RequestRecord) => void;
}): ProxyHandler {
  const b = new Balancer(
    createSharedState(),
    { names: ["a"], tokens: ["t"], generation: 1 },
    OPTS,
  );
  return createHandler({
    upstream: new URL("http://127.0.0.1:9/x"),
    balancer: () => b,
    retryBodyLimit: 10,
    maxBodySize: 1000,
    maxAttempts: 1,
    connectTimeout: 1000,
    headersTimeout: 1000,
    idleTimeout: 1000,
    cooldownDefault: 1000,
    logger: options.logger as never,
    health: () => ({ healthy: true, body: {} }),
    onRecord: options.onRecord,
    connectCheck: null,
    fetch: options.fetch,
  });
}

Deno.test("createHandler() counts bytesIn of a chunked upload too large to keep", async () => {
  const records: { bytesIn: number }[] = [];
  const handler = smallHandler({
    logger: {
      info() {},
      warn() {},
      error() {},
      debug() {},
      isEnabledFor: () => true,
    },
    onRecord: (r) => records.push({ bytesIn: r.bytesIn }),
    fetch: (async (_u: unknown, init?: RequestInit) => {
      await new Response(init?.body).arrayBuffer();
      return new Response("ok");
    }) as typeof fetch,
  });
  try {
    const res = await handler(
      new Request("http://127.0.0.1:8899/upload", {
        method: "POST",
        body: ReadableStream.from([new Uint8Array(50)]),
      }),
      {} as Deno.ServeHandlerInfo,
    );
    await res.text();
    assert.equal(records[0].bytesIn, 50);
  } finally {
    handler.close();
  }
});

Deno.test("createHandler() builds no request log line below the active level", async () => {
  const asked: string[] = [];
  const fail = () => {
    throw new Error("a line was logged below the active level");
  };
  let recorded = 0;
  const handler = smallHandler({
    logger: {
      info: fail,
      warn: fail,
      error: fail,
      debug: fail,
      isEnabledFor: (level: string) => (asked.push(level), false),
    },
    onRecord: () => recorded++,
    fetch: (() => Promise.resolve(new Response("ok"))) as typeof fetch,
  });
  try {
    const res = await handler(
      new Request("http://127.0.0.1:8899/v1/models"),
      {} as Deno.ServeHandlerInfo,
    );
    assert.equal(await res.text(), "ok");
    assert.equal(recorded, 1, "the record is still made");
    assert.deepEqual(asked, ["info"]);
  } finally {
    handler.close();
  }
});
