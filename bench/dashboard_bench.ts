/**
 * The dashboard's queries on a big SQLite request log: builds a log of
 * `--rows` requests (default 1,000,000, over 30 days, 200 keys of 50 users
 * in 10 teams) in a temporary directory — one transaction, the store's own
 * multi-row INSERT, which also fills the daily rollup — then times every
 * query the dashboard's routes make, as the store worker makes them:
 * the request list under each filter (first page and a deep keyset page),
 * a request by id, the CSV's first page (query and encoding), the usage
 * series by model, key, user and team, budgets and the overview sample.
 * p50 and worst of `--runs` runs, milliseconds; the goal is under 200.
 *
 * Then the insert cost of schema 5's indexes on that log: batches of 64
 * records, one transaction each (as the store worker writes), with the
 * indexes and without them.
 *
 *   deno task bench:dashboard [--rows 1000000] [--runs 15]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { openRequestLog } from "../src/request_log/sqlite_store.ts";
import { RecordInserter } from "../src/request_log/sqlite_insert.ts";
import {
  type Cursor,
  getRequest,
  listRequests,
  type RequestFilter,
  type RequestSelection,
  resolveSelection,
  usageSeries,
} from "../src/request_log/request_queries.ts";
import { csvLine, REQUEST_COLUMNS } from "../src/admin/request_routes.ts";
import type { RequestRecord } from "../src/request_log/record.ts";
import { openKeyStore } from "../src/access/key_store.ts";
import { openAccounts } from "../src/accounts/accounts.ts";
import { ownedKeys } from "../src/server/shared_budgets.ts";
import { createSharedState } from "../src/base/shared_state.ts";
import { BudgetTable } from "../src/access/budget_table.ts";
import { budgetItems } from "../src/server/dashboard_sources.ts";
import { Metrics } from "../src/observe/metrics.ts";
import { OverviewSampler } from "../src/observe/overview.ts";
import { fixed, median, write } from "./lib/report.ts";

const { values } = parseArgs({
  options: {
    rows: { type: "string", default: "1000000" },
    runs: { type: "string", default: "15" },
    "insert-batches": { type: "string", default: "300" },
  },
});
const ROWS = Number(values.rows);
const RUNS = Number(values.runs);
const INSERT_BATCHES = Number(values["insert-batches"]);
const DAY = 86_400_000;
const NOW = Date.UTC(2026, 11, 2, 12);
const KEYS = 200;
const USERS = 50;
const MODELS = [
  "gpt-4o",
  "gpt-4o-mini",
  "claude-sonnet-4",
  "claude-haiku",
  "gemini-2.5-pro",
  "o3",
  "o4-mini",
  "text-embedding-3-small",
  "gpt-4.1",
  "claude-opus-4",
];
const ERRORS = ["upstream_timeout", "upstream_5xx", "client_cancel"];

/** A deterministic pseudo-random sequence (mulberry32). */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function makeRecord(i: number, rand: () => number, ts: number): RequestRecord {
  const r = rand();
  const status = r < 0.94
    ? 200
    : r < 0.96
    ? 429
    : r < 0.975
    ? 400
    : r < 0.99
    ? 502
    : 0;
  const model = MODELS[Math.floor(rand() ** 2 * MODELS.length)];
  const tokens = status === 200;
  const priced = tokens && rand() < 0.8;
  return {
    id: `req-${i.toString(36)}-${Math.floor(rand() * 1e9).toString(36)}`,
    ts,
    client: rand() < 0.02 ? null : `key-${Math.floor(rand() ** 1.5 * KEYS)}`,
    credential: `cred-${i % 4}`,
    method: "POST",
    path: "/v1/chat/completions",
    model,
    upstreamModel: rand() < 0.3 ? `flow-${model}` : null,
    translation: rand() < 0.2 ? "messages->chat" : null,
    rewrite: rand() < 0.1 ? "max_tokens" : null,
    status,
    durationMs: 50 + rand() * 3000,
    ttftMs: rand() < 0.7 ? 20 + rand() * 800 : null,
    bytesIn: 200 + Math.floor(rand() * 5000),
    bytesOut: 100 + Math.floor(rand() * 20000),
    tokensIn: tokens ? Math.floor(rand() * 4000) : null,
    tokensOut: tokens ? Math.floor(rand() * 1000) : null,
    cacheReadTokens: null,
    cacheWriteTokens: null,
    error: status === 200 || status === 400
      ? null
      : status === 429
      ? null
      : ERRORS[Math.floor(rand() * ERRORS.length)] as RequestRecord["error"],
    attempts: status === 502 ? 2 : 1,
    stream: rand() < 0.5,
    costNanos: priced ? Math.floor(rand() * 5_000_000) : null,
    costCurrency: priced ? "USD" : null,
  };
}

interface Timing {
  name: string;
  p50: number;
  max: number;
  rows: number;
}

function time(name: string, run: () => number): Timing {
  run(); // prepare, warm the page cache
  const samples: number[] = [];
  let rows = 0;
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now();
    rows = run();
    samples.push(performance.now() - started);
  }
  return { name, p50: median(samples), max: Math.max(...samples), rows };
}

