/**
 * Who may use the gateway, end to end: client keys created with the CLI
 * while serve runs, shared rate limits, IP rules, and the admin API.
 */
import assert from "node:assert/strict";
import { MockUpstream } from "../support/mock_upstream.ts";
import {
  runCli,
  startProxy,
  testCredentials,
  writeSecrets,
} from "../support/proxy.ts";
import { startStack } from "../support/stack.ts";

async function createKey(
  db: string,
  name: string,
  ...flags: string[]
): Promise<string> {
  const out = await runCli([
    "keys",
    "create",
    "--name",
    name,
    "--db",
    db,
    "--json",
    ...flags,
  ]);
  assert.equal(out.code, 0, out.stderr);
  return JSON.parse(out.stdout).key;
}

async function call(
  url: string,
  headers: Record<string, string> = {},
  path = "/v1/chat/completions",
) {
  const res = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ model: "gpt-4o", messages: [] }),
  });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

async function eventually(
  check: () => Promise<boolean>,
  what: string,
): Promise<void> {
  for (let i = 0; i < 60; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`Never happened: ${what}`);
}

Deno.test("client keys: enforced once one exists, live create and revoke, never forwarded or logged", async (t) => {
  const creds = testCredentials(1);
  await using upstream = MockUpstream.start({ credentials: creds });
  const secretsFile = writeSecrets(creds);
  const db = secretsFile.replace("secrets.json", "flow-proxy.db");
  const key = await createKey(db, "ci");
  await using proxy = await startProxy({
    upstream: upstream.url,
    secretsFile,
    args: ["--num-workers", "2", "--db", db],
  });

  await t.step(
    "no key, a wrong key, both headers disagreeing → 401 in the client's shape",
    async () => {
      const none = await call(proxy.url);
      assert.equal(none.status, 401);
      assert.equal(JSON.parse(none.body).error.type, "unauthorized");
      const anthropic = await call(proxy.url, {}, "/v1/messages");
      assert.equal(anthropic.status, 401);
      assert.equal(JSON.parse(anthropic.body).type, "error");
      assert.equal(
        (await call(proxy.url, { authorization: "Bearer fpk_wrongwrongwrong" }))
          .status,
        401,
      );
      assert.equal(
        (await call(proxy.url, {
          authorization: `Bearer ${key}`,
          "x-api-key": "fpk_other",
        })).status,
        401,
      );
      assert.equal(
        (await call(proxy.url, { authorization: `Bearer ${"x".repeat(4000)}` }))
          .status,
        401,
      );
      assert.equal(
        upstream.requests.length,
        0,
        "refused requests never reach the upstream",
      );
    },
  );

  await t.step(
    "the key works as Bearer and as x-api-key, and never reaches the upstream",
    async () => {
      assert.equal(
        (await call(proxy.url, { authorization: `Bearer ${key}` })).status,
        200,
      );
      assert.equal(
        (await call(proxy.url, { "x-api-key": key }, "/v1/messages")).status,
        200,
      );
      for (const r of upstream.requests) {
        assert.equal(r.jwtError, null);
        assert.equal(r.headers.get("x-api-key"), null);
        for (const [, value] of r.headers) assert.ok(!value.includes(key));
      }
      await proxy.waitForLog("client 'ci'");
    },
  );

  let fresh = "";
  await t.step("metrics carry the key's name", async () => {
    // Records reach the supervisor in batches: wait (bounded) for them.
    await eventually(async () => {
      const text = await (await fetch(`${proxy.url}/metrics`)).text();
      const m = text.match(
        /^flow_proxy_client_requests_total\{client="ci"\} (\d+)$/m,
      );
      return m !== null && Number(m[1]) >= 2;
    }, "client metrics for ci");
    const text = await (await fetch(`${proxy.url}/metrics`)).text();
    assert.match(
      text,
      /^flow_proxy_client_tokens_total\{client="ci",direction="in"\} \d+$/m,
    );
    assert.ok(!text.includes(key));
  });

  await t.step(
    "a key revoked with the CLI stops working within seconds",
    async () => {
      const out = await runCli(["keys", "revoke", "ci", "--db", db]);
      assert.equal(out.code, 0, out.stderr);
      await eventually(
        async () =>
          (await call(proxy.url, { authorization: `Bearer ${key}` })).status ===
            401,
        "revoked",
      );
    },
  );

  await t.step(
    "a key created with the CLI works within seconds in every worker",
    async () => {
      fresh = await createKey(db, "fresh");
      await eventually(async () => {
        const statuses = await Promise.all(
          Array.from({ length: 4 }, async () => {
            const client = Deno.createHttpClient({});
            try {
              const res = await fetch(`${proxy.url}/v1/models`, {
                client,
                headers: { authorization: `Bearer ${fresh}` },
              });
              await res.body?.cancel();
              return res.status;
            } finally {
              client.close();
            }
          }),
        );
        return statuses.every((s) => s === 200);
      }, "fresh key accepted");
    },
  );

  await t.step(
    "other processes reading the database while serve runs lose nothing",
    async () => {
      // The database sits beside secrets.json, the default layout. Each CLI
      // run opens and closes it; serve must keep its locks and its records.
      for (let i = 0; i < 3; i++) {
        const out = await runCli(["usage", "--db", db, "--json"]);
        assert.equal(out.code, 0, out.stderr);
      }
      const out = await runCli(["keys", "revoke", "fresh", "--db", db]);
      assert.equal(out.code, 0, out.stderr);
      await eventually(
        async () =>
          (await call(proxy.url, { authorization: `Bearer ${fresh}` }))
            .status === 401,
        "second revocation",
      );
      const list = await runCli(["keys", "list", "--db", db, "--json"]);
      const states = JSON.parse(list.stdout).map((
        k: { name: string; status: string },
      ) => `${k.name}:${k.status}`);
      assert.deepEqual(states.sort(), ["ci:revoked", "fresh:revoked"]);
      const check = await new Deno.Command("sqlite3", {
        args: [db, "PRAGMA integrity_check;"],
      }).output();
      assert.equal(new TextDecoder().decode(check.stdout).trim(), "ok");
    },
  );

  await t.step("no key appears in any log line", async () => {
    assert.ok(!(await proxy.settledLogs()).includes(key));
    assert.ok(!(await proxy.settledLogs()).includes(creds[0].clientSecret));
  });
});

