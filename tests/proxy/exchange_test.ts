import assert from "node:assert/strict";
import type { Logger } from "@logtape/logtape";
import { Exchange } from "../../src/proxy/exchange.ts";
import type { HandlerContext } from "../../src/proxy/context.ts";
import type { RequestRecord } from "../../src/request_log/record.ts";

const INFO = {
  remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 50000 },
  completed: Promise.resolve(),
} as unknown as Deno.ServeHandlerInfo;

function context() {
  const lines: string[] = [];
  const records: RequestRecord[] = [];
  const counts = { started: 0, finished: 0 };
  const answered: (string | null)[] = [];
  const logger = {
    info: (m: string) => lines.push(`info ${m}`),
    warn: (m: string) => lines.push(`warn ${m}`),
    isEnabledFor: () => true,
  } as unknown as Logger;
  const ctx = {
    logger,
    observer: {
      started: () => counts.started++,
      finished(_r: RequestRecord, _i: number | null, a?: {
        answeredModel: string | null;
      }) {
        counts.finished++;
        answered.push(a?.answeredModel ?? null);
      },
      failover() {},
    },
    onRecord: (r: RequestRecord) => records.push(structuredClone(r)),
  } as unknown as HandlerContext;
  return { ctx, lines, records, counts, answered };
}

function exchange(ctx: HandlerContext, path = "/v1/messages"): Exchange {
  return new Exchange(ctx, {
    req: new Request(`http://127.0.0.1:8899${path}`, { method: "POST" }),
    info: INFO,
    target: `http://upstream${path}`,
    path,
    id: "req-1",
    family: path === "/v1/messages" ? "anthropic" : "openai",
  });
}

Deno.test("Exchange.finish() completes the record once, reports it and logs one line", () => {
  const { ctx, lines, records, counts } = context();
  const call = exchange(ctx);
  assert.equal(counts.started, 1);
  call.record.credential = "a";
  call.finish(200, null);
  call.finish(500, "internal_error");
  assert.equal(call.finished, true);
  assert.deepEqual(counts, { started: 1, finished: 1 });
  assert.deepEqual(records.map((r) => [r.status, r.error]), [[200, null]]);
  assert.equal(lines.length, 1);
  assert.match(
    lines[0],
    /^info Using configuration 'a' for POST \/v1\/messages: 200 in \d+\.\d ms \[req-1\]$/,
  );
});

Deno.test("Exchange.fail() answers in the client's shape and records the type", async () => {
  const { ctx, records, lines } = context();
  const res = exchange(ctx).fail("upstream_timeout", "Too slow", {
    "retry-after": "1",
  });
  assert.equal(res.status, 504);
  assert.equal(res.headers.get("x-request-id"), "req-1");
  assert.equal(res.headers.get("retry-after"), "1");
  assert.deepEqual(await res.json(), {
    type: "error",
    error: { type: "upstream_timeout", message: "Too slow" },
  });
  assert.deepEqual(records.map((r) => [r.status, r.error]), [
    [504, "upstream_timeout"],
  ]);
  assert.match(
    lines[0],
    /^warn Using no configuration .* \(upstream_timeout\)/,
  );
});

Deno.test("Exchange.refuse() renders an access denial with its headers and reason", async () => {
  const { ctx, records } = context();
  const res = exchange(ctx, "/v1/chat/completions").refuse({
    ok: false,
    type: "rate_limited",
    message: "Slow down",
    headers: [["retry-after", "3"]],
    client: "team",
    reason: "rate_limited",
  });
  assert.equal(res.status, 429);
  assert.equal(res.headers.get("retry-after"), "3");
  assert.equal((await res.json()).error.code, "rate_limited");
  assert.deepEqual(records.map((r) => [r.status, r.error, r.client]), [
    [429, "rate_limited", "team"],
  ]);
});

Deno.test("Exchange.applyUsage() fills the record and reports the answered model", () => {
  const { ctx, records, answered } = context();
  const call = exchange(ctx);
  call.applyUsage({
    model: "claude",
    ttftMs: 12,
    tokensIn: 3,
    tokensOut: 4,
    cacheReadTokens: null,
    cacheWriteTokens: 1,
  });
  call.finish(200, null);
  assert.equal(records[0].model, "claude", "the asked model was unknown");
  assert.equal(records[0].tokensOut, 4);
  assert.deepEqual(answered, ["claude"]);
});
