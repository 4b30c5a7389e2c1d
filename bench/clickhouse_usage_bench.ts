/**
 * How long the usage summary and a budget's spend take to read from the
 * request log: SQLite (`usageSummary`, `usedSince`) against ClickHouse
 * (`createClickHouseQueries`), over the same number of rows spread over 30
 * days. Starts its own clickhouse-server (Debian's package) on free ports,
 * like the tests, and removes everything at the end.
 *
 *   deno run -A bench/clickhouse_usage_bench.ts [--rows 1000000] [--repeats 5]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import {
  CLICKHOUSE_TEST_PASSWORD,
  CLICKHOUSE_TEST_USER,
  createClickHouseServer,
} from "../tests/support/clickhouse.ts";
import { clickHouseTableDdl } from "../src/request_log/clickhouse.ts";
import { createClickHouseQueries } from "../src/request_log/clickhouse_queries.ts";
import {
  openRequestLog,
  usageSummary,
  usedSince,
} from "../src/request_log/sqlite_store.ts";
import type { RequestRecord } from "../src/request_log/record.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rows: { type: "string", default: "1000000" },
    repeats: { type: "string", default: "5" },
  },
});
const ROWS = Number(values.rows);
const REPEATS = Number(values.repeats);
const DAY = 86_400_000;
const NOW = Date.now();
const START = NOW - 30 * DAY;
/** Milliseconds between two rows, so that they span 30 days. */
const STEP = Math.max(1, Math.floor((30 * DAY) / ROWS));

function row(i: number): RequestRecord {
  return {
    id: String(i),
    ts: START + i * STEP,
    client: `key-${i % 50}`,
    credential: `cred-${i % 3}`,
    method: "POST",
    path: "/v1/chat/completions",
    model: i % 2 ? "gpt-4o" : "anthropic.claude-4-5-sonnet",
    upstreamModel: null,
    translation: null,
    costNanos: i % 10 ? 1500 : null,
    costCurrency: i % 10 ? "USD" : null,
    status: i % 50 ? 200 : 502,
    durationMs: 900,
    ttftMs: 100,
    bytesIn: 300,
    bytesOut: 3000,
    tokensIn: 1000,
    tokensOut: 250,
    cacheReadTokens: null,
    cacheWriteTokens: null,
    error: i % 50 ? null : "upstream_unreachable",
    attempts: 1,
    stream: true,
  };
}

async function median(fn: () => Promise<unknown> | unknown): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

await using server = await createClickHouseServer();
await server.start();
const dir = await Deno.makeTempDir({ prefix: "flow-proxy-bench-ch-" });
try {
  // ClickHouse: the same rows, generated server-side.
  await server.query(clickHouseTableDdl("default", "flow_proxy_requests"));
  await server.query(`INSERT INTO default.flow_proxy_requests
    (id, ts, ts_ms, client, credential, method, path, model, status, duration_ms,
     ttft_ms, bytes_in, bytes_out, tokens_in, tokens_out, error, attempts, stream,
     cost_nanos, cost_currency)
    SELECT toString(number), toDateTime(intDiv(${START} + number * ${STEP}, 1000)),
      ${START} + number * ${STEP}, concat('key-', toString(number % 50)),
      concat('cred-', toString(number % 3)), 'POST', '/v1/chat/completions',
      if(number % 2 = 1, 'gpt-4o', 'anthropic.claude-4-5-sonnet'),
      if(number % 50 = 0, 502, 200), 900, 100, 300, 3000, 1000, 250,
      if(number % 50 = 0, 'upstream_unreachable', NULL), 1, 1,
      if(number % 10 = 0, NULL, 1500), if(number % 10 = 0, NULL, 'USD')
    FROM system.numbers LIMIT ${ROWS}`);
  // SQLite: written as the store worker writes, in batches.
  const store = openRequestLog(join(dir, "flow-proxy.db"));
  for (let i = 0; i < ROWS; i += 10_000) {
    const batch: RequestRecord[] = [];
    for (let j = i; j < Math.min(ROWS, i + 10_000); j++) batch.push(row(j));
    await store.write(batch);
  }
  const clickhouse = createClickHouseQueries({
    url: server.url,
    database: "default",
    table: "flow_proxy_requests",
    user: CLICKHOUSE_TEST_USER,
    password: CLICKHOUSE_TEST_PASSWORD,
  });
  const sqliteTotal = usageSummary(store, { since: START }).total.requests;
  const clickhouseTotal =
    (await clickhouse.usageSummary({ since: START })).total.requests;
  if (sqliteTotal !== ROWS || clickhouseTotal !== ROWS) {
    throw new Error(
      `Expected ${ROWS} rows, SQLite has ${sqliteTotal}, ClickHouse ${clickhouseTotal}`,
    );
  }
  const cases: [string, () => unknown, () => Promise<unknown>][] = [
    [
      "usage summary, 30 days",
      () => usageSummary(store, { since: START }),
      () => clickhouse.usageSummary({ since: START }),
    ],
    [
      "usage summary, last 24 h",
      () => usageSummary(store, { since: NOW - DAY }),
      () => clickhouse.usageSummary({ since: NOW - DAY }),
    ],
    [
      "one key's spend this day (a budget seed)",
      () => usedSince(store, "key-7", NOW - DAY),
      () => clickhouse.usedSince("key-7", NOW - DAY),
    ],
  ];
  const lines = [
    `${ROWS} rows over 30 days, median of ${REPEATS}, ClickHouse ${
      (await server.query("SELECT version() FORMAT TabSeparated")).trim()
    }`,
    "",
    "| read | SQLite (ms) | ClickHouse (ms) |",
    "| --- | ---: | ---: |",
  ];
  for (const [name, sqlite, ch] of cases) {
    const a = await median(sqlite);
    const b = await median(ch);
    lines.push(`| ${name} | ${a.toFixed(1)} | ${b.toFixed(1)} |`);
  }
  await store.close();
  // deno-lint-ignore no-console
  console.log(lines.join("\n"));
} finally {
  await Deno.remove(dir, { recursive: true });
}