Deno.test("rate limits hold exactly across workers and keep keys apart", async () => {
  const creds = testCredentials(1);
  await using upstream = MockUpstream.start({ credentials: creds });
  const secretsFile = writeSecrets(creds);
  const db = secretsFile.replace("secrets.json", "flow-proxy.db");
  // One request per minute refills: within this test only the burst counts.
  const limited = await createKey(db, "limited", "--rpm", "1", "--burst", "5");
  const other = await createKey(db, "other", "--rpm", "1", "--burst", "3");
  await using proxy = await startProxy({
    upstream: upstream.url,
    secretsFile,
    args: ["--num-workers", "2", "--db", db],
  });
  const send = async (key: string) => {
    const client = Deno.createHttpClient({ poolMaxIdlePerHost: 1 });
    try {
      const res = await fetch(`${proxy.url}/v1/models`, {
        client,
        headers: { authorization: `Bearer ${key}` },
      });
      await res.body?.cancel();
      return res;
    } finally {
      client.close();
    }
  };
  const results = await Promise.all(
    Array.from({ length: 12 }, () => send(limited)),
  );
  assert.equal(results.filter((r) => r.status === 200).length, 5);
  const refused = results.find((r) => r.status === 429)!;
  assert.ok(Number(refused.headers.get("retry-after")) >= 1);
  assert.equal(refused.headers.get("x-ratelimit-limit"), "1");
  assert.equal(refused.headers.get("x-ratelimit-remaining"), "0");
  assert.ok(refused.headers.get("x-ratelimit-reset"));
  const workers = new Set(
    (await proxy.settledLogs()).match(/\[worker-\d\] (Using|Refused)/g)?.map((
      l,
    ) => l.slice(0, 10)),
  );
  assert.equal(workers.size, 2, "both workers took part");
  // The other key's budget is untouched.
  const others = await Promise.all(
    Array.from({ length: 3 }, () => send(other)),
  );
  assert.deepEqual(others.map((r) => r.status), [200, 200, 200]);
});

