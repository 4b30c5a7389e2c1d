import assert from "node:assert/strict";
import { AccountsError } from "../../src/accounts/names.ts";
import { CLI, memoryAccounts, PASSWORD, testClock } from "./helpers.ts";

Deno.test("Accounts.createUser() stores a user without its password and audits it", async () => {
  using accounts = memoryAccounts();
  const user = await accounts.createUser({
    name: "alice",
    role: "admin",
    password: PASSWORD,
  }, CLI);
  assert.equal(user.name, "alice");
  assert.equal(user.role, "admin");
  assert.equal(JSON.stringify(accounts.listUsers()).includes(PASSWORD), false);
  assert.equal("passwordHash" in user, false);
  const [record] = accounts.listAudit();
  assert.deepEqual(
    [record.action, record.target, record.outcome, record.actor],
    ["user.create", "alice", "ok", "cli:test"],
  );
});

Deno.test("Accounts.createUser() refuses bad input, changes nothing and audits the refusal", async (t) => {
  using accounts = memoryAccounts();
  await accounts.createUser({
    name: "alice",
    role: "admin",
    password: PASSWORD,
  }, CLI);
  const cases: [string, Parameters<typeof accounts.createUser>[0], RegExp][] = [
    [
      "unknown role",
      { name: "bob", role: "root", password: PASSWORD },
      /Unknown role "root": use admin, operator, member, viewer/,
    ],
    [
      "duplicate user",
      { name: "ALICE", role: "member", password: PASSWORD },
      /A user named "ALICE" already exists/,
    ],
    [
      "short password",
      { name: "bob", role: "member", password: "short" },
      /Password too short: at least 12/,
    ],
    ["weak password", {
      name: "bob",
      role: "member",
      password: "aaaaaaaaaaaaaaa",
    }, /Password too weak/],
    [
      "bad name",
      { name: "bob smith", role: "member", password: PASSWORD },
      /Invalid user name "bob smith"/,
    ],
    ["unknown team", {
      name: "bob",
      role: "member",
      team: "red",
      password: PASSWORD,
    }, /No team named "red"/],
  ];
  for (const [name, input, message] of cases) {
    await t.step(name, async () => {
      const before = accounts.listAudit().length;
      await assert.rejects(accounts.createUser(input, CLI), (err: Error) => {
        assert.ok(err instanceof AccountsError);
        assert.match(err.message, message);
        return true;
      });
      assert.equal(accounts.listUsers().length, 1);
      const [last] = accounts.listAudit();
      assert.equal(accounts.listAudit().length, before + 1);
      assert.deepEqual([last.action, last.outcome], ["user.create", "failed"]);
    });
  }
});

Deno.test("Accounts.login() starts a session; a wrong password or unknown user gives the same refusal", async () => {
  using accounts = memoryAccounts();
  await accounts.createUser({
    name: "alice",
    role: "member",
    password: PASSWORD,
  }, CLI);
  const ok = await accounts.login("alice", PASSWORD, "10.0.0.1");
  assert.equal(ok.ok, true);
  if (!ok.ok) return;
  assert.match(ok.sessionId, /^fps_[A-Za-z0-9_-]{43}$/);
  assert.equal(accounts.session(ok.sessionId)?.user.name, "alice");
  assert.equal(accounts.session(ok.sessionId)?.csrf, ok.csrf);
  const wrong = await accounts.login("alice", "not the password!", "10.0.0.1");
  const unknown = await accounts.login("nobody", PASSWORD, "10.0.0.1");
  assert.deepEqual(wrong, unknown);
  assert.deepEqual(wrong, { ok: false, locked: false, retryAfterMs: 0 });
  const logins = accounts.listAudit({ action: "login" });
  assert.deepEqual(
    logins.map((r) => [r.outcome, r.detail?.reason ?? null, r.address]),
    [["failed", "unknown_user", "10.0.0.1"], [
      "failed",
      "bad_password",
      "10.0.0.1",
    ], ["ok", null, "10.0.0.1"]],
  );
  assert.equal(
    JSON.stringify(accounts.listAudit()).includes(ok.sessionId),
    false,
  );
});

Deno.test("Accounts.login() locks a user out after 5 failures, with backoff, whoever the address", async () => {
  const clock = testClock();
  using accounts = memoryAccounts({ now: clock.now });
  await accounts.createUser({
    name: "alice",
    role: "member",
    password: PASSWORD,
  }, CLI);
  for (let i = 1; i <= 4; i++) {
    assert.deepEqual(
      await accounts.login("alice", "wrong password!", `10.0.0.${i}`),
      { ok: false, locked: false, retryAfterMs: 0 },
    );
  }
  assert.deepEqual(
    await accounts.login("alice", "wrong password!", "10.0.0.5"),
    { ok: false, locked: true, retryAfterMs: 30_000 },
  );
  // Locked: even the right password is refused, from another address too.
  assert.deepEqual(await accounts.login("alice", PASSWORD, "10.0.0.6"), {
    ok: false,
    locked: true,
    retryAfterMs: 30_000,
  });
  clock.advance(30_000);
  assert.deepEqual(
    await accounts.login("alice", "wrong password!", "10.0.0.7"),
    { ok: false, locked: true, retryAfterMs: 60_000 },
  );
  clock.advance(60_000);
  assert.equal((await accounts.login("alice", PASSWORD, "10.0.0.8")).ok, true);
  // A success forgets the user's run of failures.
  assert.deepEqual(
    await accounts.login("alice", "wrong password!", "10.0.0.9"),
    { ok: false, locked: false, retryAfterMs: 0 },
  );
});

