/**
 * The budget routes of the admin API: `PUT keys|users|teams/<name>/budget`
 * and `POST keys` with a budget; every change audited, every bad value
 * refused naming what is wrong.
 */
import assert from "node:assert/strict";
import { ADMIN_TOKEN, adminFixture, CLI, PASSWORD } from "./helpers.ts";

async function put(
  f: Awaited<ReturnType<typeof adminFixture>>,
  path: string,
  body: unknown,
  bearer = ADMIN_TOKEN,
) {
  const res = await f.call(path, {
    method: "PUT",
    bearer,
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

Deno.test("PUT keys/<name>/budget sets and clears a key's budget, audited", async () => {
  await using f = await adminFixture();
  await f.call("keys", {
    method: "POST",
    bearer: ADMIN_TOKEN,
    body: JSON.stringify({ name: "ci" }),
  });
  const set = await put(f, "keys/ci/budget", {
    budget: { period: "week", tokens: 5000, spend: 2.5, max_parallel: 2 },
  });
  assert.equal(set.status, 200, JSON.stringify(set.body));
  assert.deepEqual(set.body, {
    name: "ci",
    budget: { period: "week", tokens: 5000, spend: 2.5, max_parallel: 2 },
  });
  const list = await (await f.call("keys", { bearer: ADMIN_TOKEN })).json();
  assert.deepEqual(list.data[0].budget, set.body.budget);
  const cleared = await put(f, "keys/ci/budget", { budget: null });
  assert.deepEqual(cleared.body, { name: "ci", budget: null });
  const records = f.accounts.listAudit({ action: "key.set_budget" });
  assert.deepEqual(
    records.map((r) => [r.actor, r.target, r.outcome, r.detail]).reverse(),
    [
      ["admin-token", "ci", "ok", {
        period: "week",
        tokens: 5000,
        spendNanos: 2_500_000_000,
        maxParallel: 2,
      }],
      ["admin-token", "ci", "ok", { cleared: true }],
    ],
  );
});

Deno.test("PUT users|teams/<name>/budget sets a user's and a team's budget, audited", async () => {
  await using f = await adminFixture();
  f.accounts.createTeam("core", CLI);
  await f.accounts.createUser(
    { name: "alice", role: "member", team: "core", password: PASSWORD },
    CLI,
  );
  const user = await put(f, "users/alice/budget", {
    budget: { tokens: 1_000_000 },
  });
  assert.equal(user.status, 200, JSON.stringify(user.body));
  assert.deepEqual(user.body, {
    name: "alice",
    budget: {
      period: "month",
      tokens: 1_000_000,
      spend: null,
      max_parallel: null,
    },
  });
  const team = await put(f, "teams/CORE/budget", {
    budget: { spend: 40, period: "day" },
  });
  assert.equal(team.status, 200, JSON.stringify(team.body));
  assert.equal(team.body.name, "core");
  assert.deepEqual(f.accounts.budgetOf("team", "core"), {
    period: "day",
    tokens: null,
    spendNanos: 40_000_000_000,
    maxParallel: null,
  });
  assert.deepEqual(
    f.accounts.listAudit({}).filter((r) => r.action.endsWith("set_budget"))
      .map((r) => [r.action, r.actor, r.outcome]).sort(),
    [
      ["team.set_budget", "admin-token", "ok"],
      ["user.set_budget", "admin-token", "ok"],
    ],
  );
});

Deno.test("POST keys with a budget: created with it and audited; a member may not give one", async () => {
  await using f = await adminFixture();
  await f.accounts.createUser(
    { name: "mo", role: "member", password: PASSWORD },
    CLI,
  );
  const token = f.accounts.createToken(
    "mo",
    { name: "main", expiresAt: null },
    CLI,
  ).token;
  const res = await f.call("keys", {
    method: "POST",
    bearer: ADMIN_TOKEN,
    body: JSON.stringify({ name: "capped", budget: { tokens: 10 } }),
  });
  assert.equal(res.status, 201);
  assert.equal((await res.json()).budget.tokens, 10);
  assert.deepEqual(
    f.accounts.listAudit({}).map((r) => r.action).slice(0, 2).sort(),
    ["key.create", "key.set_budget"],
  );
  const refused = await f.call("keys", {
    method: "POST",
    bearer: token,
    body: JSON.stringify({ name: "mine", budget: { tokens: 10 } }),
  });
  assert.equal(refused.status, 403);
  assert.match(
    (await refused.json()).error.message,
    /^Your role \(member\) may not do this: budgets.write is not granted to it/,
  );
  const keys = await (await f.call("keys", { bearer: ADMIN_TOKEN })).json();
  assert.deepEqual(keys.data.map((k: { name: string }) => k.name), ["capped"]);
  // Without a budget the member still creates its own key.
  const own = await f.call("keys", {
    method: "POST",
    bearer: token,
    body: JSON.stringify({ name: "mine" }),
  });
  assert.equal(own.status, 201);
  await own.body?.cancel();
});

Deno.test("budget routes refuse bad values, unknown names and other methods, naming what is wrong", async (t) => {
  await using f = await adminFixture();
  await f.call("keys", {
    method: "POST",
    bearer: ADMIN_TOKEN,
    body: JSON.stringify({ name: "ci" }),
  });
  const cases: [string, string, unknown, number, RegExp][] = [
    [
      "a string",
      "keys/ci/budget",
      { budget: "lots" },
      400,
      /"budget" must be an object/,
    ],
    [
      "no budget field",
      "keys/ci/budget",
      {},
      400,
      /"budget" must be an object/,
    ],
    [
      "zero tokens",
      "keys/ci/budget",
      { budget: { tokens: 0 } },
      400,
      /Invalid budget tokens 0: must be a whole number from 1/,
    ],
    [
      "a bad period",
      "users/x/budget",
      { budget: { tokens: 5, period: "year" } },
      400,
      /Invalid budget period "year"/,
    ],
    [
      "a negative spend",
      "teams/x/budget",
      { budget: { spend: -1 } },
      400,
      /Invalid budget spend -1/,
    ],
    [
      "an empty budget",
      "keys/ci/budget",
      { budget: {} },
      400,
      /needs at least one of tokens, spend or max parallel/,
    ],
    [
      "an unknown budget field",
      "keys/ci/budget",
      { budget: { tokens: 5, rpm: 3 } },
      400,
      /Unknown field "rpm" in "budget"/,
    ],
    [
      "an unknown field",
      "keys/ci/budget",
      { budget: null, owner: "x" },
      400,
      /Unknown field "owner"/,
    ],
    [
      "an unknown key",
      "keys/nope/budget",
      { budget: null },
      404,
      /No active key named "nope"/,
    ],
    [
      "an unknown user",
      "users/nobody/budget",
      { budget: null },
      404,
      /No user named "nobody"/,
    ],
    [
      "an unknown team",
      "teams/nobody/budget",
      { budget: { tokens: 1 } },
      404,
      /No team named "nobody"/,
    ],
  ];
  for (const [what, path, body, status, message] of cases) {
    await t.step(what, async () => {
      const res = await put(f, path, body);
      assert.equal(res.status, status, JSON.stringify(res.body));
      assert.match(res.body.error.message, message);
    });
  }
  await t.step("GET is not a budget method", async () => {
    const res = await f.call("keys/ci/budget", { bearer: ADMIN_TOKEN });
    assert.equal(res.status, 405);
    assert.equal(res.headers.get("allow"), "PUT");
    await res.body?.cancel();
  });
  // A refused change of a user or team that does not exist is audited as failed.
  assert.deepEqual(
    f.accounts.listAudit({ action: "user.set_budget" }).map((r) => r.outcome),
    ["failed"],
  );
});
