import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import type { RequestRecord } from "../../src/request_log/record.ts";
import {
  openRequestLog,
  REQUESTS_SCHEMA_VERSION,
  usageSummary,
} from "../../src/request_log/sqlite_store.ts";

const DAY1 = Date.UTC(2026, 10, 20, 23, 59, 59, 999);
const DAY2 = Date.UTC(2026, 10, 21, 0, 0, 0, 0);

function record(overrides: Partial<RequestRecord> = {}): RequestRecord {
  return {
    id: crypto.randomUUID(),
    ts: DAY1,
    client: null,
    credential: "primary",
    method: "POST",
    path: "/v1/chat/completions",
    model: "gpt-4o",
    status: 200,
    durationMs: 1234.5,
    ttftMs: 87.25,
    bytesIn: 512,
    bytesOut: 2048,
    tokensIn: 100,
    tokensOut: 50,
    cacheReadTokens: null,
    cacheWriteTokens: null,
    error: null,
    attempts: 1,
    stream: true,
    ...overrides,
  };
}

/** A mix of requests, failures included. */
function mixedRecords(): RequestRecord[] {
  return [
    record({ id: "ok-1" }),
    record({
      id: "ok-2",
      ts: DAY2,
      tokensIn: 10,
      tokensOut: 5,
      cacheReadTokens: 40,
      cacheWriteTokens: 8,
    }),
    record({
      id: "claude",
      ts: DAY2 + 1000,
      credential: "backup",
      path: "/v1/messages",
      model: "anthropic.claude-4-5-sonnet",
      tokensIn: 7,
      tokensOut: 3,
      cacheReadTokens: 2,
      stream: false,
      ttftMs: null,
    }),
    record({
      id: "upstream-5xx",
      ts: DAY2 + 2000,
      credential: "backup",
      status: 502,
      tokensIn: null,
      tokensOut: null,
      ttftMs: null,
      bytesOut: 120,
      error: "upstream_unreachable",
      attempts: 3,
      stream: false,
    }),
    record({
      id: "client-left",
      ts: DAY2 + 3000,
      status: 0,
      tokensIn: null,
      tokensOut: null,
      bytesOut: 0,
      error: "client_cancel",
    }),
    record({
      id: "no-credential",
      ts: DAY2 + 4000,
      credential: null,
      model: null,
      status: 503,
      tokensIn: null,
      tokensOut: null,
      ttftMs: null,
      error: "no_credentials_available",
      attempts: 0,
      stream: false,
    }),
    record({
      id: "stream-no-usage",
      ts: DAY2 + 5000,
      tokensIn: null,
      tokensOut: null,
    }),
  ];
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "flow-proxy-sqlite-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("openRequestLog creates its table, index and schema version beside other tables", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "flow-proxy.db");
    const other = new DatabaseSync(path);
    other.exec(
      "CREATE TABLE client_keys (name TEXT PRIMARY KEY); INSERT INTO client_keys VALUES ('team-a')",
    );
    other.close();

    const store = openRequestLog(path);
    const db = store.database;
    assert.equal(
      (db.prepare("PRAGMA journal_mode").get() as { journal_mode: string })
        .journal_mode,
      "wal",
    );
    const columns =
      (db.prepare("PRAGMA table_info(requests)").all() as { name: string }[])
        .map((c) => c.name);
    assert.deepEqual(columns, [
      "id",
      "ts",
      "client",
      "credential",
      "method",
      "path",
      "model",
      "status",
      "duration_ms",
      "ttft_ms",
      "bytes_in",
      "bytes_out",
      "tokens_in",
      "tokens_out",
      "cache_read_tokens",
      "cache_write_tokens",
      "error",
      "attempts",
      "stream",
      "upstream_model",
      "translation",
      "cost_nanos",
      "cost_currency",
      "rewrite",
      "attempt_log",
    ]);
    const indexes = db.prepare("PRAGMA index_list(requests)").all() as {
      name: string;
    }[];
    for (
      const name of [
        "requests_ts",
        "requests_id",
        "requests_client_ts",
        "requests_model_ts",
      ]
    ) assert.ok(indexes.some((i) => i.name === name), name);
    assert.deepEqual(
      {
        ...db.prepare(
          "SELECT version FROM flow_proxy_schema WHERE component = 'requests'",
        ).get(),
      },
      { version: REQUESTS_SCHEMA_VERSION },
    );
    assert.equal(
      (db.prepare("PRAGMA user_version").get() as { user_version: number })
        .user_version,
      0,
    );
    assert.deepEqual({ ...db.prepare("SELECT name FROM client_keys").get() }, {
      name: "team-a",
    });
    await store.close();

    // Opening again migrates nothing and keeps the rows.
    const again = openRequestLog(path);
    await again.write([record()]);
    await again.close();
  });
});

