import assert from "node:assert/strict";
import { ADMIN_TOKEN, dashboardFixture, login } from "./dashboard_fixture.ts";
import { ROLES } from "../../src/accounts/permissions.ts";
import { openKeyStore } from "../../src/access/key_store.ts";
import { join } from "node:path";

Deno.test("PATCH keys/<name>: changes limits and model rules, null resets, audited", async () => {
  await using f = await dashboardFixture();
  f.keys.create({ name: "k1", rpm: 10, models: ["gpt-4o"] });
  const res = await f.call("keys/k1", {
    method: "PATCH",
    bearer: ADMIN_TOKEN,
    body: JSON.stringify({
      rpm: 120,
      burst: 30,
      models: "claude-*, gpt-4o",
      expires: "30d",
    }),
  });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.equal(body.name, "k1");
  assert.equal(body.rpm, 120);
  assert.equal(body.burst, 30);
  assert.deepEqual(body.models, ["claude-*", "gpt-4o"]);
  assert.equal(
    body.expires_at,
    new Date(f.clock.now + 30 * 86_400_000).toISOString(),
  );
  assert.equal(body.key, undefined, "never the key itself");
  const [entry] = f.accounts.listAudit();
  assert.deepEqual([entry.action, entry.target, entry.outcome], [
    "key.update",
    "k1",
    "ok",
  ]);
  const reset = await (await f.call("keys/k1", {
    method: "PATCH",
    bearer: ADMIN_TOKEN,
    body: JSON.stringify({ rpm: null, models: null, expires: null }),
  })).json();
  assert.deepEqual([reset.rpm, reset.burst, reset.models, reset.expires_at], [
    null,
    30,
    null,
    null,
  ]);
  // The store has it, with a new revision for the other instances.
  const [row] = f.keys.replicaRows();
  assert.equal(row.revision, 2);
});

Deno.test("PATCH keys/<name>: the role matrix; a member changes only its own keys", async (t) => {
  await using f = await dashboardFixture();
  for (const role of ROLES) {
    f.keys.create({ name: `k-${role}`, owner: `u-${role}` });
  }
  f.keys.create({ name: "k-nobody" });
  const want = { admin: 200, operator: 200, member: 200, viewer: 403 };
  for (const role of ROLES) {
    await t.step(`${role}: its own key`, async () => {
      const res = await f.call(`keys/k-${role}`, {
        method: "PATCH",
        bearer: f.tokens[role],
        body: JSON.stringify({ rpm: 5 }),
      });
      assert.equal(res.status, want[role]);
      await res.body?.cancel();
    });
  }
  await t.step(
    "member: another's key answers 404 like a missing one",
    async () => {
      for (const name of ["k-nobody", "k-admin", "no-such-key"]) {
        const res = await f.call(`keys/${name}`, {
          method: "PATCH",
          bearer: f.tokens.member,
          body: JSON.stringify({ rpm: 5 }),
        });
        assert.equal(res.status, 404);
        assert.equal(
          (await res.json()).error.message,
          `No active key named "${name}"`,
        );
      }
    },
  );
  await t.step("a revoked key is 404", async () => {
    f.keys.revoke("k-operator");
    const res = await f.call("keys/k-operator", {
      method: "PATCH",
      bearer: ADMIN_TOKEN,
      body: JSON.stringify({ rpm: 5 }),
    });
    assert.equal(res.status, 404);
    await res.body?.cancel();
  });
  await t.step("a session must send the CSRF token", async () => {
    const session = await login(f, "u-member");
    const refused = await f.call("keys/k-member", {
      method: "PATCH",
      cookie: session.cookie,
      body: JSON.stringify({ rpm: 7 }),
    });
    assert.equal(refused.status, 403);
    assert.match((await refused.json()).error.message, /CSRF/);
    const ok = await f.call("keys/k-member", {
      method: "PATCH",
      cookie: session.cookie,
      csrf: session.csrf,
      body: JSON.stringify({ rpm: 7 }),
    });
    assert.equal((await ok.json()).rpm, 7);
  });
});

Deno.test("PATCH keys/<name>: bad input is 400 naming the field", async (t) => {
  await using f = await dashboardFixture();
  f.keys.create({ name: "k1" });
  const cases: [unknown, RegExp][] = [
    [{ owner: "u-admin" }, /Unknown field "owner"/],
    [{ budget: null }, /Unknown field "budget"/],
    [{}, /Nothing to change/],
    [{ rpm: "fast" }, /"rpm"/],
    [{ rpm: -1 }, /rpm/],
    [{ burst: 0 }, /burst/],
    [{ models: 5 }, /"models"/],
    [{ models: [] }, /models/],
    [{ expires: "yesterday-ish" }, /expiry/],
    [{ expires: 30 }, /"expires"/],
    ["not an object", /JSON object/],
  ];
  for (const [body, message] of cases) {
    await t.step(JSON.stringify(body), async () => {
      const res = await f.call("keys/k1", {
        method: "PATCH",
        bearer: ADMIN_TOKEN,
        body: JSON.stringify(body),
      });
      assert.equal(res.status, 400);
      assert.match((await res.json()).error.message, message);
    });
  }
  const [row] = f.keys.replicaRows();
  assert.equal(row.revision, 0, "nothing was changed");
});

Deno.test("key replicas: a limits change wins by its revision on another instance", async () => {
  const dir = await Deno.makeTempDir({ prefix: "flow-proxy-replica-" });
  try {
    const here = openKeyStore(join(dir, "a.db"));
    const there = openKeyStore(join(dir, "b.db"));
    here.create({ name: "k1", rpm: 10 });
    const old = here.replicaRows();
    there.mergeReplicas(old);
    here.update("k1", { rpm: 99, models: ["gpt-4o"] });
    assert.equal(there.mergeReplicas(here.replicaRows()).changed, 1);
    const [key] = there.list();
    assert.deepEqual([key.rpm, key.models], [99, ["gpt-4o"]]);
    // An older row does not undo it.
    assert.equal(there.mergeReplicas(old).changed, 0);
    assert.equal(there.list()[0].rpm, 99);
    here.close();
    there.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
