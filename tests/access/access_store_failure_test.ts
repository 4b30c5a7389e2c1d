/**
 * A store that throws never fails a request and never leaves `in_flight`
 * raised: what `onUse` (the last-used bookkeeping) throws is reported and the
 * request goes on, and whatever else a proxied request throws is answered 500
 * with its record finished.
 */
import assert from "node:assert/strict";
import type { Logger } from "@logtape/logtape";
import { createAccessControl } from "../../src/access/access.ts";
import { Balancer, resetHealth } from "../../src/upstream/balancer.ts";
import {
  hashKey,
  KeyVerifier,
  type StoredKey,
} from "../../src/access/client_keys.ts";
import type { RequestRecord } from "../../src/request_log/record.ts";
import type { AccessControl } from "../../src/access/contract.ts";
import { createHandler } from "../../src/proxy/handler.ts";
import { createSharedState } from "../../src/base/shared_state.ts";
import { TEST_HANDLER_SETTINGS } from "../support/handler_settings.ts";

const KEY = "fpk_store-failure-test-key-000000000000000000000";
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
  fatal() {},
  trace() {},
  isEnabledFor: () => false,
} as unknown as Logger;

function storedKey(): StoredKey {
  return {
    id: 1,
    name: "ci",
    prefix: KEY.slice(0, 10),
    hash: hashKey(KEY),
    createdAt: 0,
    expiresAt: null,
    rpm: null,
    burst: null,
    models: null,
    revokedAt: null,
    lastUsedAt: null,
  };
}

/** A handler in front of a fake upstream, counting what the observer sees. */
function setup(access: AccessControl) {
  const state = createSharedState();
  resetHealth(state);
  const balancer = new Balancer(state, {
    names: ["a"],
    tokens: ["token-a"],
    generation: 1,
  }, { backoffBase: 10_000, backoffMax: 60_000, logger: SILENT });
  const counts = { started: 0, finished: 0 };
  const records: RequestRecord[] = [];
  const handler = createHandler({
    ...TEST_HANDLER_SETTINGS,
    balancer: () => balancer,
    logger: SILENT,
    health: () => ({ healthy: true, body: {} }),
    access,
    observer: {
      started: () => counts.started++,
      finished: () => counts.finished++,
      failover() {},
    },
    onRecord: (r) => records.push(structuredClone(r)),
    fetch: (() => Promise.resolve(Response.json({ ok: true }))) as typeof fetch,
    connectCheck: null,
  });
  return { handler, counts, records };
}

function keyed(path = "/v1/chat/completions"): Request {
  return new Request(`http://127.0.0.1:8899${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-api-key": KEY },
    body: JSON.stringify({ model: "gpt-4o", messages: [] }),
  });
}

Deno.test("createAccessControl() lets a request through when onUse throws, and reports the error", async () => {
  const reported: unknown[] = [];
  const access = createAccessControl({
    keys: new KeyVerifier([storedKey()]),
    requireKey: false,
    limiter: null,
    defaultRpm: 0,
    defaultBurst: 0,
    ipFilter: null,
    onUse() {
      throw new Error("database is locked");
    },
    onUseError: (err) => reported.push(err),
  });
  const { handler, counts, records } = setup(access);
  try {
    const res = await handler(keyed(), INFO);
    assert.equal(res.status, 200);
    await res.body?.cancel();
    assert.equal(reported.length, 1);
    assert.match((reported[0] as Error).message, /database is locked/);
    assert.deepEqual(counts, { started: 1, finished: 1 });
    assert.equal(records[0].client, "ci");
  } finally {
    handler.close();
  }
});

Deno.test("createHandler() answers 500 and finishes the record when an access check throws", async (t) => {
  const throwing = function () {
    throw new Error("store exploded");
  } as unknown as AccessControl;
  throwing.early = () => null;
  const { handler, counts, records } = setup(throwing);
  try {
    await t.step("OpenAI shape", async () => {
      const res = await handler(keyed(), INFO);
      assert.equal(res.status, 500);
      const body = await res.json();
      assert.equal(body.error.type, "internal_error");
      assert.doesNotMatch(JSON.stringify(body), /store exploded/);
    });
    await t.step("Anthropic shape", async () => {
      const res = await handler(keyed("/v1/messages"), INFO);
      assert.equal(res.status, 500);
      assert.equal((await res.json()).type, "error");
    });
    assert.deepEqual(counts, { started: 2, finished: 2 });
    assert.deepEqual(records.map((r) => [r.status, r.error]), [
      [500, "internal_error"],
      [500, "internal_error"],
    ]);
  } finally {
    handler.close();
  }
});

Deno.test("KeyVerifier.enforced stays true once a key was loaded, even if a later set is empty", () => {
  const verifier = new KeyVerifier();
  assert.equal(verifier.enforced, false);
  verifier.load([storedKey()]);
  verifier.load([]);
  assert.equal(verifier.size, 0);
  assert.equal(verifier.enforced, true);
  const access = createAccessControl({
    keys: verifier,
    requireKey: false,
    limiter: null,
    defaultRpm: 0,
    defaultBurst: 0,
    ipFilter: null,
  });
  const verdict = access(
    new Request("http://127.0.0.1:8899/v1/models"),
    INFO,
    null,
  );
  assert.equal(verdict.ok, false);
});