Deno.test("SqliteStore.write() stores every field of successful and failed requests", async () => {
  await withDir(async (dir) => {
    const store = openRequestLog(join(dir, "log.db"));
    await store.write(mixedRecords());
    const rows = store.database.prepare("SELECT * FROM requests ORDER BY ts")
      .all().map((r) => ({ ...r }));
    assert.equal(rows.length, 7);
    assert.deepEqual(rows[0], {
      id: "ok-1",
      ts: DAY1,
      client: null,
      credential: "primary",
      method: "POST",
      path: "/v1/chat/completions",
      model: "gpt-4o",
      status: 200,
      duration_ms: 1234.5,
      ttft_ms: 87.25,
      bytes_in: 512,
      bytes_out: 2048,
      tokens_in: 100,
      tokens_out: 50,
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
    const failure = rows.find((r) => r.id === "upstream-5xx")!;
    assert.equal(failure.status, 502);
    assert.equal(failure.error, "upstream_unreachable");
    assert.equal(failure.tokens_in, null);
    assert.equal(failure.ttft_ms, null);
    assert.equal(failure.attempts, 3);
    assert.equal(failure.stream, 0);
    const left = rows.find((r) => r.id === "client-left")!;
    assert.equal(left.status, 0);
    assert.equal(left.error, "client_cancel");
    const none = rows.find((r) => r.id === "no-credential")!;
    assert.equal(none.credential, null);
    assert.equal(none.model, null);
    await store.close();
  });
});

Deno.test("openRequestLog adds upstream_model and translation to a log of schema 1, keeping its rows", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "old.db");
    const old = new DatabaseSync(path);
    old.exec(
      `CREATE TABLE flow_proxy_schema (component TEXT PRIMARY KEY, version INTEGER NOT NULL);
      INSERT INTO flow_proxy_schema VALUES ('requests', 1);
      CREATE TABLE requests (id TEXT NOT NULL, ts INTEGER NOT NULL, client TEXT,
        credential TEXT, method TEXT NOT NULL, path TEXT NOT NULL, model TEXT,
        status INTEGER NOT NULL, duration_ms REAL NOT NULL, ttft_ms REAL,
        bytes_in INTEGER NOT NULL, bytes_out INTEGER NOT NULL, tokens_in INTEGER,
        tokens_out INTEGER, cache_read_tokens INTEGER, cache_write_tokens INTEGER,
        error TEXT, attempts INTEGER NOT NULL, stream INTEGER NOT NULL);
      INSERT INTO requests VALUES ('old', 1, NULL, 'p', 'POST', '/v1/messages',
        'claude-opus-4-8', 200, 1, NULL, 1, 1, 3, 4, NULL, NULL, NULL, 1, 0);`,
    );
    // `flow-proxy usage` reads an old file read-only, without migrating it.
    assert.deepEqual(
      usageSummary(path).byModel.map((m) => [m.model, m.upstreamModel]),
      [["claude-opus-4-8", null]],
    );
    old.close();

    const store = openRequestLog(path);
    await store.write([
      record({
        id: "new",
        model: "claude-opus-4-8",
        upstreamModel: "anthropic.claude-4-7-opus",
        translation: "responses->chat",
      }),
    ]);
    const rows = store.database.prepare(
      "SELECT id, model, upstream_model, translation FROM requests ORDER BY ts",
    ).all().map((r) => ({ ...r }));
    assert.deepEqual(rows, [
      {
        id: "old",
        model: "claude-opus-4-8",
        upstream_model: null,
        translation: null,
      },
      {
        id: "new",
        model: "claude-opus-4-8",
        upstream_model: "anthropic.claude-4-7-opus",
        translation: "responses->chat",
      },
    ]);
    assert.equal(
      (store.database.prepare(
        "SELECT version FROM flow_proxy_schema WHERE component = 'requests'",
      ).get() as { version: number }).version,
      REQUESTS_SCHEMA_VERSION,
    );
    await store.close();
  });
});

