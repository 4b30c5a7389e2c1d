/**
 * The embedded request log: one row per request in the `requests` table of a
 * local SQLite database (`node:sqlite`), written in batches by the supervisor.
 *
 * The database file is shared: client keys live in it too (another module's
 * tables). So this module creates only its own tables, and keeps its schema
 * version in a row of `flow_proxy_schema` rather than in `PRAGMA
 * user_version`, which is one number for the whole file.
 */
import type { DatabaseSync } from "node:sqlite";
import type { RequestRecord } from "./record.ts";
import type { RecordSink } from "./record_queue.ts";
import {
  openDatabase,
  rollbackAfter,
  SqliteOpenError,
} from "../base/sqlite.ts";
import { describe } from "../base/describe.ts";
import { byOwner } from "./usage_owners.ts";
import { RecordInserter } from "./sqlite_insert.ts";

/** Version of the `requests` schema this build writes. */
export const REQUESTS_SCHEMA_VERSION = 5;

/** Per-component schema versions of the shared database file. */
const SCHEMA_TABLE = "flow_proxy_schema";
const COMPONENT = "requests";

/**
 * Steps from version `i` to `i + 1`; a later schema change appends a step and
 * bumps {@linkcode REQUESTS_SCHEMA_VERSION}.
 */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS requests (
    id TEXT NOT NULL,
    ts INTEGER NOT NULL,
    client TEXT,
    credential TEXT,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    model TEXT,
    status INTEGER NOT NULL,
    duration_ms REAL NOT NULL,
    ttft_ms REAL,
    bytes_in INTEGER NOT NULL,
    bytes_out INTEGER NOT NULL,
    tokens_in INTEGER,
    tokens_out INTEGER,
    cache_read_tokens INTEGER,
    cache_write_tokens INTEGER,
    error TEXT,
    attempts INTEGER NOT NULL,
    stream INTEGER NOT NULL
  );
  CREATE INDEX IF NOT EXISTS requests_ts ON requests (ts);`,
  // 2: the Flow model a request was sent as, beside the one the client asked for.
  `ALTER TABLE requests ADD COLUMN upstream_model TEXT;`,
  // 3: the API translation that ran (`messages->chat`), null when none did.
  `ALTER TABLE requests ADD COLUMN translation TEXT;`,
  // 4: what the request cost (billionths of cost_currency), null when unknown.
  `ALTER TABLE requests ADD COLUMN cost_nanos INTEGER;
  ALTER TABLE requests ADD COLUMN cost_currency TEXT;`,
  // 5: the dashboard (request_queries.ts): what a rewrite changed, each
  // attempt of a failover, the indexes its filters need, and the daily
  // rollup its usage charts read (kept by sqlite_insert.ts, and by a
  // trigger when rows are deleted, e.g. by a retention job).
  `ALTER TABLE requests ADD COLUMN rewrite TEXT;
  ALTER TABLE requests ADD COLUMN attempt_log TEXT;
  CREATE INDEX IF NOT EXISTS requests_id ON requests (id);
  CREATE INDEX IF NOT EXISTS requests_client_ts ON requests (client, ts);
  CREATE INDEX IF NOT EXISTS requests_model_ts ON requests (model, ts);
  CREATE INDEX IF NOT EXISTS requests_upstream_ts ON requests (upstream_model, ts)
    WHERE upstream_model IS NOT NULL;
  CREATE INDEX IF NOT EXISTS requests_failed_ts ON requests (ts)
    WHERE status >= 400 OR error IS NOT NULL;
  CREATE INDEX IF NOT EXISTS requests_status_ts ON requests (status, ts)
    WHERE status >= 400;
  CREATE INDEX IF NOT EXISTS requests_error_ts ON requests (error, ts)
    WHERE error IS NOT NULL;
  CREATE INDEX IF NOT EXISTS requests_translation_ts ON requests (translation, ts)
    WHERE translation IS NOT NULL;
  CREATE INDEX IF NOT EXISTS requests_rewrite_ts ON requests (ts)
    WHERE rewrite IS NOT NULL;
  CREATE TABLE IF NOT EXISTS requests_daily (
    day TEXT NOT NULL,
    client TEXT NOT NULL,
    model TEXT NOT NULL,
    currency TEXT NOT NULL,
    requests INTEGER NOT NULL,
    tokens INTEGER NOT NULL,
    cost_nanos INTEGER NOT NULL,
    priced INTEGER NOT NULL,
    unpriced INTEGER NOT NULL,
    PRIMARY KEY (day, client, model, currency)
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS requests_daily_model ON requests_daily
    (day, model, currency, requests, tokens, cost_nanos, priced, unpriced);
  INSERT INTO requests_daily
    SELECT strftime('%Y-%m-%d', ts / 1000, 'unixepoch'), coalesce(client, ''),
      coalesce(model, ''), coalesce(cost_currency, ''), count(*),
      coalesce(sum(coalesce(tokens_in, 0) + coalesce(tokens_out, 0)), 0),
      coalesce(sum(cost_nanos), 0), count(cost_nanos),
      coalesce(sum(cost_nanos IS NULL AND (tokens_in IS NOT NULL OR tokens_out IS NOT NULL)), 0)
    FROM requests GROUP BY 1, 2, 3, 4;
  CREATE TRIGGER IF NOT EXISTS requests_daily_delete AFTER DELETE ON requests BEGIN
    UPDATE requests_daily SET requests = requests - 1,
      tokens = tokens - coalesce(old.tokens_in, 0) - coalesce(old.tokens_out, 0),
      cost_nanos = cost_nanos - coalesce(old.cost_nanos, 0),
      priced = priced - (old.cost_nanos IS NOT NULL),
      unpriced = unpriced - (old.cost_nanos IS NULL AND (old.tokens_in IS NOT NULL OR old.tokens_out IS NOT NULL))
    WHERE day = strftime('%Y-%m-%d', old.ts / 1000, 'unixepoch')
      AND client = coalesce(old.client, '') AND model = coalesce(old.model, '')
      AND currency = coalesce(old.cost_currency, '');
  END;`,
];

/**
 * How long a request-log write waits for another connection's lock: short,
 * because the store worker retries a locked batch itself (for up to 30 s) and
 * between tries goes back to its key polls and admin requests.
 */
const REQUEST_LOG_BUSY_TIMEOUT_MS = 2000;

/**
 * Page cache of the request log's connection, KiB (taken as pages are
 * read, not up front): room for the hot end of every index, which cuts the
 * per-record insert cost on a million-row log (bench/dashboard_bench.ts).
 */
const REQUEST_LOG_CACHE_KIB = 65_536;

/** Options of {@linkcode openRequestLog}. */
export interface SqliteStoreOptions {
  /** How long a write waits for another connection's lock. Default 2000 ms. */
  busyTimeoutMs?: number;
}

/** Opens (creating or migrating as needed) the request log at `path`. Throws `Error` naming the path. */
export function openRequestLog(
  path: string,
  options: SqliteStoreOptions = {},
): SqliteStore {
  return new SqliteStore(path, options);
}

/** The SQLite request-log sink; see {@linkcode openRequestLog}. */
export class SqliteStore implements RecordSink {
  /** Store name for logs and metrics. */
  readonly name = "sqlite" as const;
  /** Path of the database file. */
  readonly path: string;
  #db: DatabaseSync | null;
  #inserter: RecordInserter;

  /** Prefer {@linkcode openRequestLog}. */
  constructor(path: string, options: SqliteStoreOptions = {}) {
    this.path = path;
    let db: DatabaseSync | null = null;
    try {
      db = openDatabase(path, {
        busyTimeoutMs: options.busyTimeoutMs ?? REQUEST_LOG_BUSY_TIMEOUT_MS,
      });
      migrate(db, path);
      // The indexes of the dashboard's filters (schema 5) take most of an
      // insert's time once they outgrow SQLite's default 2 MiB page cache.
      db.exec(`PRAGMA cache_size = -${REQUEST_LOG_CACHE_KIB}`);
      this.#inserter = new RecordInserter(db);
    } catch (thrown) {
      db?.close();
      const err = thrown instanceof SqliteOpenError ? thrown.cause : thrown;
      if (err instanceof SchemaError) throw err;
      throw new Error(
        `Cannot open request log "${path}": ${describeSqliteError(err, path)}`,
        { cause: err },
      );
    }
    this.#db = db;
  }

  /** The open database, for queries such as {@linkcode usageSummary}. */
  get database(): DatabaseSync {
    if (!this.#db) throw new Error(`Request log "${this.path}" is closed`);
    return this.#db;
  }

  /** Inserts the batch in one transaction: all rows or none. */
  write(batch: RequestRecord[]): Promise<void> {
    try {
      this.#writeSync(batch);
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Closes the database; idempotent. */
  close(): Promise<void> {
    this.#db?.close();
    this.#db = null;
    return Promise.resolve();
  }

  #writeSync(batch: RequestRecord[]): void {
    const db = this.database;
    if (batch.length === 0) return;
    db.exec("BEGIN IMMEDIATE");
    try {
      this.#inserter.insert(batch);
      db.exec("COMMIT");
    } catch (err) {
      rollbackAfter(db, err);
      throw new Error(
        `Cannot write ${batch.length} records to request log "${this.path}": ${
          describeSqliteError(err, this.path)
        }`,
        { cause: err },
      );
    }
  }
}

/** A request log this build cannot use as it is; its message names the file already. */
class SchemaError extends Error {}

function migrate(db: DatabaseSync, path: string): void {
  db.exec("BEGIN IMMEDIATE");
  try {
    db.exec(
      `CREATE TABLE IF NOT EXISTS ${SCHEMA_TABLE} (component TEXT PRIMARY KEY, version INTEGER NOT NULL)`,
    );
    const row = db.prepare(
      `SELECT version FROM ${SCHEMA_TABLE} WHERE component = ?`,
    )
      .get(COMPONENT) as { version: number } | undefined;
    const current = row?.version ?? 0;
    if (current > REQUESTS_SCHEMA_VERSION) {
      throw new SchemaError(
        `Request log "${path}" has schema version ${current}, newer than this flow-proxy supports (${REQUESTS_SCHEMA_VERSION})`,
      );
    }
    for (let v = current; v < REQUESTS_SCHEMA_VERSION; v++) {
      db.exec(MIGRATIONS[v]);
    }
    if (current !== REQUESTS_SCHEMA_VERSION) {
      db.prepare(
        `INSERT INTO ${SCHEMA_TABLE} (component, version) VALUES (?, ?)
         ON CONFLICT (component) DO UPDATE SET version = excluded.version`,
      ).run(COMPONENT, REQUESTS_SCHEMA_VERSION);
    }
    db.exec("COMMIT");
  } catch (err) {
    throw rollbackAfter(db, err);
  }
}

/** Totals over a set of requests. */
export interface UsageTotals {
  requests: number;
  /** Requests that failed: status 0 (client left before headers) or ≥ 400, or an error type recorded. */
  errors: number;
  tokensIn: number;
  tokensOut: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  /** Requests answered 2xx for which no token usage is known (e.g. a stream without usage). */
  withoutUsage: number;
  /** What the priced requests cost, in billionths of `currency`. */
  costNanos: number;
  /** The currency of `costNanos`; null when no request was priced, `"mixed"` when several were used. */
  currency: string | null;
  /** Requests with tokens but no price (their model has none): not in `costNanos`, never counted as 0. */
  unpriced: number;
}

/** Options of {@linkcode usageSummary}. */
export interface UsageSummaryOptions {
  /** Only requests started at or after this time (epoch ms). */
  since?: number;
  /** Only requests started before this time (epoch ms). */
  until?: number;
  /** Only requests of these client keys (by name); absent: every request. */
  clients?: readonly string[];
  /** Also sum by key owner and the owner's team (`byUser`, `byTeam`); default false. */
  owners?: boolean;
}

/**
 * What requests of client key `client` used since `since` (epoch ms): tokens
 * in + out and cost, for a budget's period.
 */
export function usedSince(
  store: SqliteStore,
  client: string,
  since: number,
): { tokens: number; nanos: number } {
  const row = store.database.prepare(
    `SELECT coalesce(sum(coalesce(tokens_in, 0) + coalesce(tokens_out, 0)), 0) AS tokens,
      coalesce(sum(cost_nanos), 0) AS nanos
    FROM requests WHERE client = ? AND ts >= ?`,
  ).get(client, since) as { tokens: number; nanos: number };
  return { tokens: Number(row.tokens), nanos: Number(row.nanos) };
}

/** Tokens and spend of the requests of any of `clients` (key names) since `since`. */
export function usedSinceByClients(
  store: SqliteStore,
  clients: readonly string[],
  since: number,
): { tokens: number; nanos: number } {
  if (clients.length === 0) return { tokens: 0, nanos: 0 };
  const row = store.database.prepare(
    `SELECT coalesce(sum(coalesce(tokens_in, 0) + coalesce(tokens_out, 0)), 0) AS tokens,
      coalesce(sum(cost_nanos), 0) AS nanos
    FROM requests WHERE ts >= ? AND client IN (SELECT value FROM json_each(?))`,
  ).get(since, JSON.stringify(clients)) as { tokens: number; nanos: number };
  return { tokens: Number(row.tokens), nanos: Number(row.nanos) };
}

/** Totals by credential, by model and by UTC day, plus overall. */
export interface UsageSummary {
  since: number | null;
  until: number | null;
  total: UsageTotals;
  /** Most requests first (ties by name, null last); `credential` null when no credential served the request. */
  byCredential: (UsageTotals & { credential: string | null })[];
  /** By client key (most requests first); `key` null for requests without one. */
  byKey: (UsageTotals & { key: string | null })[];
  /**
   * By requested model and the Flow model it was sent as; most requests
   * first (ties by name, null last). `model` is null when the request named
   * none; `upstreamModel` is null unless it differs from `model`.
   */
  byModel: (UsageTotals & {
    model: string | null;
    upstreamModel: string | null;
  })[];
  /** Oldest first; `day` is `YYYY-MM-DD` in UTC. */
  byDay: (UsageTotals & { day: string })[];
  /**
   * By the owner of the request's key (client_keys.owner), most requests
   * first; `user` null for requests without a key or of a key nobody owns.
   * Empty unless asked for (`owners`).
   */
  byUser: (UsageTotals & { user: string | null })[];
  /** By the key owner's team, the same way; `team` null: no key, no owner or no team. */
  byTeam: (UsageTotals & { team: string | null })[];
}

/** Where {@linkcode usageSummary} reads: a path (opened read-only), an open store, or a database. */
export type UsageSource = string | SqliteStore | DatabaseSync;

/**
 * Sums requests, errors and tokens by credential, model and UTC day. A path is
 * opened read-only; a database without a request log yet gives zeros.
 * Throws `Error` naming the path when the file cannot be read.
 */
export function usageSummary(
  source: UsageSource,
  options: UsageSummaryOptions = {},
): UsageSummary {
  if (typeof source !== "string") {
    const db = source instanceof SqliteStore ? source.database : source;
    return summarize(db, options);
  }
  let db: DatabaseSync | null = null;
  try {
    db = openDatabase(source, { readOnly: true });
    return summarize(db, options);
  } catch (thrown) {
    const err = thrown instanceof SqliteOpenError ? thrown.cause : thrown;
    throw new Error(
      `Cannot read request log "${source}": ${
        describeSqliteError(err, source)
      }`,
      { cause: err },
    );
  } finally {
    db?.close();
  }
}

const TOTALS_SQL = `count(*) AS requests,
  coalesce(sum(status = 0 OR status >= 400 OR error IS NOT NULL), 0) AS errors,
  coalesce(sum(tokens_in), 0) AS tokensIn,
  coalesce(sum(tokens_out), 0) AS tokensOut,
  coalesce(sum(cache_read_tokens), 0) AS cacheReadTokens,
  coalesce(sum(cache_write_tokens), 0) AS cacheWriteTokens,
  coalesce(sum(status BETWEEN 200 AND 299 AND tokens_in IS NULL AND tokens_out IS NULL), 0) AS withoutUsage`;

/** The spend columns of a log of schema 4 or later. */
const COST_SQL = `,
  coalesce(sum(cost_nanos), 0) AS costNanos,
  coalesce(sum(cost_nanos IS NULL AND (tokens_in IS NOT NULL OR tokens_out IS NOT NULL)), 0) AS unpriced,
  CASE WHEN count(DISTINCT cost_currency) > 1 THEN 'mixed' ELSE max(cost_currency) END AS currency`;

/** The same for an older log read read-only: every request with tokens is unpriced. */
const NO_COST_SQL = `,
  0 AS costNanos,
  coalesce(sum(tokens_in IS NOT NULL OR tokens_out IS NOT NULL), 0) AS unpriced,
  NULL AS currency`;

function summarize(
  db: DatabaseSync,
  options: UsageSummaryOptions,
): UsageSummary {
  const since = options.since ?? null;
  const until = options.until ?? null;
  const empty: UsageSummary = {
    since,
    until,
    total: totals({}),
    byCredential: [],
    byKey: [],
    byModel: [],
    byDay: [],
    byUser: [],
    byTeam: [],
  };
  const table = db.prepare(
    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'requests'",
  ).get();
  if (!table) return empty;

  const where: string[] = [];
  const params: (number | string)[] = [];
  if (since !== null) {
    where.push("ts >= ?");
    params.push(since);
  }
  if (until !== null) {
    where.push("ts < ?");
    params.push(until);
  }
  if (options.clients !== undefined) {
    where.push("client IN (SELECT value FROM json_each(?))");
    params.push(JSON.stringify(options.clients));
  }
  const filter = where.length ? `WHERE ${where.join(" AND ")}` : "";
  // An older file read read-only (`flow-proxy usage`) lacks later columns.
  const columns = new Set(
    (db.prepare("PRAGMA table_info(requests)").all() as { name: string }[])
      .map((c) => c.name),
  );
  const hasUpstream = columns.has("upstream_model");
  const sums = TOTALS_SQL +
    (columns.has("cost_nanos") ? COST_SQL : NO_COST_SQL);
  const grouped = (key: string, order: string, key2 = "NULL") =>
    db.prepare(
      `SELECT ${key} AS key, ${key2} AS key2, ${sums} FROM requests ${filter} GROUP BY 1, 2 ORDER BY ${order}`,
    )
      .all(...params) as Record<string, unknown>[];
  const upstream = hasUpstream
    ? "CASE WHEN upstream_model IS NOT model THEN upstream_model END"
    : "NULL";

  const total = db.prepare(`SELECT ${sums} FROM requests ${filter}`).get(
    ...params,
  ) as Record<
    string,
    unknown
  >;
  return {
    since,
    until,
    total: totals(total),
    byKey: grouped("client", "requests DESC, key IS NULL, key").map((row) => ({
      key: row.key as string | null,
      ...totals(row),
    })),
    byCredential: grouped("credential", "requests DESC, key IS NULL, key").map((
      row,
    ) => ({
      credential: row.key as string | null,
      ...totals(row),
    })),
    byModel: grouped(
      "model",
      "requests DESC, key IS NULL, key, key2 IS NULL, key2",
      upstream,
    ).map((row) => ({
      model: row.key as string | null,
      upstreamModel: row.key2 as string | null,
      ...totals(row),
    })),
    byDay: grouped("strftime('%Y-%m-%d', ts / 1000, 'unixepoch')", "key").map((
      row,
    ) => ({
      day: row.key as string,
      ...totals(row),
    })),
    ...byOwner(db, options.owners === true, grouped, totals),
  };
}

function totals(row: Record<string, unknown>): UsageTotals {
  return {
    requests: Number(row.requests ?? 0),
    errors: Number(row.errors ?? 0),
    tokensIn: Number(row.tokensIn ?? 0),
    tokensOut: Number(row.tokensOut ?? 0),
    cacheReadTokens: Number(row.cacheReadTokens ?? 0),
    cacheWriteTokens: Number(row.cacheWriteTokens ?? 0),
    withoutUsage: Number(row.withoutUsage ?? 0),
    costNanos: Number(row.costNanos ?? 0),
    currency: typeof row.currency === "string" ? row.currency : null,
    unpriced: Number(row.unpriced ?? 0),
  };
}

function describeSqliteError(err: unknown, path: string): string {
  const message = describe(err);
  // node:sqlite appends the path to some messages; ours name it already.
  return message.endsWith(`: ${path}`)
    ? message.slice(0, -path.length - 2)
    : message;
}
