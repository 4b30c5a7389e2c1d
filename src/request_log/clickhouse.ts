/**
 * Optional request-log sink for scale: batches of records sent to ClickHouse
 * over its plain HTTP interface as `INSERT … FORMAT JSONEachRow`.
 *
 * Plain `fetch`, no client library: the server may be as old as 18.16, which
 * rejects settings that newer clients send. It has no `DateTime64`, so the
 * start time is a `DateTime('UTC')` (`ts`, for partitions and ordering) plus
 * the exact epoch milliseconds (`ts_ms`).
 *
 * The sink runs on the supervisor behind a {@linkcode RecordQueue}, so a slow
 * or absent server only ever fills that queue; a request never waits on it.
 */
import type { RequestRecord } from "./record.ts";
import type { RecordLogger, RecordSink } from "./record_queue.ts";
import { getLog } from "../base/logging.ts";
import { describe } from "../base/describe.ts";

/** How failed writes are retried: `attempts` in all, waiting `baseMs`, then twice as long each time up to `maxMs`. */
export interface ClickHouseRetry {
  attempts: number;
  baseMs: number;
  /** Longest wait between two attempts. Default 30000 ms. */
  maxMs?: number;
}

/** Options of {@linkcode createClickHouseSink}. */
export interface ClickHouseSinkOptions {
  /** HTTP interface, e.g. `http://127.0.0.1:8123/`. */
  url: URL;
  database: string;
  table: string;
  /** Sent as `X-ClickHouse-User`; null for the server's default user. */
  user: string | null;
  /** Sent as `X-ClickHouse-Key`; never put in a URL or a log line. */
  password: string | null;
  /** Injectable for tests; default the global `fetch`. */
  fetch?: typeof fetch;
  /** Default: the `clickhouse` logger. */
  logger?: RecordLogger & { info?(msg: string): void };
  /** Default: 5 attempts, 500 ms doubling (0.5 + 1 + 2 + 4 s of waiting per batch at most). */
  retry?: ClickHouseRetry;
  /** Limit on each HTTP request. Default 10000 ms. */
  timeoutMs?: number;
  /** Rows older than this many days are dropped (`MODIFY TTL`); null or absent: the table's TTL is left alone. */
  ttlDays?: number | null;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Columns of the ClickHouse table, in `CREATE TABLE` syntax. */
export const CLICKHOUSE_COLUMNS = `id String,
  ts DateTime('UTC'),
  ts_ms Int64,
  client Nullable(String),
  credential Nullable(String),
  method String,
  path String,
  model Nullable(String),
  status UInt16,
  duration_ms Int64,
  ttft_ms Nullable(Int64),
  bytes_in Int64,
  bytes_out Int64,
  tokens_in Nullable(Int64),
  tokens_out Nullable(Int64),
  cache_read_tokens Nullable(Int64),
  cache_write_tokens Nullable(Int64),
  error Nullable(String),
  attempts UInt16,
  stream UInt8,
  upstream_model Nullable(String),
  translation Nullable(String),
  cost_nanos Nullable(Int64),
  cost_currency Nullable(String),
  rewrite Nullable(String),
  attempt_log Nullable(String)`;

/** Columns added after the first release, with their types: added to an older table on first contact. */
export const ADDED_COLUMNS: readonly [string, string][] = [
  ["upstream_model", "Nullable(String)"],
  ["translation", "Nullable(String)"],
  ["cost_nanos", "Nullable(Int64)"],
  ["cost_currency", "Nullable(String)"],
  ["rewrite", "Nullable(String)"],
  ["attempt_log", "Nullable(String)"],
];

/** The statement that creates the request table when it is missing. */
export function clickHouseTableDdl(database: string, table: string): string {
  return `CREATE TABLE IF NOT EXISTS \`${database}\`.\`${table}\` (
  ${CLICKHOUSE_COLUMNS}
) ENGINE = MergeTree PARTITION BY toYYYYMMDD(ts) ORDER BY ts`;
}

/** One record as a JSONEachRow row of the table {@linkcode clickHouseTableDdl} creates. */
export function toClickHouseRow(r: RequestRecord): Record<string, unknown> {
  return {
    id: r.id,
    ts: new Date(r.ts).toISOString().slice(0, 19).replace("T", " "),
    ts_ms: r.ts,
    client: r.client ?? null,
    credential: r.credential ?? null,
    method: r.method,
    path: r.path,
    model: r.model ?? null,
    status: r.status,
    duration_ms: Math.round(r.durationMs),
    ttft_ms: typeof r.ttftMs === "number" ? Math.round(r.ttftMs) : null,
    bytes_in: r.bytesIn,
    bytes_out: r.bytesOut,
    tokens_in: r.tokensIn ?? null,
    tokens_out: r.tokensOut ?? null,
    cache_read_tokens: r.cacheReadTokens ?? null,
    cache_write_tokens: r.cacheWriteTokens ?? null,
    error: r.error ?? null,
    attempts: r.attempts,
    stream: r.stream ? 1 : 0,
    upstream_model: r.upstreamModel ?? null,
    translation: r.translation ?? null,
    cost_nanos: r.costNanos ?? null,
    cost_currency: r.costCurrency ?? null,
    rewrite: r.rewrite ?? null,
    attempt_log: r.attemptLog ? JSON.stringify(r.attemptLog) : null,
  };
}

/**
 * A sink that inserts batches into ClickHouse, creating the table on first
 * contact. A failed write is retried with exponential backoff; after the last
 * attempt the batch is rejected (so the queue counts it) and the sink goes on
 * with the next one — a server that comes up later starts receiving rows then.
 * Throws `TypeError` for an invalid database or table name or retry setting.
 */
export function createClickHouseSink(
  options: ClickHouseSinkOptions,
): RecordSink {
  for (
    const [what, name] of [["database", options.database], [
      "table",
      options.table,
    ]]
  ) {
    if (!IDENTIFIER.test(name)) {
      throw new TypeError(
        `ClickHouse ${what} name must be letters, digits and underscores, got "${name}"`,
      );
    }
  }
  const retry = {
    maxMs: 30_000,
    ...(options.retry ?? { attempts: 5, baseMs: 500 }),
  };
  if (
    !Number.isInteger(retry.attempts) || retry.attempts < 1 ||
    !(retry.baseMs >= 0)
  ) {
    throw new TypeError(
      `ClickHouse retry needs at least 1 attempt and a delay of 0 ms or more, got ${retry.attempts} and ${retry.baseMs}`,
    );
  }
  const doFetch = options.fetch ?? fetch;
  const logger = options.logger ?? defaultLogger();
  const timeoutMs = options.timeoutMs ?? 10_000;
  const where = `ClickHouse at ${options.url.origin}${options.url.pathname}`;
  const target = `\`${options.database}\`.\`${options.table}\``;
  const insertSql = `INSERT INTO ${target} FORMAT JSONEachRow`;
  const headers: Record<string, string> = {};
  if (options.user !== null) headers["X-ClickHouse-User"] = options.user;
  if (options.password !== null) headers["X-ClickHouse-Key"] = options.password;

  const ttlDays = options.ttlDays ?? null;
  if (ttlDays !== null && !(Number.isInteger(ttlDays) && ttlDays >= 1)) {
    throw new TypeError(
      `ClickHouse TTL must be a whole number of days, 1 or more, got ${ttlDays}`,
    );
  }
  const ttlSql = ttlDays === null
    ? null
    : `ALTER TABLE ${target} MODIFY TTL ts + INTERVAL ${ttlDays} DAY`;
  let ttlRefused = false;

  const closing = new AbortController();
  let tableReady = false;
  let failing = false;

  async function post(body: string, query?: string): Promise<string> {
    const url = new URL(options.url);
    if (query !== undefined) url.searchParams.set("query", query);
    const timeout = new AbortController();
    const timer = setTimeout(
      () => timeout.abort(new Error(`no answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    try {
      const response = await doFetch(url, {
        method: "POST",
        headers,
        body,
        signal: AbortSignal.any([closing.signal, timeout.signal]),
      });
      const text = await response.text();
      if (!response.ok) {
        throw new Error(`HTTP ${response.status}: ${summarizeError(text)}`);
      }
      return text;
    } catch (err) {
      if (timeout.signal.aborted) throw timeout.signal.reason;
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  async function ensureTable(): Promise<void> {
    if (options.database !== "default") {
      await post(`CREATE DATABASE IF NOT EXISTS \`${options.database}\``);
    }
    await post(clickHouseTableDdl(options.database, options.table));
    // A table created by an older flow-proxy lacks the newer columns; checked
    // by name because ClickHouse before 19 has no `ADD COLUMN IF NOT EXISTS`.
    const present = await post(
      `SELECT name FROM system.columns WHERE database = '${options.database}' AND table = '${options.table}' FORMAT TabSeparated`,
    );
    const names = new Set(present.split("\n"));
    for (const [name, type] of ADDED_COLUMNS) {
      if (!names.has(name)) {
        await post(`ALTER TABLE ${target} ADD COLUMN ${name} ${type}`);
      }
    }
    if (ttlSql !== null) await applyTtl(ttlSql);
  }

  /**
   * Sets (or changes) the table's TTL. ClickHouse before 19.6 has no TTL and
   * answers a syntax error: then the rows are kept, with one WARNING naming
   * the partitions to drop by hand; the records are written all the same.
   */
  async function applyTtl(sql: string): Promise<void> {
    try {
      await post(sql);
    } catch (err) {
      if (ttlRefused) return;
      ttlRefused = true;
      logger.warn(
        `${where} did not accept --clickhouse-ttl-days (TTL needs ClickHouse 19.6 or later), rows are kept: drop old days with ALTER TABLE ${target} DROP PARTITION YYYYMMDD: ${
          describe(err)
        }`,
      );
    }
  }

  async function write(batch: RequestRecord[]): Promise<void> {
    if (closing.signal.aborted) throw new Error("ClickHouse sink is closed");
    if (batch.length === 0) return;
    let body = "";
    for (const record of batch) {
      body += JSON.stringify(toClickHouseRow(record)) + "\n";
    }
    let lastError: unknown;
    for (let attempt = 1; attempt <= retry.attempts; attempt++) {
      try {
        if (!tableReady) {
          await ensureTable();
          tableReady = true;
        }
        await post(body, insertSql);
        if (failing) {
          failing = false;
          const message = `${where} accepts request records again`;
          if (logger.info) logger.info(message);
          else logger.warn(message);
        }
        return;
      } catch (err) {
        if (closing.signal.aborted) {
          throw new Error(
            "ClickHouse sink closed before the batch was written",
          );
        }
        lastError = err;
        // The table may have been dropped meanwhile; creating it again is cheap.
        tableReady = false;
        if (!failing) {
          failing = true;
          logger.warn(
            `Cannot write request records to ${where}, retrying: ${
              describe(err)
            }`,
          );
        }
        if (attempt < retry.attempts) {
          await sleep(
            Math.min(retry.maxMs, retry.baseMs * 2 ** (attempt - 1)),
            closing.signal,
          );
        }
      }
    }
    throw new Error(
      `${where} failed ${retry.attempts} times, batch of ${batch.length} records dropped: ${
        describe(lastError)
      }`,
      { cause: lastError },
    );
  }

  function close(): Promise<void> {
    closing.abort(new Error("ClickHouse sink closed"));
    return Promise.resolve();
  }

  return { name: "clickhouse", write, close };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    function onAbort() {
      clearTimeout(timer);
      reject(signal.reason);
    }
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** First line of a ClickHouse error body, without its `e.what()` noise, bounded. */
function summarizeError(text: string): string {
  const line = text.trim().split("\n")[0].replace(
    /, e\.what\(\) = DB::Exception$/,
    "",
  );
  return line.length > 300 ? `${line.slice(0, 300)}…` : line || "(empty body)";
}

function defaultLogger(): RecordLogger & { info(msg: string): void } {
  const log = getLog("clickhouse");
  return {
    info: (msg) => log.info`${msg}`,
    warn: (msg) => log.warn`${msg}`,
    error: (msg) => log.error`${msg}`,
  };
}
