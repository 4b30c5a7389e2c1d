import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { openRequestLog } from "../../src/request_log/sqlite_store.ts";
import {
  formatCursor,
  parseCursor,
  usageSeries,
} from "../../src/request_log/request_queries.ts";
import { csvCell, csvLine } from "../../src/admin/request_routes.ts";
import type { RequestRecord } from "../../src/request_log/record.ts";

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 10, 30, 12);

function record(i: number, overrides: Partial<RequestRecord> = {}) {
  return {
    id: `r-${i}`,
    ts: T0 + (i % 3) * DAY + i,
    client: i % 2 ? "k1" : null,
    credential: "primary",
    method: "POST",
    path: "/v1/chat/completions",
    model: i % 4 ? "gpt-4o" : "claude",
    status: 200,
    durationMs: 10,
    ttftMs: null,
    bytesIn: 1,
    bytesOut: 1,
    tokensIn: 10,
    tokensOut: i,
    cacheReadTokens: null,
    cacheWriteTokens: null,
    error: null,
    attempts: 1,
    stream: false,
    costNanos: i % 3 ? 1000 : null,
    costCurrency: i % 3 ? "USD" : null,
    ...overrides,
  } satisfies RequestRecord;
}

/** The rollup's view next to the rows': requests and tokens per day and model. */
function compare(db: DatabaseSync): void {
  const rows = db.prepare(
    `SELECT strftime('%Y-%m-%d', ts / 1000, 'unixepoch') AS day, coalesce(model, '') AS model,
      count(*) AS requests, sum(coalesce(tokens_in, 0) + coalesce(tokens_out, 0)) AS tokens
    FROM requests GROUP BY 1, 2 ORDER BY 1, 2`,
  ).all().map((r) => ({ ...r }));
  const rollup = db.prepare(
    `SELECT day, model, sum(requests) AS requests, sum(tokens) AS tokens
    FROM requests_daily GROUP BY 1, 2 HAVING sum(requests) > 0 ORDER BY 1, 2`,
  ).all().map((r) => ({ ...r }));
  assert.deepEqual(rollup, rows);
}

Deno.test("requests_daily: kept by inserts, filled by the migration, corrected by deletes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "flow-proxy-rollup-" });
  try {
    const path = join(dir, "log.db");
    // A schema 4 file with rows, as an older flow-proxy left it.
    const old = new DatabaseSync(path);
    old.exec(
      `CREATE TABLE flow_proxy_schema (component TEXT PRIMARY KEY, version INTEGER NOT NULL);
      INSERT INTO flow_proxy_schema VALUES ('requests', 4);
      CREATE TABLE requests (id TEXT NOT NULL, ts INTEGER NOT NULL, client TEXT,
        credential TEXT, method TEXT NOT NULL, path TEXT NOT NULL, model TEXT,
        status INTEGER NOT NULL, duration_ms REAL NOT NULL, ttft_ms REAL,
        bytes_in INTEGER NOT NULL, bytes_out INTEGER NOT NULL, tokens_in INTEGER,
        tokens_out INTEGER, cache_read_tokens INTEGER, cache_write_tokens INTEGER,
        error TEXT, attempts INTEGER NOT NULL, stream INTEGER NOT NULL,
        upstream_model TEXT, translation TEXT, cost_nanos INTEGER, cost_currency TEXT);
      INSERT INTO requests VALUES ('old-1', ${T0}, 'k1', 'p', 'POST', '/v1/x', 'gpt-4o',
        200, 5, NULL, 1, 1, 7, 3, NULL, NULL, NULL, 1, 0, NULL, NULL, 500, 'USD');
      INSERT INTO requests VALUES ('old-2', ${
        T0 - DAY
      }, NULL, 'p', 'POST', '/v1/x', NULL,
        502, 5, NULL, 1, 1, NULL, NULL, NULL, NULL, 'upstream_5xx', 1, 0, NULL, NULL, NULL, NULL);`,
    );
    old.close();
    const store = openRequestLog(path);
    const db = store.database;
    compare(db);
    await store.write(Array.from({ length: 40 }, (_, i) => record(i)));
    await store.write([record(99, { model: null, client: null })]);
    compare(db);
    const series = usageSeries(db, {
      fromDay: "2026-11-28",
      toDay: "2026-12-03",
      by: "model",
    });
    assert.equal(series.totals.requests, 43);
    // A retention job's DELETE: the trigger takes the rows out of the rollup.
    db.exec(`DELETE FROM requests WHERE ts < ${T0 + DAY}`);
    compare(db);
    const after = usageSeries(db, {
      fromDay: "2026-11-28",
      toDay: "2026-12-03",
      by: "model",
    });
    const left = db.prepare("SELECT count(*) AS n FROM requests").get() as {
      n: number;
    };
    assert.equal(after.totals.requests, left.n);
    assert.ok(left.n > 0 && left.n < 43);
    await store.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cursors: rowid and id forms survive formatting; anything else is refused", () => {
  for (
    const cursor of [
      { ts: 1764676800000, row: 81234 },
      { ts: 5, row: 0, id: "req-1" },
      { ts: 1764676800000, row: 0, id: "ünïcode/+=?&id" },
    ]
  ) {
    assert.deepEqual(parseCursor(formatCursor(cursor)), cursor);
  }
  for (
    const bad of ["", "abc", "1.2.3", "1.", ".2", "-1.2", "1_", "1_***", "1_wg"]
  ) {
    assert.equal(parseCursor(bad), null, bad);
  }
});

Deno.test("csvCell quotes per RFC 4180 and makes formulas inert", () => {
  assert.equal(csvCell(null), "");
  assert.equal(csvCell(12.5), "12.5");
  assert.equal(csvCell(-3), "-3");
  assert.equal(csvCell(false), "false");
  assert.equal(csvCell("plain"), "plain");
  assert.equal(csvCell('a "b", c'), '"a ""b"", c"');
  assert.equal(csvCell("two\nlines"), '"two\nlines"');
  for (const formula of ["=1+2", "+1", "-1", "@SUM(A1)", "\tx", "\rx"]) {
    assert.ok(csvCell(formula).replace(/^"/, "").startsWith("'"), formula);
  }
  assert.equal(csvCell('=HYPERLINK("x")'), `"'=HYPERLINK(""x"")"`);
  assert.equal(csvLine(["a", null, 1]), "a,,1\r\n");
});
