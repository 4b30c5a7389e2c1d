import assert from "node:assert/strict";
import {
  CLICKHOUSE_COLUMNS,
  createClickHouseSink,
  toClickHouseRow,
} from "../../src/request_log/clickhouse.ts";
import type { RequestRecord } from "../../src/request_log/record.ts";
import { RecordQueue } from "../../src/request_log/record_queue.ts";
import {
  CLICKHOUSE_TEST_PASSWORD,
  CLICKHOUSE_TEST_USER,
  createClickHouseServer,
  freePort,
} from "../support/clickhouse.ts";

function record(overrides: Partial<RequestRecord> = {}): RequestRecord {
  return {
    id: crypto.randomUUID(),
    ts: Date.UTC(2026, 10, 22, 4, 0, 1, 123),
    client: null,
    credential: "primary",
    method: "POST",
    path: "/v1/chat/completions",
    model: "gpt-4o",
    status: 200,
    durationMs: 812.4,
    ttftMs: 95.6,
    bytesIn: 320,
    bytesOut: 4096,
    tokensIn: 12,
    tokensOut: 80,
    cacheReadTokens: null,
    cacheWriteTokens: null,
    error: null,
    attempts: 1,
    stream: true,
    ...overrides,
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

/** A fetch that counts calls and reports each failed one. */
function countingFetch(onFailure: () => void = () => {}) {
  const counter = { calls: 0, failures: 0 };
  const wrapped: typeof fetch = async (input, init) => {
    counter.calls++;
    try {
      return await fetch(input, init);
    } catch (err) {
      counter.failures++;
      onFailure();
      throw err;
    }
  };
  return { counter, fetch: wrapped };
}

interface Row {
  [column: string]: string | number | null;
}

async function selectRows(
  server: { query(sql: string): Promise<string> },
  table: string,
): Promise<Row[]> {
  const text = await server.query(
    `SELECT * FROM default.${table} ORDER BY ts_ms, id FORMAT JSON`,
  );
  return (JSON.parse(text) as { data: Row[] }).data;
}

Deno.test("toClickHouseRow maps a record to the table's columns", () => {
  const row = toClickHouseRow(
    record({ ttftMs: null, stream: false, tokensIn: null }),
  );
  assert.equal(row.ts, "2026-11-22 04:00:01");
  assert.equal(row.ts_ms, Date.UTC(2026, 10, 22, 4, 0, 1, 123));
  assert.equal(row.duration_ms, 812);
  assert.equal(row.ttft_ms, null);
  assert.equal(row.tokens_in, null);
  assert.equal(row.stream, 0);
});

Deno.test("createClickHouseSink rejects names that are not identifiers", () => {
  const base = {
    url: new URL("http://127.0.0.1:1/"),
    database: "default",
    user: null,
    password: null,
  };
  assert.throws(
    () => createClickHouseSink({ ...base, table: "requests; DROP TABLE x" }),
    TypeError,
  );
  assert.throws(
    () => createClickHouseSink({ ...base, table: "t", database: "a.b" }),
    TypeError,
  );
});

Deno.test("createClickHouseSink writes batches to a real clickhouse-server", async (t) => {
  await using server = await createClickHouseServer();
  const auth = {
    user: CLICKHOUSE_TEST_USER,
    password: CLICKHOUSE_TEST_PASSWORD,
  };

  await t.step(
    "a server that stays down: bounded retries, then the batch is dropped and counted",
    async () => {
      const { counter, fetch } = countingFetch();
      const { lines, logger } = collectLogs();
      const events: { failed?: number; dropped?: number }[] = [];
      const sink = createClickHouseSink({
        url: new URL(`http://127.0.0.1:${freePort()}/`),
        database: "default",
        table: "never_created",
        ...auth,
        fetch,
        logger,
        retry: { attempts: 3, baseMs: 5 },
      });
      const queue = new RecordQueue([sink], {
        capacity: 100,
        logger,
        onEvent: (_store, event) => events.push(event),
      });
      queue.push([record(), record()]);
      await queue.flush();
      assert.equal(counter.calls, 3);
      assert.equal(queue.failed, 1);
      assert.equal(queue.dropped, 2);
      assert.equal(events.reduce((sum, e) => sum + (e.failed ?? 0), 0), 1);
      assert.equal(events.reduce((sum, e) => sum + (e.dropped ?? 0), 0), 2);
      assert.ok(
        lines.some((l) =>
          l.startsWith("ERROR") && l.includes("failed 3 times")
        ),
        lines.join("\n"),
      );
      assert.ok(!lines.some((l) => l.includes(CLICKHOUSE_TEST_PASSWORD)));
      await queue.close();
    },
  );

  await t.step(
    "a server down when the sink starts gets the rows once it is up",
    async () => {
      let firstFailure!: () => void;
      const failedOnce = new Promise<void>((resolve) => firstFailure = resolve);
      const { counter, fetch } = countingFetch(() => firstFailure());
      const { lines, logger } = collectLogs();
      const sink = createClickHouseSink({
        url: server.url,
        database: "default",
        table: "late_start",
        ...auth,
        fetch,
        logger,
        // Up to 300 attempts 100 ms apart: far longer than the server takes to start.
        retry: { attempts: 300, baseMs: 20, maxMs: 100 },
      });
      const queue = new RecordQueue([sink], {
        capacity: 100,
        flushIntervalMs: 10,
        logger,
      });
      queue.push([record({ id: "a" }), record({ id: "b" })]);
      await failedOnce;
      assert.equal(server.running, false);
      await server.start();
      await queue.flush();
      assert.ok(counter.failures >= 1);
      assert.equal(queue.failed, 0);
      assert.equal(queue.dropped, 0);
      const rows = await selectRows(server, "late_start");
      assert.deepEqual(rows.map((r) => r.id), ["a", "b"]);
      assert.ok(
        lines.some((l) => l.includes("accepts request records again")),
        lines.join("\n"),
      );
      await queue.close();
    },
  );

  await t.step(
    "creates the table as specified and stores every field, nulls included",
    async () => {
      const sink = createClickHouseSink({
        url: server.url,
        database: "default",
        table: "requests_log",
        ...auth,
      });
      const ts = Date.UTC(2026, 10, 23, 10, 30, 0, 5);
      await sink.write([
        record({ id: "ok", ts }),
        record({
          id: "fail",
          ts: ts + 1,
          client: "team-a",
          credential: null,
          status: 0,
          durationMs: 3.2,
          ttftMs: null,
          bytesOut: 0,
          tokensIn: null,
          tokensOut: null,
          cacheReadTokens: 7,
          cacheWriteTokens: 9,
          error: "client_cancel",
          attempts: 2,
          stream: false,
          model: "claude-opus-4-8",
          upstreamModel: "anthropic.claude-4-7-opus",
          translation: "responses->chat",
          costNanos: 1_234_567,
          costCurrency: "USD",
        }),
      ]);
      await sink.close();

      const ddl = await server.query(
        "SHOW CREATE TABLE default.requests_log FORMAT TabSeparatedRaw",
      );
      assert.match(
        ddl,
        /ENGINE = MergeTree PARTITION BY toYYYYMMDD\(ts\) ORDER BY ts/,
      );
      assert.match(ddl, /ttft_ms Nullable\(Int64\)/);
      assert.match(ddl, /tokens_in Nullable\(Int64\)/);
      assert.match(ddl, /tokens_out Nullable\(Int64\)/);

      const [ok, fail] = await selectRows(server, "requests_log");
      // ClickHouse 18 returns Int64 as JSON strings.
      assert.deepEqual(ok, {
        id: "ok",
        ts: "2026-11-23 10:30:00",
        ts_ms: String(ts),
        client: null,
        credential: "primary",
        method: "POST",
        path: "/v1/chat/completions",
        model: "gpt-4o",
        status: 200,
        duration_ms: "812",
        ttft_ms: "96",
        bytes_in: "320",
        bytes_out: "4096",
        tokens_in: "12",
        tokens_out: "80",
        cache_read_tokens: null,
        cache_write_tokens: null,
        error: null,
        attempts: 1,
        stream: 1,
        upstream_model: null,
        translation: null,
        cost_nanos: null,
        cost_currency: null,
        rewrite: null,
        attempt_log: null,
      });
      assert.equal(fail.client, "team-a");
      assert.equal(fail.credential, null);
      assert.equal(fail.model, "claude-opus-4-8");
      assert.equal(fail.upstream_model, "anthropic.claude-4-7-opus");
      assert.equal(fail.translation, "responses->chat");
      assert.equal(fail.cost_nanos, "1234567");
      assert.equal(fail.cost_currency, "USD");
      assert.equal(fail.status, 0);
      assert.equal(fail.ttft_ms, null);
      assert.equal(fail.tokens_in, null);
      assert.equal(fail.cache_read_tokens, "7");
      assert.equal(fail.error, "client_cancel");
      assert.equal(fail.attempts, 2);
      assert.equal(fail.stream, 0);
    },
  );

  await t.step(
    "adds upstream_model and translation to a table an older flow-proxy created",
    async () => {
      const old = CLICKHOUSE_COLUMNS.replace(
        /,\s*upstream_model Nullable\(String\),\s*translation Nullable\(String\),\s*cost_nanos Nullable\(Int64\),\s*cost_currency Nullable\(String\),\s*rewrite Nullable\(String\),\s*attempt_log Nullable\(String\)$/,
        "",
      );
      assert.notEqual(old, CLICKHOUSE_COLUMNS);
      await server.query(
        `CREATE TABLE default.older (${old}) ENGINE = MergeTree PARTITION BY toYYYYMMDD(ts) ORDER BY ts`,
      );
      for (const id of ["first", "second"]) {
        // A second sink finds the column there already.
        const sink = createClickHouseSink({
          url: server.url,
          database: "default",
          table: "older",
          ...auth,
          retry: { attempts: 1, baseMs: 0 },
        });
        await sink.write([
          record({ id, upstreamModel: "gpt-5", translation: "gemini->chat" }),
        ]);
        await sink.close();
      }
      const rows = await selectRows(server, "older");
      assert.deepEqual(
        rows.map((r) => [r.id, r.upstream_model, r.translation]),
        [
          ["first", "gpt-5", "gemini->chat"],
          ["second", "gpt-5", "gemini->chat"],
        ],
      );
    },
  );

  await t.step("a table dropped while running is created again", async () => {
    const sink = createClickHouseSink({
      url: server.url,
      database: "default",
      table: "recreated",
      ...auth,
      retry: { attempts: 2, baseMs: 1 },
    });
    await sink.write([record({ id: "before" })]);
    await server.query("DROP TABLE default.recreated");
    await sink.write([record({ id: "after" })]);
    await sink.close();
    assert.deepEqual((await selectRows(server, "recreated")).map((r) => r.id), [
      "after",
    ]);
  });

  await t.step(
    "authenticates with X-ClickHouse-User/Key and keeps the password out of errors",
    async () => {
      const sink = createClickHouseSink({
        url: server.url,
        database: "default",
        table: "auth_check",
        user: CLICKHOUSE_TEST_USER,
        password: "wrong-password-123",
        logger: collectLogs().logger,
        retry: { attempts: 1, baseMs: 0 },
      });
      const error = await sink.write([record()]).then(
        () => null,
        (err: Error) => err,
      );
      assert.ok(error instanceof Error);
      assert.match(error.message, /HTTP 401/);
      assert.ok(!error.message.includes("wrong-password-123"));
      await sink.close();
    },
  );

  await t.step("close aborts a batch that is waiting to retry", async () => {
    await server.stop();
    let firstFailure!: () => void;
    const failedOnce = new Promise<void>((resolve) => firstFailure = resolve);
    const sink = createClickHouseSink({
      url: server.url,
      database: "default",
      table: "closed",
      user: null,
      password: null,
      fetch: countingFetch(() => firstFailure()).fetch,
      logger: collectLogs().logger,
      retry: { attempts: 100, baseMs: 60_000 },
    });
    const pending = sink.write([record()]);
    await failedOnce;
    await sink.close();
    await assert.rejects(pending, /closed/);
  });
});