Deno.test("a non-loopback host without keys refuses to start unless --allow-anonymous", async () => {
  const creds = testCredentials(1);
  const secretsFile = writeSecrets(creds);
  const db = secretsFile.replace("secrets.json", "flow-proxy.db");
  const out = await runCli([
    "serve",
    "--host",
    "0.0.0.0",
    "--port",
    "18999",
    "--secrets-file",
    secretsFile,
    "--db",
    db,
  ]);
  assert.equal(out.code, 1);
  assert.match(
    out.stderr,
    /error: Refusing to serve on 0\.0\.0\.0 without client API keys/,
  );
  assert.match(out.stderr, /flow-proxy keys create --name NAME/);
  assert.match(out.stderr, /--allow-anonymous/);

  await using upstream = MockUpstream.start({ credentials: creds });
  await using proxy = await startProxy({
    upstream: upstream.url,
    secretsFile,
    args: ["--host", "0.0.0.0", "--allow-anonymous", "--db", db],
  });
  assert.equal((await call(proxy.url)).status, 200);
});

Deno.test("--allow-ip refuses other addresses, also for /metrics", async () => {
  await using stack = await startStack({
    args: ["--allow-ip", "10.0.0.0/8", "--allow-ip", "fd00::/8", "--no-db"],
  });
  const { creds, upstream, proxy } = stack;
  const res = await call(proxy.url);
  assert.equal(res.status, 403);
  assert.equal(JSON.parse(res.body).error.type, "forbidden");
  const metrics = await fetch(`${proxy.url}/metrics`);
  await metrics.body?.cancel();
  assert.equal(metrics.status, 403);
  assert.equal(upstream.requests.length, 0);

  const bad = await runCli([
    "serve",
    "--allow-ip",
    "10.0.0.0/99",
    "--no-db",
    "--secrets-file",
    writeSecrets(creds),
  ]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /error: --allow-ip: .*10\.0\.0\.0\/99/);
});

Deno.test("the admin API answers only to its token", async (t) => {
  const token = "admin-token-" + crypto.randomUUID();
  // The database sits beside secrets.json.
  const dir = Deno.makeTempDirSync({ prefix: "flow-proxy-test-" });
  await using stack = await startStack({
    credentials: 2,
    dir,
    args: ["--db", `${dir}/flow-proxy.db`],
    env: { FLOW_PROXY_ADMIN_TOKEN: token },
  });
  const { creds, proxy } = stack;
  const admin = (path: string, init: RequestInit = {}, bearer = token) =>
    fetch(`${proxy.url}/_flow-proxy/admin/${path}`, {
      ...init,
      headers: {
        authorization: `Bearer ${bearer}`,
        "content-type": "application/json",
      },
    });

  await t.step("without or with a wrong token: 401", async () => {
    const res = await fetch(`${proxy.url}/_flow-proxy/admin/status`);
    assert.equal(res.status, 401);
    await res.body?.cancel();
    const wrong = await admin("status", {}, "not-the-token-at-all");
    assert.equal(wrong.status, 401);
    await wrong.body?.cancel();
  });

  await t.step(
    "status shows workers and credential health by name",
    async () => {
      const res = await admin("status");
      assert.equal(res.status, 200);
      const body = await res.json();
      assert.deepEqual(body.credentials.map((c: { name: string }) => c.name), [
        "cred-1",
        "cred-2",
      ]);
      assert.ok(!JSON.stringify(body).includes(creds[0].clientSecret));
    },
  );

  await t.step("create, use, list and revoke a key", async () => {
    const created = await admin("keys", {
      method: "POST",
      body: JSON.stringify({ name: "via-admin" }),
    });
    assert.equal(created.status, 201);
    const { key } = await created.json();
    assert.match(key, /^fpk_/);
    await eventually(
      async () =>
        (await call(proxy.url, { authorization: `Bearer ${key}` })).status ===
          200,
      "key used",
    );
    const list = await (await admin("keys")).json();
    assert.ok(JSON.stringify(list).includes("via-admin"));
    assert.ok(!JSON.stringify(list).includes(key));
    const revoked = await admin("keys/via-admin", { method: "DELETE" });
    assert.equal(revoked.status, 200);
    await revoked.body?.cancel();
    await eventually(
      async () =>
        (await call(proxy.url, { authorization: `Bearer ${key}` })).status ===
          401,
      "revoked",
    );
  });

  await t.step("a client key is not an admin token", async () => {
    const res = await admin("status", {}, "fpk_" + "a".repeat(43));
    assert.equal(res.status, 401);
    await res.body?.cancel();
  });
});
