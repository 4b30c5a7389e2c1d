/**
 * Users, sessions and API tokens across three real instances behind one
 * Redis (load balancers need not be sticky): a user made on one logs in
 * on another, a session made on one opens the admin API on the others, a
 * logout and a disabled user end sessions on all, an API token made on
 * one works on all — each within two seconds.
 */
import assert from "node:assert/strict";
import { eventually, startInstances } from "./three_instances.ts";

const ADMIN = "admin-token-for-shared-sessions-77c1";
const PASSWORD = "correct horse battery";

async function admin(
  url: string,
  method: string,
  path: string,
  options: { body?: unknown; headers?: Record<string, string> } = {},
): Promise<
  { status: number; body: Record<string, unknown>; headers: Headers }
> {
  const res = await fetch(`${url}/_flow-proxy/admin/${path}`, {
    method,
    headers: {
      "content-type": "application/json",
      ...(options.headers ?? { authorization: `Bearer ${ADMIN}` }),
    },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await res.text();
  return {
    status: res.status,
    body: text === "" ? {} : JSON.parse(text),
    headers: res.headers,
  };
}

async function login(url: string, name: string) {
  const res = await admin(url, "POST", "login", {
    body: { name, password: PASSWORD },
    headers: {},
  });
  if (res.status !== 200) return null;
  return {
    cookie: res.headers.get("set-cookie")!.split(";")[0],
    csrf: String(res.body.csrf_token),
  };
}

const me = async (url: string, headers: Record<string, string>) =>
  (await admin(url, "GET", "me", { headers })).status;

Deno.test("shared accounts: users, sessions, logouts, disabled users and API tokens reach every instance within 2 s", async () => {
  await using cluster = await startInstances({
    args: ["--admin-token", ADMIN],
  });
  const [a, b, c] = cluster.proxies;

  const made = await admin(a.url, "POST", "users", {
    body: { name: "alice", role: "member", password: PASSWORD },
  });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  // The user made on A reaches B (asked with the admin token: failed
  // logins would count towards a lockout), and logs in there.
  await eventually(
    2_000,
    "alice to reach B",
    async () => (await admin(b.url, "GET", "users/alice")).status === 200,
  );
  const onB = await login(b.url, "alice");
  assert.ok(onB, "alice cannot log in on B");
  // A session made on A opens the admin API on B and C.
  const onA = (await login(a.url, "alice"))!;
  const started = Date.now();
  await eventually(
    2_000,
    "A's session to open B and C",
    async () =>
      (await me(b.url, { cookie: onA.cookie })) === 200 &&
      (await me(c.url, { cookie: onA.cookie })) === 200,
  );
  assert.ok(Date.now() - started < 2_000);

  // Logging out on C ends B's session everywhere.
  const out = await admin(c.url, "POST", "logout", {
    headers: { cookie: onB.cookie, "x-csrf-token": onB.csrf },
  });
  assert.equal(out.status, 200, JSON.stringify(out.body));
  await eventually(
    2_000,
    "the ended session to be refused on A and B",
    async () =>
      (await me(a.url, { cookie: onB.cookie })) === 401 &&
      (await me(b.url, { cookie: onB.cookie })) === 401,
  );
  assert.equal(await me(b.url, { cookie: onA.cookie }), 200);

  // An API token made on B works on A and C.
  const token = await admin(b.url, "POST", "tokens", {
    body: { name: "ci", user: "alice" },
  });
  assert.equal(token.status, 201, JSON.stringify(token.body));
  const bearer = { authorization: `Bearer ${token.body.token}` };
  await eventually(
    2_000,
    "the token to work on A and C",
    async () =>
      (await me(a.url, bearer)) === 200 && (await me(c.url, bearer)) === 200,
  );

  // Nothing secret reached Redis: no session id, no token, no password.
  const stored = await cluster.redis.cli("HVALS", "fp-it:{accounts}");
  for (
    const secret of [
      onA.cookie.split("=")[1],
      String(token.body.token),
      PASSWORD,
    ]
  ) {
    assert.ok(!stored.includes(secret), "a secret reached Redis");
  }

  // Alice disabled on C: her session stops on A and B.
  const off = await admin(c.url, "PATCH", "users/alice", {
    body: { disabled: true },
  });
  assert.equal(off.status, 200, JSON.stringify(off.body));
  const at = Date.now();
  await eventually(
    2_000,
    "the disabled user's session to stop on A and B",
    async () =>
      (await me(a.url, { cookie: onA.cookie })) === 401 &&
      (await me(b.url, { cookie: onA.cookie })) === 401,
  );
  assert.ok(Date.now() - at < 2_000);
  assert.equal(await login(a.url, "alice"), null);
});
