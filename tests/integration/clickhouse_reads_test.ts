/**
 * `serve --clickhouse-url`: the admin API's usage and the budgets read what
 * every instance wrote to ClickHouse, and usage answers 503 while ClickHouse
 * is down.
 */
import assert from "node:assert/strict";
import { MockUpstream } from "../support/mock_upstream.ts";
import {
  runCli,
  startProxy,
  testCredentials,
  writeSecrets,
} from "../support/proxy.ts";
import {
  CLICKHOUSE_TEST_PASSWORD,
  CLICKHOUSE_TEST_USER,
  createClickHouseServer,
} from "../support/clickhouse.ts";
import { createClickHouseSink } from "../../src/request_log/clickhouse.ts";
import type { RequestRecord } from "../../src/request_log/record.ts";

function otherInstanceRecord(client: string): RequestRecord {
  return {
    id: crypto.randomUUID(),
    ts: Date.now() - 1000,
    client,
    credential: "elsewhere",
    method: "POST",
    path: "/v1/chat/completions",
    model: "gpt-4o",
    status: 200,
    durationMs: 10,
    ttftMs: null,
    bytesIn: 10,
    bytesOut: 10,
    tokensIn: 7,
    tokensOut: 3,
    cacheReadTokens: null,
    cacheWriteTokens: null,
    error: null,
    attempts: 1,
    stream: false,
  };
}

Deno.test("serve --clickhouse-url: usage and budgets are every instance's; usage is 503 while ClickHouse is down", async (t) => {
  await using clickhouse = await createClickHouseServer();
  await clickhouse.start();
  // Another instance already spent team-a's whole budget (10 × 10 tokens).
  const sink = createClickHouseSink({
    url: clickhouse.url,
    database: "default",
    table: "flow_proxy_requests",
    user: CLICKHOUSE_TEST_USER,
    password: CLICKHOUSE_TEST_PASSWORD,
    retry: { attempts: 1, baseMs: 0 },
  });
  await sink.write(
    Array.from({ length: 10 }, () => otherInstanceRecord("team-a")),
  );
  await sink.close();

  const creds = testCredentials(1);
  await using upstream = MockUpstream.start({ credentials: creds });
  const secretsFile = writeSecrets(creds);
  const db = secretsFile.replace("secrets.json", "flow-proxy.db");
  const created = await runCli([
    "keys",
    "create",
    "--name",
    "team-a",
    "--db",
    db,
    "--json",
    "--budget-tokens",
    "100",
    "--budget-period",
    "day",
  ]);
  assert.equal(created.code, 0, created.stderr);
  const key = JSON.parse(created.stdout).key as string;
  const token = "admin-token-" + crypto.randomUUID();
  await using proxy = await startProxy({
    upstream: upstream.url,
    secretsFile,
    args: [
      "--db",
      db,
      "--num-workers",
      "1",
      "--clickhouse-url",
      clickhouse.url.href,
    ],
    env: {
      FLOW_PROXY_ADMIN_TOKEN: token,
      FLOW_PROXY_CLICKHOUSE_USER: CLICKHOUSE_TEST_USER,
      FLOW_PROXY_CLICKHOUSE_PASSWORD: CLICKHOUSE_TEST_PASSWORD,
    },
  });
  const usage = () =>
    fetch(`${proxy.url}/_flow-proxy/admin/usage?since=1h`, {
      headers: { authorization: `Bearer ${token}` },
    });

  await t.step("the budget knows what the other instance spent", async () => {
    const res = await fetch(`${proxy.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": key },
      body: JSON.stringify({ model: "gpt-4o", messages: [] }),
    });
    const body = await res.json();
    assert.equal(res.status, 429, JSON.stringify(body));
    assert.equal(body.error.type, "budget_exceeded");
  });

  await t.step("GET usage counts the other instance's requests", async () => {
    const res = await usage();
    assert.equal(res.status, 200);
    const body = await res.json();
    const teamA = body.byKey.find((k: { key: string }) => k.key === "team-a");
    assert.ok(teamA.requests >= 10, JSON.stringify(body.byKey));
    assert.ok(
      body.byCredential.some((c: { credential: string }) =>
        c.credential === "elsewhere"
      ),
    );
  });

  await t.step("ClickHouse down: 503 with a clear JSON error", async () => {
    await clickhouse.stop();
    const res = await usage();
    const text = await res.text();
    assert.equal(res.status, 503, text);
    const body = JSON.parse(text);
    assert.equal(body.error.type, "request_log_unavailable");
    assert.match(
      body.error.message,
      new RegExp(
        `^Cannot read the request log from ClickHouse at ${clickhouse.url.host}: `,
      ),
    );
    assert.ok(!text.includes(CLICKHOUSE_TEST_PASSWORD));
  });
});