Deno.test("Accounts.login() locks an address out after 20 failures over any user names", async () => {
  using accounts = memoryAccounts();
  await accounts.createUser({
    name: "alice",
    role: "member",
    password: PASSWORD,
  }, CLI);
  for (let i = 1; i < 20; i++) {
    assert.deepEqual(
      await accounts.login(`user${i}`, "wrong password!", "10.9.9.9"),
      { ok: false, locked: false, retryAfterMs: 0 },
    );
  }
  assert.deepEqual(
    await accounts.login("user20", "wrong password!", "10.9.9.9"),
    { ok: false, locked: true, retryAfterMs: 30_000 },
  );
  assert.equal((await accounts.login("alice", PASSWORD, "10.9.9.9")).ok, false);
  assert.equal((await accounts.login("alice", PASSWORD, "10.1.1.1")).ok, true);
});

Deno.test("Accounts.session() ends a session after the idle and the absolute expiry", async () => {
  const clock = testClock();
  using accounts = memoryAccounts({
    now: clock.now,
    sessions: { idleMs: 60_000, absoluteMs: 150_000, secureCookie: false },
  });
  await accounts.createUser({
    name: "alice",
    role: "member",
    password: PASSWORD,
  }, CLI);
  const idle = await accounts.login("alice", PASSWORD, "::1");
  assert.ok(idle.ok);
  clock.advance(59_999);
  assert.notEqual(accounts.session(idle.sessionId), null);
  clock.advance(59_999);
  assert.notEqual(
    accounts.session(idle.sessionId),
    null,
    "use restarts the idle time",
  );
  clock.advance(60_000);
  assert.equal(accounts.session(idle.sessionId), null, "idle expiry");
  const busy = await accounts.login("alice", PASSWORD, "::1");
  assert.ok(busy.ok);
  for (let i = 0; i < 3; i++) {
    clock.advance(50_000);
    assert.equal(
      accounts.session(busy.sessionId) !== null,
      i < 2,
      `at ${(i + 1) * 50} s`,
    );
  }
});

Deno.test("Accounts.updateUser() ends every session of a user disabled or given a new password", async (t) => {
  using accounts = memoryAccounts();
  await accounts.createUser({
    name: "admin",
    role: "admin",
    password: PASSWORD,
  }, CLI);
  await accounts.createUser({
    name: "alice",
    role: "member",
    password: PASSWORD,
  }, CLI);
  for (
    const [name, change] of [
      ["password reset", { password: "another good password" }],
      ["disable", { disabled: true }],
    ] as const
  ) {
    await t.step(name, async () => {
      await accounts.updateUser("alice", { disabled: false }, CLI);
      const password = name === "disable" ? "another good password" : PASSWORD;
      const a = await accounts.login("alice", password, "::1");
      const b = await accounts.login("alice", password, "::2");
      assert.ok(a.ok && b.ok);
      await accounts.updateUser("alice", change, CLI);
      assert.equal(accounts.session(a.sessionId), null);
      assert.equal(accounts.session(b.sessionId), null);
      const [record] = accounts.listAudit();
      assert.equal(record.detail?.sessions_ended, 2);
    });
  }
  assert.equal(
    (await accounts.login("alice", "another good password", "::1")).ok,
    false,
    "disabled",
  );
});

Deno.test("Accounts keeps one enabled admin: the last one cannot be demoted, disabled or deleted", async () => {
  using accounts = memoryAccounts();
  await accounts.createUser(
    { name: "root", role: "admin", password: PASSWORD },
    CLI,
  );
  await assert.rejects(
    accounts.updateUser("root", { role: "member" }, CLI),
    /last enabled admin/,
  );
  await assert.rejects(
    accounts.updateUser("root", { disabled: true }, CLI),
    /last enabled admin/,
  );
  assert.throws(() => accounts.deleteUser("root", CLI), /last enabled admin/);
  assert.equal(accounts.getUser("root")?.role, "admin");
});

Deno.test("Accounts.deleteUser() removes the user's sessions and tokens", async () => {
  using accounts = memoryAccounts();
  await accounts.createUser(
    { name: "root", role: "admin", password: PASSWORD },
    CLI,
  );
  await accounts.createUser(
    { name: "bob", role: "member", password: PASSWORD },
    CLI,
  );
  const login = await accounts.login("bob", PASSWORD, "::1");
  const { token } = accounts.createToken(
    "bob",
    { name: "ci", expiresAt: null },
    CLI,
  );
  assert.equal(accounts.tokenUser(token)?.name, "bob");
  assert.ok(login.ok);
  accounts.deleteUser("bob", CLI);
  assert.equal(accounts.getUser("bob"), null);
  assert.equal(accounts.session(login.sessionId), null);
  assert.equal(accounts.tokenUser(token), null);
  assert.throws(() => accounts.deleteUser("bob", CLI), /No user named "bob"/);
});

