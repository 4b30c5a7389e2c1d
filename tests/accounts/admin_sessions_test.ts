import assert from "node:assert/strict";
import { adminFixture, CLI, login, PASSWORD } from "./helpers.ts";

Deno.test("admin login sets an HttpOnly, SameSite=Strict session cookie and answers a CSRF token", async () => {
  await using f = await adminFixture();
  await f.accounts.createUser({
    name: "alice",
    role: "member",
    password: PASSWORD,
  }, CLI);
  const { cookie, csrf, setCookie } = await login(f, "alice");
  assert.match(
    setCookie,
    /^flow_proxy_session=fps_[A-Za-z0-9_-]{43}; Path=\/_flow-proxy\/; HttpOnly; SameSite=Strict; Max-Age=43200$/,
  );
  assert.match(csrf, /^[A-Za-z0-9_-]{43}$/);
  const me = await f.call("me", { cookie });
  assert.equal(me.status, 200);
  const body = await me.json();
  assert.deepEqual([body.name, body.role, body.via, body.csrf_token], [
    "alice",
    "member",
    "session",
    csrf,
  ]);
  assert.equal(body.permissions["users.write"], undefined);
  assert.equal(body.permissions["keys.write"], "own");
});

Deno.test("admin login: Secure is added to the cookie when the policy says so", async () => {
  const policy = { idleMs: 60_000, absoluteMs: 120_000, secureCookie: true };
  await using f = await adminFixture({ sessionPolicy: policy }, {
    sessions: policy,
  });
  await f.accounts.createUser({
    name: "alice",
    role: "member",
    password: PASSWORD,
  }, CLI);
  const { setCookie } = await login(f, "alice");
  assert.match(setCookie, /; Max-Age=120; Secure$/);
});

Deno.test("admin login refuses an unknown user and a wrong password alike, logs and counts without the password", async () => {
  await using f = await adminFixture();
  await f.accounts.createUser({
    name: "alice",
    role: "member",
    password: PASSWORD,
  }, CLI);
  const answers = [];
  for (
    const [name, password] of [["alice", "wrong password 1"], [
      "nobody",
      "wrong password 2",
    ]]
  ) {
    const res = await f.call("login", {
      method: "POST",
      body: JSON.stringify({ name, password }),
    });
    answers.push([
      res.status,
      res.headers.get("set-cookie"),
      (await res.json()).error.message,
    ]);
  }
  assert.deepEqual(answers[0], [401, null, "Wrong user name or password"]);
  assert.deepEqual(answers[1], answers[0]);
  assert.deepEqual(f.loginFailures, ["invalid", "invalid"]);
  assert.deepEqual(f.warnings, [
    'Login failed for "alice" from 192.0.2.1',
    'Login failed for "nobody" from 192.0.2.1',
  ]);
  const typo = await f.call("login", {
    method: "POST",
    body: JSON.stringify({ name: "my secret pass", password: "x" }),
  });
  assert.equal(typo.status, 401);
  await typo.body?.cancel();
  assert.equal(
    f.warnings[2],
    "Login failed for (not a valid user name) from 192.0.2.1",
  );
});

Deno.test("admin login locks out after repeated failures: 429 with Retry-After, a WARN line and the metric", async () => {
  await using f = await adminFixture();
  await f.accounts.createUser({
    name: "alice",
    role: "member",
    password: PASSWORD,
  }, CLI);
  const statuses = [];
  for (let i = 0; i < 6; i++) {
    const password = i === 5 ? PASSWORD : "wrong password!";
    const res = await f.call("login", {
      method: "POST",
      body: JSON.stringify({ name: "alice", password }),
    });
    statuses.push([res.status, res.headers.get("retry-after")]);
    await res.body?.cancel();
  }
  assert.deepEqual(statuses, [
    [401, null],
    [401, null],
    [401, null],
    [401, null],
    [429, "30"],
    [429, "30"],
  ]);
  assert.deepEqual(f.loginFailures, [
    "invalid",
    "invalid",
    "invalid",
    "invalid",
    "locked",
    "locked",
  ]);
  assert.equal(
    f.warnings[5],
    'Login refused for "alice" from 192.0.2.1: locked out for 30 s after repeated failures',
  );
  f.clock.advance(30_000);
  assert.equal(
    (await login(f, "alice")).cookie.startsWith("flow_proxy_session="),
    true,
  );
});

