/**
 * `GET usage` by role: admin, operator and viewer see every request; a
 * member only the requests of the keys it owns (the store worker filters
 * the request log by those keys).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { adminFixture, CLI, PASSWORD } from "./helpers.ts";
import { ROLES } from "../../src/accounts/permissions.ts";
import {
  openRequestLog,
  usageSummary,
} from "../../src/request_log/sqlite_store.ts";
import { openKeyStore } from "../../src/access/key_store.ts";
import { ownedKeys } from "../../src/server/shared_budgets.ts";
import type { RequestRecord } from "../../src/request_log/record.ts";

Deno.test("GET usage: a member's is asked for its own keys only, every other role's for all", async () => {
  const asked: [string, string | undefined][] = [];
  await using f = await adminFixture({
    usage: (_since, owner) => {
      asked.push(["call", owner]);
      return { owner: owner ?? null };
    },
  });
  const tokens: Record<string, string> = {};
  for (const role of ROLES) {
    await f.accounts.createUser(
      { name: `u-${role}`, role, password: PASSWORD },
      CLI,
    );
    tokens[role] = f.accounts.createToken(
      `u-${role}`,
      { name: "main", expiresAt: null },
      CLI,
    ).token;
  }
  for (const role of ROLES) {
    const res = await f.call("usage?since=1h", { bearer: tokens[role] });
    assert.equal(res.status, 200, role);
    assert.deepEqual(await res.json(), {
      owner: role === "member" ? "u-member" : null,
    });
  }
  assert.deepEqual(asked.map(([, owner]) => owner), [
    undefined,
    undefined,
    "u-member",
    undefined,
  ]);
});

function record(client: string | null, tokensIn: number): RequestRecord {
  return {
    id: crypto.randomUUID(),
    ts: Date.now() - 60_000,
    client,
    credential: "primary",
    method: "POST",
    path: "/v1/chat/completions",
    model: "gpt-4o",
    status: 200,
    durationMs: 10,
    ttftMs: null,
    bytesIn: 1,
    bytesOut: 1,
    tokensIn,
    tokensOut: 0,
    cacheReadTokens: null,
    cacheWriteTokens: null,
    error: null,
    attempts: 1,
    stream: false,
  };
}

Deno.test("usage of one owner's keys: only their requests, revoked keys included", async () => {
  const dir = await Deno.makeTempDir({ prefix: "flow-proxy-usage-own-" });
  try {
    const path = join(dir, "flow-proxy.db");
    const log = openRequestLog(path);
    await log.write([
      record("mine", 10),
      record("mine-old", 5),
      record("theirs", 100),
      record(null, 1000),
    ]);
    using keys = openKeyStore(path);
    keys.create({ name: "mine", owner: "ana" });
    keys.create({ name: "mine-old", owner: "Ana" });
    keys.revoke("mine-old");
    keys.create({ name: "theirs", owner: "bea" });
    const clients = ownedKeys(keys.snapshot(), "ana");
    assert.deepEqual(clients.sort(), ["mine", "mine-old"]);
    const own = usageSummary(log, { clients, owners: true });
    assert.equal(own.total.requests, 2);
    assert.equal(own.total.tokensIn, 15);
    assert.deepEqual(own.byKey.map((k) => k.key), ["mine", "mine-old"]);
    const none = usageSummary(log, { clients: [] });
    assert.equal(none.total.requests, 0);
    await log.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
