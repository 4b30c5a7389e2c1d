/**
 * How records become rows of the request log's `requests` table: one
 * prepared INSERT of many rows at a time (the store worker's per-record
 * cost on the hot path's behalf). The caller holds the transaction.
 *
 * Each batch is also summed by UTC day, key, model and currency into
 * `requests_daily`, one UPSERT per group (a batch has few): the
 * dashboard's usage charts read that rollup instead of a month of rows.
 */
import type { DatabaseSync, SQLInputValue, StatementSync } from "node:sqlite";
import type { RequestRecord } from "./record.ts";

const INSERT_COLUMNS = `id, ts, client, credential, method, path, model,
  status, duration_ms, ttft_ms, bytes_in, bytes_out, tokens_in, tokens_out,
  cache_read_tokens, cache_write_tokens, error, attempts, stream,
  upstream_model, translation, cost_nanos, cost_currency, rewrite, attempt_log`;
/** Values per row of {@linkcode INSERT_COLUMNS}. */
const INSERT_WIDTH = 25;
/**
 * Rows per INSERT statement: one statement of many rows costs less per
 * record than a statement per record (fewer calls into SQLite, each bound
 * once), measured 10-40 % less on the store worker (docs/benchmarks.md);
 * 64 rows are 1,600 values, far below SQLite's limit of 32,766.
 */
const ROWS_PER_INSERT = 64;

/** `INSERT INTO requests … VALUES (…), (…)` for `rows` rows. */
function insertSql(rows: number): string {
  const row = `(${new Array(INSERT_WIDTH).fill("?").join(", ")})`;
  return `INSERT INTO requests (${INSERT_COLUMNS}) VALUES ${
    new Array(rows).fill(row).join(", ")
  }`;
}

/** Adds one group's sums to `requests_daily`. */
const ROLLUP_SQL = `INSERT INTO requests_daily
  (day, client, model, currency, requests, tokens, cost_nanos, priced, unpriced)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (day, client, model, currency) DO UPDATE SET
    requests = requests + excluded.requests, tokens = tokens + excluded.tokens,
    cost_nanos = cost_nanos + excluded.cost_nanos,
    priced = priced + excluded.priced, unpriced = unpriced + excluded.unpriced`;

const DAY_MS = 86_400_000;

/** One group of a batch's rollup: requests, tokens, nanos, priced, unpriced. */
type Sums = [number, number, number, number, number];

/** Inserts records into `requests`, with prepared statements kept per row count. */
export class RecordInserter {
  #db: DatabaseSync;
  /** Prepared INSERTs by row count (1 to ROWS_PER_INSERT), made when first needed. */
  #statements = new Map<number, StatementSync>();
  #rollup: StatementSync;
  /** `YYYY-MM-DD` by day number, for the last few days seen. */
  #days = new Map<number, string>();

  /** Prepares the full-size INSERT at once, so a database that cannot take it fails here. */
  constructor(db: DatabaseSync) {
    this.#db = db;
    this.#statement(ROWS_PER_INSERT);
    this.#rollup = db.prepare(ROLLUP_SQL);
  }

  /** Inserts every record of `batch`, in order, inside the caller's transaction. */
  insert(batch: readonly RequestRecord[]): void {
    this.#insertRows(batch);
    this.#addRollup(batch);
  }

  #addRollup(batch: readonly RequestRecord[]): void {
    const groups = new Map<string, Sums>();
    for (const r of batch) {
      const day = this.#day(r.ts);
      const key = `${day}\0${r.client ?? ""}\0${r.model ?? ""}\0${
        r.costCurrency ?? ""
      }`;
      let sums = groups.get(key);
      if (sums === undefined) {
        sums = [0, 0, 0, 0, 0];
        groups.set(key, sums);
      }
      const hasTokens = r.tokensIn !== null || r.tokensOut !== null;
      const cost = r.costNanos ?? null;
      sums[0]++;
      sums[1] += (r.tokensIn ?? 0) + (r.tokensOut ?? 0);
      if (cost !== null) {
        sums[2] += cost;
        sums[3]++;
      } else if (hasTokens) sums[4]++;
    }
    for (const [key, sums] of groups) {
      const [day, client, model, currency] = key.split("\0");
      this.#rollup.run(day, client, model, currency, ...sums);
    }
  }

  #day(ts: number): string {
    const n = Math.floor(ts / DAY_MS);
    let day = this.#days.get(n);
    if (day === undefined) {
      if (this.#days.size > 8) this.#days.clear();
      day = new Date(n * DAY_MS).toISOString().slice(0, 10);
      this.#days.set(n, day);
    }
    return day;
  }

  #insertRows(batch: readonly RequestRecord[]): void {
    for (let start = 0; start < batch.length; start += ROWS_PER_INSERT) {
      const rows = Math.min(ROWS_PER_INSERT, batch.length - start);
      const values: SQLInputValue[] = new Array(rows * INSERT_WIDTH);
      for (let i = 0; i < rows; i++) {
        rowValues(batch[start + i], values, i * INSERT_WIDTH);
      }
      this.#statement(rows).run(...values);
    }
  }

  #statement(rows: number): StatementSync {
    let statement = this.#statements.get(rows);
    if (statement === undefined) {
      statement = this.#db.prepare(insertSql(rows));
      this.#statements.set(rows, statement);
    }
    return statement;
  }
}

/** Puts the values of `r`, in {@linkcode INSERT_COLUMNS} order, into `out` from `at`. */
function rowValues(r: RequestRecord, out: SQLInputValue[], at: number): void {
  let i = at;
  out[i++] = r.id;
  out[i++] = r.ts;
  out[i++] = r.client ?? null;
  out[i++] = r.credential ?? null;
  out[i++] = r.method;
  out[i++] = r.path;
  out[i++] = r.model ?? null;
  out[i++] = r.status;
  out[i++] = r.durationMs;
  out[i++] = r.ttftMs ?? null;
  out[i++] = r.bytesIn;
  out[i++] = r.bytesOut;
  out[i++] = r.tokensIn ?? null;
  out[i++] = r.tokensOut ?? null;
  out[i++] = r.cacheReadTokens ?? null;
  out[i++] = r.cacheWriteTokens ?? null;
  out[i++] = r.error ?? null;
  out[i++] = r.attempts;
  out[i++] = r.stream ? 1 : 0;
  out[i++] = r.upstreamModel ?? null;
  out[i++] = r.translation ?? null;
  out[i++] = r.costNanos ?? null;
  out[i++] = r.costCurrency ?? null;
  out[i++] = r.rewrite ?? null;
  out[i] = r.attemptLog ? JSON.stringify(r.attemptLog) : null;
}