Deno.test("admin login refuses malformed bodies with a message naming the problem", async (t) => {
  await using f = await adminFixture();
  for (
    const [body, message] of [
      ["not json", "Request body must be a JSON object"],
      [
        JSON.stringify({ name: "a" }),
        'Login needs "name" and "password", both strings',
      ],
      [
        JSON.stringify({ name: "a", password: "b", remember: true }),
        'Unknown field "remember"',
      ],
    ]
  ) {
    await t.step(message, async () => {
      const res = await f.call("login", { method: "POST", body });
      assert.equal(res.status, 400);
      assert.equal((await res.json()).error.message, message);
    });
  }
});

Deno.test("admin API under a session: a mutating request needs the session's CSRF token", async (t) => {
  await using f = await adminFixture();
  await f.accounts.createUser({
    name: "root",
    role: "admin",
    password: PASSWORD,
  }, CLI);
  const { cookie, csrf } = await login(f, "root");
  const create = (extra: { csrf?: string }) =>
    f.call("teams", {
      method: "POST",
      cookie,
      body: JSON.stringify({ name: "red" }),
      ...extra,
    });
  await t.step("missing", async () => {
    const res = await create({});
    assert.equal(res.status, 403);
    assert.match(
      (await res.json()).error.message,
      /Missing or wrong CSRF token/,
    );
  });
  await t.step("wrong", async () => {
    const res = await create({
      csrf: csrf.slice(0, -1) + (csrf.endsWith("A") ? "B" : "A"),
    });
    assert.equal(res.status, 403);
    await res.body?.cancel();
  });
  await t.step("another session's", async () => {
    const other = await login(f, "root");
    const res = await create({ csrf: other.csrf });
    assert.equal(res.status, 403);
    await res.body?.cancel();
  });
  assert.deepEqual(f.accounts.listTeams(), [], "nothing was created");
  await t.step("right", async () => {
    const res = await create({ csrf });
    assert.equal(res.status, 201);
    await res.body?.cancel();
  });
  await t.step("reads need none", async () => {
    const res = await f.call("teams", { cookie });
    assert.equal(res.status, 200);
    await res.body?.cancel();
  });
});

Deno.test("admin API refuses an expired, forged or logged-out session", async (t) => {
  await using f = await adminFixture();
  await f.accounts.createUser({
    name: "root",
    role: "admin",
    password: PASSWORD,
  }, CLI);
  const refused = async (cookie: string) => {
    const res = await f.call("me", { cookie });
    assert.equal(res.status, 401);
    const body = await res.text();
    assert.equal(body.includes(cookie.split("=")[1]), false);
  };
  await t.step("forged", async () => {
    await refused("flow_proxy_session=fps_" + "A".repeat(43));
  });
  await t.step("idle for 30 minutes", async () => {
    const { cookie } = await login(f, "root");
    f.clock.advance(30 * 60_000);
    await refused(cookie);
  });
  await t.step("logged out", async () => {
    const { cookie, csrf } = await login(f, "root");
    const out = await f.call("logout", { method: "POST", cookie, csrf });
    assert.equal(out.status, 200);
    assert.match(
      out.headers.get("set-cookie")!,
      /^flow_proxy_session=; .*Max-Age=0/,
    );
    await out.body?.cancel();
    await refused(cookie);
  });
  await t.step("user disabled", async () => {
    await f.accounts.createUser({
      name: "root2",
      role: "admin",
      password: PASSWORD,
    }, CLI);
    const { cookie } = await login(f, "root2");
    await f.accounts.updateUser("root2", { disabled: true }, CLI);
    await refused(cookie);
  });
});

Deno.test("admin API: a user's API token works as a Bearer token; the admin token still does", async () => {
  await using f = await adminFixture();
  await f.accounts.createUser({
    name: "op",
    role: "operator",
    password: PASSWORD,
  }, CLI);
  const created = await f.call("tokens", {
    method: "POST",
    bearer: "admin-token-0123456789abcdef",
    body: JSON.stringify({ name: "ci", user: "op" }),
  });
  assert.equal(created.status, 201);
  const { token, user, prefix } = await created.json();
  assert.equal(user, "op");
  assert.equal(token.startsWith(prefix), true);
  const me = await f.call("me", { bearer: token });
  assert.deepEqual(((b) => [b.name, b.role, b.via])(await me.json()), [
    "op",
    "operator",
    "api-token",
  ]);
  const list = await (await f.call("tokens", { bearer: token })).json();
  assert.equal(
    JSON.stringify(list).includes(token),
    false,
    "listed without the token",
  );
  const revoke = await f.call("tokens/ci", { method: "DELETE", bearer: token });
  assert.equal(revoke.status, 200);
  await revoke.body?.cancel();
  const after = await f.call("me", { bearer: token });
  assert.equal(after.status, 401);
  await after.body?.cancel();
});