Deno.test("usageSummary groups by model and the upstream model where it differs", async () => {
  await withDir(async (dir) => {
    const store = openRequestLog(join(dir, "log.db"));
    await store.write([
      record({
        model: "claude-opus-4-8",
        upstreamModel: "anthropic.claude-4-7-opus",
      }),
      record({
        model: "claude-opus-4-8",
        upstreamModel: "anthropic.claude-4-7-opus",
      }),
      record({
        model: "claude-opus-4-8",
        upstreamModel: "anthropic.claude-4-8-opus",
      }),
      record({ model: "gpt-5", upstreamModel: "gpt-5" }),
      record({ model: "gpt-5" }),
    ]);
    assert.deepEqual(
      usageSummary(store).byModel.map((
        m,
      ) => [m.model, m.upstreamModel, m.requests]),
      [
        ["claude-opus-4-8", "anthropic.claude-4-7-opus", 2],
        ["gpt-5", null, 2],
        ["claude-opus-4-8", "anthropic.claude-4-8-opus", 1],
      ],
    );
    await store.close();
  });
});

Deno.test("SqliteStore.write() stores batches longer than one INSERT statement, row by row in order", async () => {
  await withDir(async (dir) => {
    const store = openRequestLog(join(dir, "log.db"));
    // 64 rows go in one statement: 150 are two full ones and a rest of 22.
    const batch = Array.from({ length: 150 }, (_, i) =>
      record({
        id: `r-${i}`,
        ts: DAY1 + i,
        status: 200 + (i % 3),
        tokensIn: i,
        stream: i % 2 === 0,
        upstreamModel: i === 149 ? "gpt-4o-2024-08-06" : null,
        costNanos: i === 70 ? 12345 : null,
        costCurrency: i === 70 ? "USD" : null,
      }));
    await store.write(batch);
    await store.write([record({ id: "single", ts: DAY2 })]);
    const rows = store.database.prepare(
      "SELECT id, ts, status, tokens_in, stream, upstream_model, cost_nanos, cost_currency FROM requests ORDER BY rowid",
    ).all().map((r) => ({ ...r }));
    assert.equal(rows.length, 151);
    assert.deepEqual(
      rows.map((r) => r.id),
      [...batch.map((r) => r.id), "single"],
    );
    for (const [i, row] of rows.slice(0, 150).entries()) {
      assert.equal(row.ts, DAY1 + i);
      assert.equal(row.status, 200 + (i % 3));
      assert.equal(row.tokens_in, i);
      assert.equal(row.stream, i % 2 === 0 ? 1 : 0);
    }
    assert.equal(rows[70].cost_nanos, 12345);
    assert.equal(rows[70].cost_currency, "USD");
    assert.equal(rows[149].upstream_model, "gpt-4o-2024-08-06");
    assert.equal(rows[150].ts, DAY2);
    await store.close();
  });
});

Deno.test("SqliteStore.write() stores a batch entirely or not at all", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "log.db");
    const store = openRequestLog(path);
    await store.write([record({ id: "earlier" })]);
    const broken = {
      ...record({ id: "broken" }),
      method: undefined,
    } as unknown as RequestRecord;
    await assert.rejects(
      store.write([record({ id: "good-1" }), broken, record({ id: "good-2" })]),
      (err: Error) =>
        err.message.startsWith(
          `Cannot write 3 records to request log "${path}"`,
        ),
    );
    const ids = store.database.prepare("SELECT id FROM requests").all().map((
      r,
    ) => r.id);
    assert.deepEqual(ids, ["earlier"]);
    // The store is still usable after the rollback.
    await store.write([record({ id: "later" })]);
    assert.equal(
      (store.database.prepare("SELECT count(*) AS n FROM requests").get() as {
        n: number;
      }).n,
      2,
    );
    await store.close();
  });
});

