/**
 * Key budgets end to end, through `flow-proxy serve` with 2 workers: exact
 * across workers, refused in the client's shape with when it resets, kept
 * across a restart, and parallel requests limited.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { MockUpstream } from "../support/mock_upstream.ts";
import {
  runCli,
  startProxy,
  testCredentials,
  writeSecrets,
} from "../support/proxy.ts";

async function createKey(db: string, name: string, ...flags: string[]) {
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
  return JSON.parse(out.stdout).key as string;
}

async function call(url: string, key: string, path = "/v1/chat/completions") {
  const res = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-api-key": key },
    body: JSON.stringify({ model: "gpt-4o", messages: [] }),
  });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

/** Tokens the request log holds for `client`, once its writes are in. */
function loggedTokens(db: string, client: string): number {
  const conn = new DatabaseSync(db, { readOnly: true });
  try {
    const row = conn.prepare(
      "SELECT coalesce(sum(tokens_in + tokens_out), 0) AS n, count(*) AS c FROM requests WHERE client = ? AND status = 200",
    ).get(client) as { n: number };
    return Number(row.n);
  } finally {
    conn.close();
  }
}

Deno.test("a key's token budget is exact across 2 workers, refused in the client's shape, and kept across a restart", async (t) => {
  const creds = testCredentials(1);
  await using upstream = MockUpstream.start({ credentials: creds });
  const secretsFile = writeSecrets(creds);
  const db = secretsFile.replace("secrets.json", "flow-proxy.db");
  // Each answer of the mock reports 7 + 3 tokens: the budget allows 10 requests.
  const key = await createKey(
    db,
    "team-a",
    "--budget-tokens",
    "100",
    "--budget-period",
    "day",
  );
  const args = ["--num-workers", "2", "--db", db];
  let proxy = await startProxy({ upstream: upstream.url, secretsFile, args });
  try {
    let ok = 0;
    let exhausted: Awaited<ReturnType<typeof call>> | null = null;
    await t.step(
      "parallel requests: the ones after the crossing are refused",
      async () => {
        for (let round = 0; round < 60 && exhausted === null; round++) {
          const answers = await Promise.all(
            Array.from({ length: 6 }, () => call(proxy.url, key)),
          );
          for (const a of answers) {
            if (a.status === 200) ok++;
            else {
              assert.equal(a.status, 429, a.body);
              const error = JSON.parse(a.body).error;
              assert.equal(error.type, "budget_exceeded");
              if (/resets at/.test(error.message)) exhausted ??= a;
              else {
                // Held by requests in flight: retry in a second.
                assert.match(error.message, /held by its requests in flight/);
                assert.equal(a.headers.get("retry-after"), "1");
              }
            }
          }
        }
        assert.ok(exhausted, "the budget was never exhausted");
        assert.equal(ok, 10);
        const error = JSON.parse(exhausted!.body).error;
        assert.match(
          error.message,
          /^This API key has used 100 of its 100 tokens this period; the budget resets at \d{4}-\d\d-\d\dT00:00:00\.000Z$/,
        );
        const retry = Number(exhausted!.headers.get("retry-after"));
        assert.ok(retry >= 1 && retry <= 86_400, `Retry-After ${retry}`);
        // Nothing refused reached Flow.
        assert.equal(upstream.requests.length, 10);
      },
    );
    await t.step("the Anthropic shape on /v1/messages", async () => {
      const a = await call(proxy.url, key, "/v1/messages");
      assert.equal(a.status, 429);
      assert.equal(JSON.parse(a.body).error.type, "budget_exceeded");
    });
    await proxy.stop();
    assert.equal(loggedTokens(db, "team-a"), 100);
    await t.step("after a restart the spend is still there", async () => {
      proxy = await startProxy({ upstream: upstream.url, secretsFile, args });
      const a = await call(proxy.url, key);
      assert.equal(a.status, 429, a.body);
      assert.match(JSON.parse(a.body).error.message, /used 100 of its 100/);
      assert.equal(upstream.requests.length, 10);
    });
    await t.step(
      "a higher budget lets it through again, counted from the log",
      async () => {
        const out = await runCli([
          "keys",
          "budget",
          "team-a",
          "--budget-tokens",
          "110",
          "--budget-period",
          "day",
          "--db",
          db,
        ]);
        assert.equal(out.code, 0, out.stderr);
        let answered = 0;
        for (let i = 0; i < 60 && answered === 0; i++) {
          const a = await call(proxy.url, key);
          if (a.status === 200) answered++;
          else await new Promise((r) => setTimeout(r, 100));
        }
        assert.equal(answered, 1);
        const after = await call(proxy.url, key);
        assert.equal(after.status, 429);
        assert.match(
          JSON.parse(after.body).error.message,
          /used 110 of its 110/,
        );
      },
    );
    const logs = await proxy.settledLogs();
    assert.match(logs, /Key 'team-a' has used 80 % of its budget this period/);
    assert.ok(!logs.includes(key), "the key leaked into the log");
  } finally {
    await proxy.stop();
  }
});

Deno.test("a key's parallel limit refuses the request beyond it, with Retry-After 1", async () => {
  const creds = testCredentials(1);
  await using upstream = MockUpstream.start({
    credentials: creds,
    behave: () => ({
      kind: "sse",
      events: ["data: {}\n\n", "data: [DONE]\n\n"],
      delayMs: 400,
    }),
  });
  const secretsFile = writeSecrets(creds);
  const db = secretsFile.replace("secrets.json", "flow-proxy.db");
  const key = await createKey(db, "solo", "--max-parallel", "1");
  await using proxy = await startProxy({
    upstream: upstream.url,
    secretsFile,
    args: ["--num-workers", "2", "--db", db],
  });
  const first = call(proxy.url, key);
  // The first is in flight (the mock holds its last event 400 ms).
  for (let i = 0; i < 50 && upstream.requests.length === 0; i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  const second = await call(proxy.url, key);
  assert.equal(second.status, 429);
  assert.match(
    JSON.parse(second.body).error.message,
    /may have 1 requests in flight at once; 1 are running/,
  );
  assert.equal(second.headers.get("retry-after"), "1");
  assert.equal((await first).status, 200);
  // Once it ended, the next one goes through.
  assert.equal((await call(proxy.url, key)).status, 200);
});