const dir = await Deno.makeTempDir({ prefix: "fp-dashboard-bench-" });
try {
  const path = join(dir, "flow-proxy.db");
  const accounts = openAccounts(path, { scrypt: { logN: 10, r: 8, p: 1 } });
  const actor = { name: "bench", role: null, address: null };
  for (let t = 0; t < 10; t++) accounts.createTeam(`team-${t}`, actor);
  for (let u = 0; u < USERS; u++) {
    await accounts.createUser({
      name: `user-${u}`,
      role: "member",
      password: "correct horse battery",
      team: `team-${u % 10}`,
    }, actor);
  }
  const keyStore = openKeyStore(path);
  for (let k = 0; k < KEYS; k++) {
    keyStore.create({ name: `key-${k}`, owner: `user-${k % USERS}` });
  }
  const keys = keyStore.snapshot();
  const store = openRequestLog(path);
  const db = store.database;

  // The log: one transaction, the store's multi-row INSERT (and rollup).
  const rand = random(42);
  const built = performance.now();
  const inserter = new RecordInserter(db);
  db.exec("BEGIN");
  const chunk = 10_000;
  for (let start = 0; start < ROWS; start += chunk) {
    const batch: RequestRecord[] = [];
    for (let i = start; i < Math.min(ROWS, start + chunk); i++) {
      // Oldest first, spread evenly over 30 days up to NOW.
      batch.push(
        makeRecord(i, rand, NOW - 30 * DAY + Math.floor(i * (30 * DAY) / ROWS)),
      );
    }
    inserter.insert(batch);
  }
  db.exec("COMMIT");
  // No ANALYZE: a real log never had one, so the planner's guesses are measured.
  const buildSeconds = (performance.now() - built) / 1000;
  const size = Deno.statSync(path).size +
    (Deno.statSync(`${path}-wal`)?.size ?? 0);
  write(
    `Built ${ROWS.toLocaleString("en")} rows in ${fixed(buildSeconds, 1)} s (${
      fixed(size / 1e6, 0)
    } MB)\n\n`,
  );

  const owned = (user: string) => ownedKeys(keys, user);
  const page =
    (selection: RequestSelection, cursor: Cursor | null = null, limit = 50) =>
    () =>
      listRequests(db, resolveSelection(selection, owned), { cursor, limit })
        .items.length;
  const middle = db.prepare(
    "SELECT ts, rowid AS row FROM requests ORDER BY ts DESC, rowid DESC LIMIT 1 OFFSET ?",
  ).get(Math.floor(ROWS / 2)) as unknown as Cursor;
  const deepKey = (() => {
    const filter: RequestFilter = { clients: ["key-3"] };
    const r = db.prepare(
      "SELECT ts, rowid AS row FROM requests WHERE client = 'key-3' ORDER BY ts DESC, rowid DESC LIMIT 1 OFFSET 2000",
    ).get() as unknown as Cursor | undefined;
    return { filter, cursor: r ?? null };
  })();
  const ids = (db.prepare(
    "SELECT id FROM requests WHERE rowid % 9973 = 0 LIMIT 50",
  ).all() as { id: string }[]).map((r) => r.id);
  let idAt = 0;
  const nextId = () => ids[idAt++ % ids.length];
  const day15 = NOW - 15 * DAY;
  const timings: Timing[] = [
    time("list, no filter, first page", page({})),
    time("list, no filter, deep page (row 500,000)", page({}, middle)),
    time("list, no filter, 500 rows", page({}, null, 500)),
    time("list key=", page({ key: "key-7" })),
    time("list key=, deep page", page({ key: "key-3" }, deepKey.cursor)),
    time("list key= (rare key)", page({ key: "key-199" })),
    time("list user= (4 keys)", page({ user: "user-7" })),
    time("list as a member (own keys)", page({ owner: "user-1" })),
    time("list model=", page({ model: "gpt-4o" })),
    time("list model= (rare)", page({ model: "claude-opus-4" })),
    time("list upstream_model=", page({ upstreamModel: "flow-o3" })),
    time("list status=200", page({ status: 200 })),
    time("list status=429", page({ status: 429 })),
    time("list status=4xx", page({ status: "4xx" })),
    time("list status=5xx", page({ status: "5xx" })),
    time("list status=error", page({ status: "error" })),
    time("list error=upstream_timeout", page({ error: "upstream_timeout" })),
    time("list translation=", page({ translation: "messages->chat" })),
    time("list translation=none", page({ translation: "none" })),
    time("list rewrite=", page({ rewrite: "max_tokens" })),
    time(
      "list id=",
      () => listRequests(db, { id: nextId() }, { limit: 50 }).items.length,
    ),
    time(
      "list from/to (one day, 15 days ago)",
      page({ from: day15, to: day15 + DAY }),
    ),
    time("list key= & status=5xx", page({ key: "key-2", status: "5xx" })),
    time(
      "list model= & status=error & from",
      page({
        model: "o3",
        status: "error",
        from: NOW - 7 * DAY,
      }),
    ),
    time("list model= (no match)", page({ model: "no-such-model" })),
    time("list error= (no match)", page({ error: "stream_error" })),
    time("list status=503 (no match)", page({ status: 503 })),
    time("list translation= (no match)", page({ translation: "gemini->chat" })),
    time("list rewrite= (no match)", page({ rewrite: "no-such-kind" })),
    time("list upstream_model= (no match)", page({ upstreamModel: "nope" })),
    time("list id= (no match)", page({ id: "no-such-id" })),
    time(
      "list key= & model= (no match)",
      page({ key: "key-9", model: "no-such-model" }),
    ),
    time("detail by id", () => getRequest(db, nextId()) === null ? 0 : 1),
    time(
      "detail by id, member-scoped",
      () => getRequest(db, nextId(), owned("user-3")) === null ? 0 : 1,
    ),
    time("csv first page (500 rows, encoded)", () => {
      const items = listRequests(db, {}, { limit: 500 }).items;
      let bytes = csvLine(REQUEST_COLUMNS).length;
      for (const item of items) {
        bytes += csvLine(REQUEST_COLUMNS.map((c) => item[c])).length;
      }
      return bytes > 0 ? items.length : 0;
    }),
    ...(["model", "key", "user", "team"] as const).map((by) =>
      time(
        `usage series 30 days by ${by}`,
        () =>
          usageSeries(db, { fromDay: "2026-11-03", toDay: "2026-12-02", by })
            .groups.length,
      )
    ),
    time("usage series 30 days by key, member", () =>
      usageSeries(db, {
        fromDay: "2026-11-03",
        toDay: "2026-12-02",
        by: "key",
        clients: owned("user-1"),
      }).groups.length),
  ];
  const state = createSharedState();
  const budgets = new BudgetTable(state.budgets);
  const budgeted = keys.map((k) => ({
    ...k,
    budget: {
      period: "day" as const,
      tokens: 1_000_000,
      spendNanos: null,
      maxParallel: null,
    },
  }));
  timings.push(
    time("budgets (200 keys)", () =>
      budgetItems(budgeted, budgets, {
        owner: null,
        now: NOW,
        zone: "UTC",
        currency: "USD",
      })
        .length),
  );
  const metrics = new Metrics(state.metrics);
  const sampler = new OverviewSampler({ read: () => metrics.snapshot() });
  timings.push(time("overview sample (shared metrics)", () => {
    sampler.sample();
    return sampler.series(600_000).length;
  }));

  write("| query | p50 ms | worst ms | rows |\n|---|---:|---:|---:|\n");
  for (const t of timings) {
    write(
      `| ${t.name} | ${fixed(t.p50, 2)} | ${fixed(t.max, 2)}${
        t.max >= 200 ? " ⚠" : ""
      } | ${t.rows} |\n`,
    );
  }
  const worst = Math.max(...timings.map((t) => t.max));
  write(`\nWorst of all: ${fixed(worst, 2)} ms (goal: under 200)\n\n`);

  // The insert cost of schema 5's indexes, on this log: the store worker
  // writes what the queue holds, 500 records at most (record_queue.ts), so a
  // busy server writes batches of 500 and a quiet one small batches.
  let n = ROWS;
  const insertRate = (size: number) => {
    const r = random(7);
    const perRecord: number[] = [];
    const batches = Math.max(10, Math.round(INSERT_BATCHES * 64 / size));
    for (let b = 0; b < batches; b++) {
      const batch = Array.from({ length: size }, () => {
        n++;
        return makeRecord(n, r, NOW + n);
      });
      const started = performance.now();
      store.write(batch);
      perRecord.push((performance.now() - started) * 1000 / size);
    }
    return median(perRecord);
  };
  const sizes = [64, 500];
  const withIndexes = sizes.map(insertRate);
  for (
    const index of [
      "requests_id",
      "requests_client_ts",
      "requests_model_ts",
      "requests_upstream_ts",
      "requests_failed_ts",
      "requests_status_ts",
      "requests_error_ts",
      "requests_translation_ts",
      "requests_rewrite_ts",
    ]
  ) db.exec(`DROP INDEX ${index}`);
  const without = sizes.map(insertRate);
  write(
    "| insert on this log, per record | batch of 64 | batch of 500 |\n|---|---:|---:|\n",
  );
  const row = (label: string, us: number[]) =>
    write(
      `| ${label} | ${
        us.map((u) => `${fixed(u, 1)} µs (${fixed(1e6 / u / 1000, 0)}k/s)`)
          .join(" | ")
      } |\n`,
    );
  row("schema 5: dashboard indexes and rollup", withIndexes);
  row("schema 5 without its 9 indexes (rollup kept)", without);
  write(
    `\nThe indexes add ${
      sizes.map((s, i) =>
        `${fixed(withIndexes[i] - without[i], 1)} µs per record at ${s}`
      ).join(", ")
    }.\n`,
  );
  await store.close();
  keyStore.close();
  accounts.close();
} finally {
  await Deno.remove(dir, { recursive: true });
}
