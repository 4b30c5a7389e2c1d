/**
 * Client keys across three real instances behind one Redis: a key created
 * on one works on the others within two seconds, a key revoked on one is
 * refused by the others within two seconds, and a key made while Redis was
 * down reaches the others once it is back.
 */
import assert from "node:assert/strict";
import { chat, eventually, startInstances } from "./three_instances.ts";

const ADMIN = "admin-token-for-shared-keys-3f9a";

async function admin(
  url: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}/_flow-proxy/admin/${path}`, {
    method,
    headers: {
      authorization: `Bearer ${ADMIN}`,
      "content-type": "application/json",
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

Deno.test("shared keys: created on one instance, working on all within 2 s; revoked on one, refused by all within 2 s", async () => {
  await using cluster = await startInstances({
    args: ["--admin-token", ADMIN],
  });
  const [a, b, c] = cluster.proxies;

  const made = await admin(a.url, "POST", "keys", { name: "ci" });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const key = String(made.body.key);
  const created = Date.now();
  await eventually(
    2_000,
    "the key to work on B and C",
    async () =>
      (await chat(b.url, bearer(key))).status === 200 &&
      (await chat(c.url, bearer(key))).status === 200,
  );
  assert.ok(Date.now() - created < 2_000);
  // Keys are enforced there now, as on A; and the key itself is not in Redis.
  assert.equal((await chat(c.url)).status, 401);
  const stored = await cluster.redis.cli("HVALS", "fp-it:keys");
  assert.ok(!stored.includes(key), "the key itself reached Redis");
  assert.ok(stored.includes('"name":"ci"'));

  const revoked = await admin(b.url, "DELETE", "keys/ci");
  assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
  const at = Date.now();
  await eventually(
    2_000,
    "A and C to refuse the revoked key",
    async () =>
      (await chat(a.url, bearer(key))).status === 401 &&
      (await chat(c.url, bearer(key))).status === 401,
  );
  assert.ok(Date.now() - at < 2_000);
  const listed = await admin(c.url, "GET", "keys");
  const rows = listed.body.data as { name: string; status: string }[];
  assert.deepEqual(rows.map((r) => [r.name, r.status]), [["ci", "revoked"]]);
});

Deno.test("shared keys: with Redis down each instance keeps its keys; after the restart a key made meanwhile reaches the others", async () => {
  await using cluster = await startInstances({
    args: ["--admin-token", ADMIN],
  });
  const [a, , c] = cluster.proxies;
  const first = await admin(a.url, "POST", "keys", { name: "before" });
  const before = String(first.body.key);
  await eventually(
    2_000,
    "the first key on C",
    async () => (await chat(c.url, bearer(before))).status === 200,
  );

  await cluster.redis.kill();
  await c.waitForLog("is unreachable", 5_000);
  const made = await admin(c.url, "POST", "keys", { name: "offline" });
  assert.equal(made.status, 201);
  const offline = String(made.body.key);
  // Served on local state: both keys work where they are known.
  assert.equal((await chat(c.url, bearer(offline))).status, 200);
  assert.equal((await chat(a.url, bearer(before))).status, 200);
  assert.equal((await chat(a.url, bearer(offline))).status, 401);

  await cluster.redis.restart();
  await eventually(
    10_000,
    "the offline key to reach A",
    async () => (await chat(a.url, bearer(offline))).status === 200,
  );
  // Redis was empty after the restart: the instances seeded it again.
  const names = await cluster.redis.cli("HVALS", "fp-it:keys");
  assert.ok(
    names.includes('"name":"before"') && names.includes('"name":"offline"'),
  );
});
