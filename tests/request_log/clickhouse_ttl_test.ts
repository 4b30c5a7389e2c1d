import assert from "node:assert/strict";
import { createClickHouseSink } from "../../src/request_log/clickhouse.ts";
import type { RequestRecord } from "../../src/request_log/record.ts";
import {
  CLICKHOUSE_TEST_PASSWORD,
  CLICKHOUSE_TEST_USER,
  createClickHouseServer,
} from "../support/clickhouse.ts";

function record(): RequestRecord {
  return {
    id: crypto.randomUUID(),
    ts: Date.now(),
    client: null,
    credential: "primary",
    method: "POST",
    path: "/v1/chat/completions",
    model: "gpt-4o",
    status: 200,
    durationMs: 10,
    ttftMs: null,
    bytesIn: 1,
    bytesOut: 1,
    tokensIn: 1,
    tokensOut: 1,
    cacheReadTokens: null,
    cacheWriteTokens: null,
    error: null,
    attempts: 1,
    stream: false,
  };
}

function collectLogs() {
  const lines: string[] = [];
  return {
    lines,
    logger: {
      info: (msg: string) => lines.push(`INFO ${msg}`),
      warn: (msg: string) => lines.push(`WARN ${msg}`),
      error: (msg: string) => lines.push(`ERROR ${msg}`),
    },
  };
}

Deno.test("createClickHouseSink with ttlDays sets the table's TTL after creating it", async () => {
  const statements: string[] = [];
  const fakeFetch: typeof fetch = (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    statements.push(url.searchParams.get("query") ?? String(init?.body));
    return Promise.resolve(new Response("", { status: 200 }));
  };
  const sink = createClickHouseSink({
    url: new URL("http://127.0.0.1:1/"),
    database: "default",
    table: "t",
    user: null,
    password: null,
    fetch: fakeFetch,
    ttlDays: 30,
    retry: { attempts: 1, baseMs: 0 },
  });
  await sink.write([record()]);
  await sink.close();
  const ttl = statements.indexOf(
    "ALTER TABLE `default`.`t` MODIFY TTL ts + INTERVAL 30 DAY",
  );
  assert.ok(ttl > 0, statements.join("\n"));
  assert.ok(statements[0].startsWith("CREATE TABLE IF NOT EXISTS"));
  assert.ok(statements[ttl + 1].startsWith("INSERT INTO"));
});

Deno.test("createClickHouseSink without ttlDays leaves the TTL alone", async () => {
  const statements: string[] = [];
  const fakeFetch: typeof fetch = (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    statements.push(url.searchParams.get("query") ?? String(init?.body));
    return Promise.resolve(new Response("", { status: 200 }));
  };
  const sink = createClickHouseSink({
    url: new URL("http://127.0.0.1:1/"),
    database: "default",
    table: "t",
    user: null,
    password: null,
    fetch: fakeFetch,
    retry: { attempts: 1, baseMs: 0 },
  });
  await sink.write([record()]);
  assert.ok(!statements.some((s) => s.includes("TTL")), statements.join("\n"));
});

Deno.test("createClickHouseSink rejects a TTL that is not a whole number of days", () => {
  for (const ttlDays of [0, -1, 1.5]) {
    assert.throws(
      () =>
        createClickHouseSink({
          url: new URL("http://127.0.0.1:1/"),
          database: "default",
          table: "t",
          user: null,
          password: null,
          ttlDays,
        }),
      TypeError,
    );
  }
});

Deno.test("createClickHouseSink with ttlDays on ClickHouse 18.16 (no TTL): rows are written, one WARNING names DROP PARTITION", async () => {
  await using server = await createClickHouseServer();
  await server.start();
  const { lines, logger } = collectLogs();
  const sink = createClickHouseSink({
    url: server.url,
    database: "default",
    table: "with_ttl",
    user: CLICKHOUSE_TEST_USER,
    password: CLICKHOUSE_TEST_PASSWORD,
    ttlDays: 7,
    logger,
    retry: { attempts: 1, baseMs: 0 },
  });
  await sink.write([record()]);
  await sink.write([record(), record()]);
  await sink.close();
  const count = await server.query(
    "SELECT count() FROM default.with_ttl FORMAT TabSeparated",
  );
  const version = (await server.query("SELECT version() FORMAT TabSeparated"))
    .trim();
  const [major, minor] = version.split(".").map(Number);
  if (major > 19 || (major === 19 && minor >= 6)) {
    // A server that knows TTL takes it silently.
    assert.deepEqual(lines, []);
  } else {
    assert.equal(lines.length, 1, lines.join("\n"));
    assert.match(
      lines[0],
      /^WARN ClickHouse at .* did not accept --clickhouse-ttl-days \(TTL needs ClickHouse 19\.6 or later\), rows are kept: drop old days with ALTER TABLE `default`\.`with_ttl` DROP PARTITION YYYYMMDD: /,
    );
  }
  assert.equal(count.trim(), "3");
});