Deno.test("Accounts API tokens: shown once, stored hashed, refused once revoked or expired", async () => {
  const clock = testClock();
  using accounts = memoryAccounts({ now: clock.now });
  await accounts.createUser(
    { name: "bob", role: "member", password: PASSWORD },
    CLI,
  );
  const { token, record } = accounts.createToken("bob", {
    name: "ci",
    expiresAt: clock.now() + 1000,
  }, CLI);
  assert.match(token, /^fpu_[A-Za-z0-9_-]{43}$/);
  assert.equal(record.prefix, token.slice(0, 10));
  assert.equal(
    JSON.stringify(accounts.listTokens(null)).includes(token),
    false,
  );
  assert.equal(accounts.tokenUser(token)?.name, "bob");
  assert.equal(accounts.tokenUser(token + "x"), null);
  clock.advance(1000);
  assert.equal(accounts.tokenUser(token), null, "expired");
  const second = accounts.createToken(
    "bob",
    { name: "ci2", expiresAt: null },
    CLI,
  );
  assert.throws(
    () => accounts.createToken("bob", { name: "ci2", expiresAt: null }, CLI),
    /already exists/,
  );
  accounts.revokeToken("bob", "ci2", CLI);
  assert.equal(accounts.tokenUser(second.token), null, "revoked");
  assert.throws(
    () => accounts.revokeToken("bob", "ci2", CLI),
    /No active token named "ci2"/,
  );
});

Deno.test("Accounts teams: create, list with members, refuse deleting a team in use", async () => {
  using accounts = memoryAccounts();
  accounts.createTeam("red", CLI);
  assert.throws(
    () => accounts.createTeam("RED", CLI),
    /A team named "RED" already exists/,
  );
  await accounts.createUser({
    name: "bob",
    role: "member",
    team: "red",
    password: PASSWORD,
  }, CLI);
  assert.deepEqual(accounts.listTeams().map((t) => [t.name, t.members]), [[
    "red",
    1,
  ]]);
  assert.throws(() => accounts.deleteTeam("red", CLI), /still has 1 user/);
  await accounts.updateUser("bob", { team: null }, CLI);
  accounts.deleteTeam("red", CLI);
  assert.deepEqual(accounts.listTeams(), []);
});

Deno.test("audit_log refuses UPDATE and DELETE", async () => {
  const { DatabaseSync } = await import("node:sqlite");
  const { createAccountsSchema } = await import("../../src/accounts/schema.ts");
  const db = new DatabaseSync(":memory:");
  createAccountsSchema(db);
  db.exec(
    "INSERT INTO audit_log (at, actor, action, outcome) VALUES (1, 'a', 'x', 'ok')",
  );
  assert.throws(
    () => db.exec("UPDATE audit_log SET actor = 'b'"),
    /append-only/,
  );
  assert.throws(() => db.exec("DELETE FROM audit_log"), /append-only/);
  db.close();
});

Deno.test("sessionPolicyFrom() reads --session-idle, --session-max-age and --secure-cookies", async () => {
  const { resolveSettings } = await import("../../src/config/settings.ts");
  const { sessionPolicyFrom, DEFAULT_SESSION_POLICY } = await import(
    "../../src/accounts/sessions.ts"
  );
  const defaults = resolveSettings([], { env: {}, cwd: "/tmp" });
  assert.deepEqual(
    sessionPolicyFrom(settingsOf(defaults)),
    DEFAULT_SESSION_POLICY,
  );
  const set = resolveSettings([
    "--session-idle",
    "5m",
    "--session-max-age",
    "2h",
    "--secure-cookies",
  ], { env: {}, cwd: "/tmp" });
  assert.deepEqual(sessionPolicyFrom(settingsOf(set)), {
    idleMs: 300_000,
    absoluteMs: 7_200_000,
    secureCookie: true,
  });
  // Serving HTTPS itself, flow-proxy marks the cookie Secure without being asked.
  const tls = resolveSettings(
    ["--tls-cert", "cert.pem", "--tls-key", "key.pem"],
    { env: {}, cwd: "/tmp" },
  );
  assert.equal(sessionPolicyFrom(settingsOf(tls)).secureCookie, true);
});

function settingsOf<T>(result: { help: true } | { settings: T }): T {
  if (!("settings" in result)) throw new Error("help was asked");
  return result.settings;
}

Deno.test("redact() scrubs API tokens and session ids from log lines", async () => {
  const { redact } = await import("../../src/base/logging.ts");
  const token = "fpu_" + "A".repeat(43);
  const session = "fps_" + "b".repeat(43);
  assert.equal(
    redact(`token ${token} and ${session}.`),
    "token [redacted-token] and [redacted-token].",
  );
  assert.equal(redact("fpu_short"), "fpu_short");
});