Deno.test("openRequestLog refuses what it cannot use, naming the file", async (t) => {
  await withDir(async (dir) => {
    await t.step("a directory that does not exist", () => {
      const path = join(dir, "missing", "log.db");
      assert.throws(() => openRequestLog(path), (err: Error) => {
        assert.equal(
          err.message,
          `Cannot open request log "${path}": unable to open database file`,
        );
        return true;
      });
    });
    await t.step("a schema newer than this build", async () => {
      const path = join(dir, "future.db");
      await openRequestLog(path).close();
      const db = new DatabaseSync(path);
      db.exec(
        "UPDATE flow_proxy_schema SET version = 99 WHERE component = 'requests'",
      );
      db.close();
      assert.throws(
        () => openRequestLog(path),
        /Request log ".*future\.db" has schema version 99, newer than/,
      );
    });
  });
});

Deno.test("usageSummary totals requests, errors and tokens by credential, model and day", async (t) => {
  await withDir(async (dir) => {
    const path = join(dir, "log.db");
    const store = openRequestLog(path);
    await store.write(mixedRecords());

    await t.step("all time, from the open store", () => {
      const summary = usageSummary(store);
      assert.equal(summary.since, null);
      assert.equal(summary.until, null);
      assert.deepEqual(summary.total, {
        requests: 7,
        errors: 3,
        tokensIn: 117,
        tokensOut: 58,
        cacheReadTokens: 42,
        cacheWriteTokens: 8,
        withoutUsage: 1,
        costNanos: 0,
        currency: null,
        unpriced: 3,
      });
      assert.deepEqual(summary.byCredential, [
        {
          credential: "primary",
          requests: 4,
          errors: 1,
          tokensIn: 110,
          tokensOut: 55,
          cacheReadTokens: 40,
          cacheWriteTokens: 8,
          withoutUsage: 1,
          costNanos: 0,
          currency: null,
          unpriced: 2,
        },
        {
          credential: "backup",
          requests: 2,
          errors: 1,
          tokensIn: 7,
          tokensOut: 3,
          cacheReadTokens: 2,
          cacheWriteTokens: 0,
          withoutUsage: 0,
          costNanos: 0,
          currency: null,
          unpriced: 1,
        },
        {
          credential: null,
          requests: 1,
          errors: 1,
          tokensIn: 0,
          tokensOut: 0,
          cacheReadTokens: 0,
          cacheWriteTokens: 0,
          withoutUsage: 0,
          costNanos: 0,
          currency: null,
          unpriced: 0,
        },
      ]);
      assert.deepEqual(
        summary.byModel.map((m) => [m.model, m.requests, m.tokensIn]),
        [["gpt-4o", 5, 110], ["anthropic.claude-4-5-sonnet", 1, 7], [
          null,
          1,
          0,
        ]],
      );
      assert.deepEqual(
        summary.byDay.map((d) => [d.day, d.requests, d.errors, d.tokensIn]),
        [["2026-11-20", 1, 0, 100], ["2026-11-21", 6, 3, 17]],
      );
    });

    await t.step("since is inclusive and until exclusive, from a path", () => {
      const summary = usageSummary(path, { since: DAY2, until: DAY2 + 2000 });
      assert.equal(summary.since, DAY2);
      assert.equal(summary.total.requests, 2);
      assert.deepEqual(summary.byDay.map((d) => d.day), ["2026-11-21"]);
      assert.deepEqual(summary.byCredential.map((c) => c.credential), [
        "backup",
        "primary",
      ]);
    });
    await store.close();

    await t.step("a database without a request log gives zeros", () => {
      const other = join(dir, "keys-only.db");
      new DatabaseSync(other).close();
      const summary = usageSummary(other);
      assert.equal(summary.total.requests, 0);
      assert.deepEqual(summary.byCredential, []);
    });

    await t.step(
      "a file that is not a database is an error naming it",
      async () => {
        const bad = join(dir, "bad.db");
        await Deno.writeTextFile(bad, "not a database ".repeat(100));
        assert.throws(() => usageSummary(bad), (err: Error) => {
          assert.equal(
            err.message,
            `Cannot read request log "${bad}": file is not a database`,
          );
          return true;
        });
      },
    );
  });
});
