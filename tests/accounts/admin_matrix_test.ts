import assert from "node:assert/strict";
import { type AdminFixture, adminFixture, CLI, PASSWORD } from "./helpers.ts";
import { ROLES } from "../../src/accounts/permissions.ts";

type Role = typeof ROLES[number];
type Cell = [
  method: string,
  route: (role: Role) => string,
  body: ((role: Role) => unknown) | null,
  statuses: [number, number, number, number],
];

// Expected status by role, in the order admin, operator, member, viewer (docs/security.md's matrix).
const MATRIX: Cell[] = [
  ["GET", () => "status", null, [200, 200, 403, 200]],
  ["GET", () => "usage", null, [200, 200, 200, 200]],
  // Budgets: a key's by an operator or admin, a user's or team's by an admin only.
  ["PUT", (r) => `keys/key-${r}/budget`, () => ({ budget: { tokens: 100 } }), [
    200,
    200,
    403,
    403,
  ]],
  ["POST", () => "keys", (r) => ({
    name: `budgeted-${r}`,
    budget: { spend: 5, period: "day" },
  }), [201, 201, 403, 403]],
  ["PUT", (r) => `users/target-${r}/budget`, () => ({ budget: null }), [
    200,
    403,
    403,
    403,
  ]],
  ["PUT", (r) => `teams/team-${r}/budget`, () => ({
    budget: { max_parallel: 3 },
  }), [200, 403, 403, 403]],
  ["GET", () => "keys", null, [200, 200, 200, 403]],
  ["POST", () => "keys", (r) => ({ name: `new-key-${r}` }), [
    201,
    201,
    201,
    403,
  ]],
  ["PATCH", (r) => `keys/key-${r}`, () => ({ rpm: 5 }), [200, 200, 200, 403]],
  ["DELETE", (r) => `keys/key-${r}`, null, [200, 200, 200, 403]],
  // The dashboard's routes (tests/admin/dashboard_*_test.ts have the rest).
  ["GET", () => "about", null, [200, 200, 403, 200]],
  ["GET", () => "credentials", null, [200, 200, 403, 200]],
  // No such credential: 404 once the role may probe at all.
  ["POST", () => "credentials/none/probe", null, [404, 404, 403, 403]],
  ["GET", () => "users", null, [200, 403, 403, 403]],
  ["GET", () => "users/user-member", null, [200, 403, 403, 403]],
  [
    "POST",
    () => "users",
    (r) => ({ name: `new-${r}`, role: "member", password: PASSWORD }),
    [201, 403, 403, 403],
  ],
  ["PATCH", (r) => `users/target-${r}`, () => ({ role: "viewer" }), [
    200,
    403,
    403,
    403,
  ]],
  [
    "PATCH",
    (r) => `users/target-${r}`,
    () => ({ password: "a brand new password" }),
    [200, 403, 403, 403],
  ],
  ["PATCH", (r) => `users/target-${r}`, () => ({ disabled: true }), [
    200,
    403,
    403,
    403,
  ]],
  ["DELETE", (r) => `users/target-${r}`, null, [200, 403, 403, 403]],
  ["GET", () => "teams", null, [200, 200, 403, 403]],
  ["POST", () => "teams", (r) => ({ name: `new-team-${r}` }), [
    201,
    403,
    403,
    403,
  ]],
  ["DELETE", (r) => `teams/team-${r}`, null, [200, 403, 403, 403]],
  ["GET", () => "tokens", null, [200, 200, 200, 200]],
  ["GET", () => "tokens?user=user-other", null, [200, 403, 403, 403]],
  ["POST", () => "tokens", (r) => ({ name: `new-token-${r}` }), [
    201,
    201,
    201,
    403,
  ]],
  [
    "POST",
    () => "tokens",
    (r) => ({ name: `for-other-${r}`, user: "user-other" }),
    [201, 403, 403, 403],
  ],
  ["DELETE", () => "tokens/spare", null, [200, 200, 200, 403]],
  ["DELETE", () => "tokens/spare?user=user-other", null, [200, 403, 403, 403]],
  ["GET", () => "audit", null, [200, 403, 403, 403]],
  ["GET", () => "me", null, [200, 200, 200, 200]],
];

