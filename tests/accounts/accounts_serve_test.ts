/**
 * Accounts end to end: `flow-proxy serve` with two workers and the store
 * worker; users created beforehand in the same database; logins, lockout,
 * sessions, CSRF, the metric and the logs over real sockets.
 */
import assert from "node:assert/strict";
import { startStack } from "../support/stack.ts";
import { openAccounts } from "../../src/accounts/accounts.ts";
import { CLI, PASSWORD } from "./helpers.ts";

Deno.test("serve: login, session, CSRF and a lockout shared by every worker, without a secret in the logs", async (t) => {
  const dir = Deno.makeTempDirSync({ prefix: "flow-proxy-test-" });
  const db = `${dir}/flow-proxy.db`;
  {
    using accounts = openAccounts(db);
    await accounts.createUser({
      name: "root",
      role: "admin",
      password: PASSWORD,
    }, CLI);
    await accounts.createUser({
      name: "mallory",
      role: "member",
      password: PASSWORD,
    }, CLI);
  }
  await using stack = await startStack({
    dir,
    args: [
      "--db",
      db,
      "--num-workers",
      "2",
      "--secure-cookies",
      "--session-max-age",
      "1h",
    ],
  });
  const { proxy } = stack;
  const url = (path: string) => `${proxy.url}/_flow-proxy/admin/${path}`;
  const loginAs = (name: string, password: string) =>
    fetch(url("login"), {
      method: "POST",
      // A new connection each time, so the attempts spread over both workers.
      headers: { "content-type": "application/json", connection: "close" },
      body: JSON.stringify({ name, password }),
    });
  const secrets = [PASSWORD];
  let session = { cookie: "", csrf: "" };

  await t.step(
    "a session works, and needs its CSRF token to change anything",
    async () => {
      const res = await loginAs("root", PASSWORD);
      assert.equal(res.status, 200);
      const { csrf_token: csrf } = await res.json();
      assert.match(res.headers.get("set-cookie")!, /; Max-Age=3600; Secure$/);
      const cookie = res.headers.get("set-cookie")!.split(";")[0];
      secrets.push(cookie.split("=")[1], csrf);
      session = { cookie, csrf };
      const me = await fetch(url("me"), {
        headers: { cookie, connection: "close" },
      });
      assert.equal((await me.json()).name, "root");
      const post = (headers: Record<string, string>) =>
        fetch(url("teams"), {
          method: "POST",
          headers: { cookie, "content-type": "application/json", ...headers },
          body: '{"name":"red"}',
        });
      const without = await post({});
      assert.equal(without.status, 403);
      await without.body?.cancel();
      const withToken = await post({ "x-csrf-token": csrf });
      assert.equal(withToken.status, 201);
      await withToken.body?.cancel();
    },
  );

  await t.step("five failures lock the user out on every worker", async () => {
    const statuses = [];
    for (let i = 0; i < 6; i++) {
      const res = await loginAs(
        "mallory",
        i === 5 ? PASSWORD : `wrong password ${i}`,
      );
      statuses.push(res.status);
      await res.body?.cancel();
    }
    assert.deepEqual(statuses, [401, 401, 401, 401, 429, 429]);
  });

  await t.step(
    "the failures are counted and logged, and no secret is in the logs",
    async () => {
      const metrics = await (await fetch(`${proxy.url}/metrics`)).text();
      assert.match(
        metrics,
        /^flow_proxy_login_failures_total\{reason="invalid"\} 4$/m,
      );
      assert.match(
        metrics,
        /^flow_proxy_login_failures_total\{reason="locked"\} 2$/m,
      );
      const logs = await proxy.settledLogs();
      assert.match(logs, /Login failed for "mallory" from 127\.0\.0\.1/);
      assert.match(
        logs,
        /Login refused for "mallory" from 127\.0\.0\.1: locked out for 30 s/,
      );
      for (const secret of secrets) assert.equal(logs.includes(secret), false);
      for (let i = 0; i < 5; i++) {
        assert.equal(logs.includes(`wrong password ${i}`), false);
      }
    },
  );

  await t.step(
    "deleting a user revokes the client keys they owned, on every worker",
    async () => {
      const headers = {
        cookie: session.cookie,
        "x-csrf-token": session.csrf,
        "content-type": "application/json",
      };
      const created = await fetch(url("keys"), {
        method: "POST",
        headers,
        body: '{"name":"mallory-cli","owner":"mallory"}',
      });
      assert.equal(created.status, 201);
      const { key } = await created.json();
      secrets.push(key);
      const models = () =>
        fetch(`${proxy.url}/v1/models`, {
          headers: { authorization: `Bearer ${key}`, connection: "close" },
        }).then(async (res) => {
          await res.body?.cancel();
          return res.status;
        });
      await until(async () => await models() === 200, "the key works");
      const deleted = await fetch(url("users/mallory"), {
        method: "DELETE",
        headers,
      });
      assert.equal(deleted.status, 200);
      await deleted.body?.cancel();
      await until(async () => await models() === 401, "the key is refused");
      for (let i = 0; i < 4; i++) {
        assert.equal(await models(), 401, "on every connection");
      }
    },
  );

  await t.step("the audit trail has every attempt", () => {
    using accounts = openAccounts(db);
    const logins = accounts.listAudit({ action: "login" });
    assert.deepEqual(logins.map((r) => r.outcome).reverse(), [
      "ok",
      "failed",
      "failed",
      "failed",
      "failed",
      "failed",
      "failed",
    ]);
  });
});

/** Polls `check` until it holds (a change reaches every worker within about a second). */
async function until(
  check: () => Promise<boolean>,
  what: string,
): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`Timed out waiting until ${what}`);
}
