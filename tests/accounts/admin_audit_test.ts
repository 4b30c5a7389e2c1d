import assert from "node:assert/strict";
import { ADMIN_TOKEN, adminFixture, CLI, login, PASSWORD } from "./helpers.ts";

Deno.test("admin API audits every change, login, logout and admin-token use: who, what, when, from where", async () => {
  await using f = await adminFixture();
  await f.accounts.createUser({
    name: "root",
    role: "admin",
    password: PASSWORD,
  }, CLI);
  const secrets: string[] = [PASSWORD, ADMIN_TOKEN];
  const admin = (route: string, method: string, body?: unknown) =>
    f.call(route, {
      method,
      bearer: ADMIN_TOKEN,
      body: body === undefined ? undefined : JSON.stringify(body),
      address: "198.51.100.7",
    })
      .then(async (res) => {
        const text = await res.text();
        assert.ok(
          res.status < 300,
          `${method} ${route}: ${res.status} ${text}`,
        );
        return JSON.parse(text);
      });
  await admin("teams", "POST", { name: "red" });
  await admin("users", "POST", {
    name: "bob",
    role: "member",
    team: "red",
    password: "bob's long password",
  });
  secrets.push("bob's long password", "bob's new password!");
  await admin("users/bob", "PATCH", { role: "operator" });
  await admin("users/bob", "PATCH", { password: "bob's new password!" });
  await admin("users/bob", "PATCH", { team: null });
  const { token } = await admin("tokens", "POST", { name: "ci", user: "bob" });
  secrets.push(token);
  await admin("tokens/ci?user=bob", "DELETE");
  const { key } = await admin("keys", "POST", { name: "laptop" });
  secrets.push(key);
  await admin("keys/laptop", "DELETE");
  await admin("users/bob", "PATCH", { disabled: true });
  await admin("users/bob", "DELETE");
  await admin("teams/red", "DELETE");
  const failed = await f.call("login", {
    method: "POST",
    body: JSON.stringify({ name: "root", password: "not it at all" }),
    address: "203.0.113.9",
  });
  await failed.body?.cancel();
  const session = await login(f, "root");
  secrets.push(session.cookie.split("=")[1], session.csrf);
  const out = await f.call("logout", {
    method: "POST",
    cookie: session.cookie,
    csrf: session.csrf,
  });
  await out.body?.cancel();

  const records = f.accounts.listAudit().reverse();
  const changes = records.filter((r) =>
    r.action !== "admin_token.use" && r.actor !== "cli:test"
  );
  assert.deepEqual(
    changes.map((r) => [r.action, r.target, r.outcome, r.actor]),
    [
      ["team.create", "red", "ok", "admin-token"],
      ["user.create", "bob", "ok", "admin-token"],
      ["user.set_role", "bob", "ok", "admin-token"],
      ["user.reset_password", "bob", "ok", "admin-token"],
      ["user.set_team", "bob", "ok", "admin-token"],
      ["token.create", "bob/ci", "ok", "admin-token"],
      ["token.revoke", "bob/ci", "ok", "admin-token"],
      ["key.create", "laptop", "ok", "admin-token"],
      ["key.revoke", "laptop", "ok", "admin-token"],
      ["user.disable", "bob", "ok", "admin-token"],
      ["user.delete", "bob", "ok", "admin-token"],
      ["team.delete", "red", "ok", "admin-token"],
      ["login", "root", "failed", "root"],
      ["login", "root", "ok", "root"],
      ["logout", "root", "ok", "root"],
    ],
  );
  assert.deepEqual(changes.map((r) => r.address), [
    ...Array(12).fill("198.51.100.7"),
    "203.0.113.9",
    "192.0.2.1",
    "192.0.2.1",
  ]);
  const uses = records.filter((r) => r.action === "admin_token.use");
  assert.equal(uses.length, 12);
  assert.equal(uses[0].target, "POST /_flow-proxy/admin/teams");
  assert.ok(records.every((r) => r.at === f.clock.now()));
  const everything = JSON.stringify(records) + f.warnings.join("\n");
  for (const secret of secrets) {
    assert.equal(
      everything.includes(secret),
      false,
      "no secret in the audit trail or logs",
    );
  }
});

Deno.test("admin API GET audit filters by user, action and since; nothing can change a record", async () => {
  await using f = await adminFixture();
  await f.accounts.createUser({
    name: "root",
    role: "admin",
    password: PASSWORD,
  }, CLI);
  f.clock.advance(3_600_000);
  await f.accounts.createUser({
    name: "bob",
    role: "member",
    password: PASSWORD,
  }, CLI);
  const read = async (query: string) => {
    const res = await f.call(`audit${query}`, { bearer: ADMIN_TOKEN });
    assert.equal(res.status, 200);
    return (await res.json()).data.map((
      r: { action: string; target: string },
    ) => `${r.action} ${r.target}`);
  };
  assert.deepEqual(await read("?user=bob"), ["user.create bob"]);
  assert.deepEqual(await read("?action=user.create"), [
    "user.create bob",
    "user.create root",
  ]);
  assert.deepEqual(await read("?action=user.*&since=30m"), ["user.create bob"]);
  const bad = await f.call("audit?since=yesterday-ish", {
    bearer: ADMIN_TOKEN,
  });
  assert.equal(bad.status, 400);
  assert.match(
    (await bad.json()).error.message,
    /Invalid "since" value "yesterday-ish"/,
  );
  for (const method of ["POST", "PATCH", "DELETE", "PUT"]) {
    const res = await f.call("audit", { method, bearer: ADMIN_TOKEN });
    assert.equal(res.status, 405, method);
    await res.body?.cancel();
  }
});