/** Users `user-<role>` with an API token each (and a spare one), plus a target user, key and team per role. */
async function populate(f: AdminFixture): Promise<Record<Role, string>> {
  const tokens = {} as Record<Role, string>;
  f.accounts.createTeam("spare-team", CLI);
  for (const role of ROLES) {
    await f.accounts.createUser({
      name: `user-${role}`,
      role,
      password: PASSWORD,
    }, CLI);
    await f.accounts.createUser({
      name: `target-${role}`,
      role: "member",
      password: PASSWORD,
    }, CLI);
    tokens[role] = f.accounts.createToken(
      `user-${role}`,
      { name: "main", expiresAt: null },
      CLI,
    ).token;
    f.accounts.createToken(
      `user-${role}`,
      { name: "spare", expiresAt: null },
      CLI,
    );
    f.accounts.createTeam(`team-${role}`, CLI);
    const created = await f.call("keys", {
      method: "POST",
      bearer: "admin-token-0123456789abcdef",
      body: JSON.stringify({ name: `key-${role}`, owner: `user-${role}` }),
    });
    assert.equal(created.status, 201);
    await created.body?.cancel();
  }
  await f.accounts.createUser({
    name: "user-other",
    role: "member",
    password: PASSWORD,
  }, CLI);
  f.accounts.createToken("user-other", { name: "spare", expiresAt: null }, CLI);
  return tokens;
}

Deno.test("admin API permission matrix, cell by cell, for every role", async (t) => {
  await using f = await adminFixture();
  const tokens = await populate(f);
  for (const [method, route, body, statuses] of MATRIX) {
    for (const [i, role] of ROLES.entries()) {
      const path = route(role);
      await t.step(`${role}: ${method} ${path}`, async () => {
        const before = f.accounts.listAudit().length;
        const res = await f.call(path, {
          method,
          bearer: tokens[role],
          body: body === null ? undefined : JSON.stringify(body(role)),
        });
        const text = await res.text();
        assert.equal(res.status, statuses[i], text);
        if (res.status === 403) {
          assert.match(
            JSON.parse(text).error.message,
            new RegExp(`Your role \\(${role}\\) may`),
          );
          if (method !== "GET") {
            const [record] = f.accounts.listAudit();
            assert.equal(
              f.accounts.listAudit().length,
              before + 1,
              "a refused change is audited",
            );
            assert.deepEqual([record.outcome, record.actor], [
              "denied",
              `user-${role}`,
            ]);
          }
        }
      });
    }
  }
});

Deno.test("admin API: a member's refusal does not tell whether the user or token exists", async () => {
  await using f = await adminFixture();
  const tokens = await populate(f);
  const answers = [];
  for (
    const path of [
      "users/user-admin",
      "users/no-such-user",
      "tokens/spare?user=user-admin",
      "tokens/nothing?user=ghost",
    ]
  ) {
    const method = path.startsWith("users") ? "GET" : "DELETE";
    const res = await f.call(path, { method, bearer: tokens.member });
    answers.push([
      res.status,
      (await res.json()).error.message.replace(/(users|tokens)\.\w+/, "X"),
    ]);
  }
  assert.deepEqual(answers[0], answers[1]);
  assert.deepEqual(answers[2], answers[3]);
});

Deno.test("admin API: a member sees, creates and revokes only its own keys; another's answers like a missing one", async () => {
  await using f = await adminFixture();
  const tokens = await populate(f);
  const list = await (await f.call("keys", { bearer: tokens.member })).json();
  assert.deepEqual(
    list.data.map((k: { name: string; owner: string }) => [k.name, k.owner]),
    [["key-member", "user-member"]],
  );
  const created = await f.call("keys", {
    method: "POST",
    bearer: tokens.member,
    body: JSON.stringify({ name: "mine" }),
  });
  assert.equal((await created.json()).owner, "user-member");
  const forOther = await f.call("keys", {
    method: "POST",
    bearer: tokens.member,
    body: JSON.stringify({ name: "theirs", owner: "user-admin" }),
  });
  assert.equal(forOther.status, 403);
  await forOther.body?.cancel();
  const answers = [];
  for (const name of ["key-admin", "no-such-key"]) {
    const res = await f.call(`keys/${name}`, {
      method: "DELETE",
      bearer: tokens.member,
    });
    answers.push([
      res.status,
      (await res.json()).error.message.replace(name, "X"),
    ]);
  }
  assert.deepEqual(answers, [[404, 'No active key named "X"'], [
    404,
    'No active key named "X"',
  ]]);
  const keys =
    await (await f.call("keys", { bearer: "admin-token-0123456789abcdef" }))
      .json();
  assert.equal(
    keys.data.find((k: { name: string }) => k.name === "key-admin").status,
    "active",
  );
  const unknownOwner = await f.call("keys", {
    method: "POST",
    bearer: tokens.operator,
    body: JSON.stringify({ name: "x", owner: "ghost" }),
  });
  assert.equal(unknownOwner.status, 400);
  assert.equal(
    (await unknownOwner.json()).error.message,
    'No user named "ghost" to own the key',
  );
});
