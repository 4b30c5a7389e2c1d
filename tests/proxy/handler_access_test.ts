import assert from "node:assert/strict";
import type { Logger } from "@logtape/logtape";
import { createAccessControl } from "../../src/access/access.ts";
import { KeyVerifier } from "../../src/access/client_keys.ts";
import { Balancer, resetHealth } from "../../src/upstream/balancer.ts";
import { createSharedState } from "../../src/base/shared_state.ts";
import type { RequestRecord } from "../../src/request_log/record.ts";
import { createHandler } from "../../src/proxy/handler.ts";
import { TEST_HANDLER_SETTINGS } from "../support/handler_settings.ts";

const INFO = {
  remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 50000 },
  completed: Promise.resolve(),
} as unknown as Deno.ServeHandlerInfo;
const SILENT = {
  debug() {},
  info() {},
  warn() {},
  warning() {},
  error() {},
  isEnabledFor: () => false,
} as unknown as Logger;

Deno.test("createHandler answers an access refusal in the client's API shape, with its headers", async (t) => {
  const state = createSharedState();
  resetHealth(state);
  const balancer = new Balancer(state, {
    names: ["a"],
    tokens: ["token-a"],
    generation: 1,
  }, { backoffBase: 1000, backoffMax: 1000, logger: SILENT });
  const records: RequestRecord[] = [];
  let fetched = 0;
  const handler = createHandler({
    ...TEST_HANDLER_SETTINGS,
    balancer: () => balancer,
    logger: SILENT,
    health: () => ({ healthy: true, body: {} }),
    access: createAccessControl({
      keys: new KeyVerifier([]),
      requireKey: true,
      limiter: null,
      defaultRpm: 0,
      defaultBurst: 0,
      ipFilter: null,
    }),
    onRecord: (r) => records.push(structuredClone(r)),
    fetch: (() => {
      fetched++;
      return Promise.resolve(Response.json({}));
    }) as typeof fetch,
    connectCheck: null,
  });
  const message =
    "Missing API key: send it as 'Authorization: Bearer <API key>' or 'x-api-key: <API key>'";
  try {
    await t.step("Anthropic shape on /v1/messages", async () => {
      const res = await handler(
        new Request("http://127.0.0.1:8899/v1/messages", {
          method: "POST",
          headers: { "x-request-id": "req-1" },
          body: "{}",
        }),
        INFO,
      );
      assert.equal(res.status, 401);
      assert.deepEqual([...res.headers], [
        ["content-type", "application/json"],
        ["www-authenticate", 'Bearer realm="flow-proxy"'],
        ["x-request-id", "req-1"],
      ]);
      assert.equal(
        await res.text(),
        JSON.stringify({
          type: "error",
          error: { type: "unauthorized", message },
        }),
      );
    });
    await t.step("OpenAI shape elsewhere", async () => {
      const res = await handler(
        new Request("http://127.0.0.1:8899/v1/chat/completions", {
          method: "POST",
          headers: { "x-request-id": "req-2" },
          body: "{}",
        }),
        INFO,
      );
      assert.equal(res.status, 401);
      assert.equal(
        await res.text(),
        JSON.stringify({
          error: { message, type: "unauthorized", code: "unauthorized" },
        }),
      );
    });
    assert.equal(fetched, 0);
    assert.deepEqual(records.map((r) => [r.status, r.error]), [
      [401, "missing_key"],
      [401, "missing_key"],
    ]);
  } finally {
    handler.close();
  }
});
