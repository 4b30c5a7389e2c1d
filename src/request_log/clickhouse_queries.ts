/**
 * Reads of the request log kept in ClickHouse: the same answers as
 * `usageSummary`, `usedSince` and `usedSinceByClients` of sqlite_store.ts,
 * computed by ClickHouse over its HTTP interface, so that every instance
 * writing to one ClickHouse shows company-wide numbers.
 *
 * Plain `fetch` and `FORMAT JSON`, as the sink writes (clickhouse.ts): the
 * server may be as old as 18.16, which has no query parameters (`{x:String}`)
 * and sends 64-bit integers as JSON strings. So values are quoted into the
 * SQL by {@linkcode quoteString} and every number is read with `Number()`.
 *
 * Key owners (`byUser`, `byTeam`) are not in ClickHouse: the summary's
 * `byKey` rows are summed by the owner a caller's `ownersOf` names, from the
 * local database's keys and accounts.
 *
 * @module
 */
import type {
  UsageSummary,
  UsageSummaryOptions,
  UsageTotals,
} from "./sqlite_store.ts";
import { describe } from "../base/describe.ts";
import {
  type Cursor,
  distinctClients,
  MAX_PAGE,
  type RequestDetail,
  requestDetail,
  type RequestFilter,
  requestItem,
  type RequestPage,
  seriesFromRows,
  type SeriesRow,
  type UsageSeries,
  type UsageSeriesOptions,
} from "./request_queries.ts";
import type { SQLInputValue } from "node:sqlite";

/** How every error of these reads begins, for callers that answer 503 on it. */
export const CLICKHOUSE_READ_ERROR = "Cannot read the request log from";

/** A read of the ClickHouse request log that failed (server down, slow, refusing). */
export class ClickHouseReadError extends Error {}

/** The owner of a key and the owner's team, as the local database knows them. */
export interface KeyOwner {
  user: string | null;
  team: string | null;
}

/** Options of {@linkcode createClickHouseQueries}. */
export interface ClickHouseQueriesOptions {
  /** HTTP interface, e.g. `http://127.0.0.1:8123/`. */
  url: URL;
  database: string;
  table: string;
  /** Sent as `X-ClickHouse-User`; null for the server's default user. */
  user: string | null;
  /** Sent as `X-ClickHouse-Key`; never in a URL, a log line or an error. */
  password: string | null;
  /** Limit on each query. Default 10000 ms. */
  timeoutMs?: number;
  /** Injectable for tests; default the global `fetch`. */
  fetch?: typeof fetch;
}

/** Options of {@linkcode ClickHouseQueries.usageSummary}. */
export interface ClickHouseSummaryOptions extends UsageSummaryOptions {
  /** Owner and team of each key name, for `byUser`/`byTeam`; without it every request is "(none)". */
  ownersOf?: (keys: readonly string[]) => Map<string, KeyOwner>;
}

/** Reads of one ClickHouse request table. */
export interface ClickHouseQueries {
  /** `host:port` of the server, as errors name it. */
  readonly where: string;
  /** The summary `usageSummary` of sqlite_store.ts gives for the same records. */
  usageSummary(options?: ClickHouseSummaryOptions): Promise<UsageSummary>;
  /** Tokens (in + out) and spend of key `client` since `since` (epoch ms). */
  usedSince(
    client: string,
    since: number,
  ): Promise<{ tokens: number; nanos: number }>;
  /** Tokens and spend of the requests of any of `clients` since `since`. */
  usedSinceByClients(
    clients: readonly string[],
    since: number,
  ): Promise<{ tokens: number; nanos: number }>;
  /** The dashboard's page of requests, as `listRequests` of request_queries.ts gives it from SQLite. */
  listRequests(
    filter: RequestFilter,
    page: { cursor?: Cursor | null; limit: number },
    ownersOf: (keys: readonly string[]) => Map<string, KeyOwner>,
  ): Promise<RequestPage>;
  /** One request, as `getRequest` of request_queries.ts gives it. */
  getRequest(
    id: string,
    clients: readonly string[] | undefined,
    ownersOf: (keys: readonly string[]) => Map<string, KeyOwner>,
  ): Promise<RequestDetail | null>;
  /** The dashboard's usage by day, as `usageSeries` of request_queries.ts gives it from SQLite. */
  usageSeries(
    options: UsageSeriesOptions & {
      ownersOf: (keys: readonly string[]) => Map<string, KeyOwner>;
    },
  ): Promise<UsageSeries>;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The sums of {@linkcode UsageTotals}, in ClickHouse SQL (the SQLite ones, null-safe). */
const TOTALS_SQL = `count() AS requests,
  countIf(status = 0 OR status >= 400 OR isNotNull(error)) AS errors,
  sum(ifNull(tokens_in, 0)) AS tokensIn,
  sum(ifNull(tokens_out, 0)) AS tokensOut,
  sum(ifNull(cache_read_tokens, 0)) AS cacheReadTokens,
  sum(ifNull(cache_write_tokens, 0)) AS cacheWriteTokens,
  countIf(status >= 200 AND status <= 299 AND isNull(tokens_in) AND isNull(tokens_out)) AS withoutUsage,
  sum(ifNull(cost_nanos, 0)) AS costNanos,
  countIf(isNull(cost_nanos) AND (isNotNull(tokens_in) OR isNotNull(tokens_out))) AS unpriced,
  if(min(cost_currency) != max(cost_currency), 'mixed', max(cost_currency)) AS currency`;

/** SQLite's `CASE WHEN upstream_model IS NOT model THEN upstream_model END`. */
const UPSTREAM_SQL =
  "if(isNotNull(upstream_model) AND ifNull(upstream_model != model, 1), upstream_model, NULL)";

/** The order of sqlite_store.ts: most requests first, then by name, null last. */
const BY_REQUESTS = "requests DESC, isNull(key), key";

/** ClickHouse's code for a table that does not exist (yet: nothing was written). */
const UNKNOWN_TABLE = 60;

/**
 * Reads of the request table `database`.`table` that the ClickHouse sink
 * writes. Throws `TypeError` for names that are not identifiers; each read
 * rejects with a {@linkcode ClickHouseReadError} naming the server's host and
 * port (never the password).
 */
export function createClickHouseQueries(
  options: ClickHouseQueriesOptions,
): ClickHouseQueries {
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
  const doFetch = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const where = options.url.host;
  const table = `\`${options.database}\`.\`${options.table}\``;
  const headers: Record<string, string> = {};
  if (options.user !== null) headers["X-ClickHouse-User"] = options.user;
  if (options.password !== null) headers["X-ClickHouse-Key"] = options.password;

  /** The rows of `sql` (without FORMAT); null when the table does not exist yet. */
  async function rows(sql: string): Promise<Record<string, unknown>[] | null> {
    let text: string;
    let status: number;
    try {
      const response = await doFetch(options.url, {
        method: "POST",
        headers,
        body: `${sql} FORMAT JSON`,
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await response.text();
      status = response.status;
    } catch (err) {
      const why = err instanceof DOMException && err.name === "TimeoutError"
        ? `no answer within ${timeoutMs} ms`
        : describe(err);
      throw new ClickHouseReadError(
        `${CLICKHOUSE_READ_ERROR} ClickHouse at ${where}: ${why}`,
        { cause: err },
      );
    }
    if (status !== 200) {
      if (errorCode(text) === UNKNOWN_TABLE) return null;
      throw new ClickHouseReadError(
        `${CLICKHOUSE_READ_ERROR} ClickHouse at ${where}: HTTP ${status}: ${
          summarizeError(text, options.password)
        }`,
      );
    }
    try {
      return (JSON.parse(text) as { data: Record<string, unknown>[] }).data;
    } catch (err) {
      throw new ClickHouseReadError(
        `${CLICKHOUSE_READ_ERROR} ClickHouse at ${where}: the answer is not JSON: ${
          describe(err)
        }`,
        { cause: err },
      );
    }
  }

  async function used(
    filter: string,
  ): Promise<{ tokens: number; nanos: number }> {
    const found = await rows(
      `SELECT sum(ifNull(tokens_in, 0) + ifNull(tokens_out, 0)) AS tokens,
        sum(ifNull(cost_nanos, 0)) AS nanos FROM ${table} WHERE ${filter}`,
    );
    const row = found?.[0] ?? {};
    return { tokens: Number(row.tokens ?? 0), nanos: Number(row.nanos ?? 0) };
  }

  async function usageSummary(
    summary: ClickHouseSummaryOptions = {},
  ): Promise<UsageSummary> {
    const since = summary.since ?? null;
    const until = summary.until ?? null;
    const conditions: string[] = [];
    if (since !== null) conditions.push(sinceSql(since));
    if (until !== null) {
      conditions.push(`ts_ms < ${Math.floor(until)}`);
    }
    if (summary.clients !== undefined) {
      conditions.push(clientsSql(summary.clients));
    }
    const filter = conditions.length ? `WHERE ${conditions.join(" AND ")}` : "";
    const grouped = (key: string, order: string, key2 = "NULL") =>
      rows(
        `SELECT ${key} AS key, ${key2} AS key2, ${TOTALS_SQL} FROM ${table} ${filter} GROUP BY key, key2 ORDER BY ${order}`,
      );
    const [total, byKey, byCredential, byModel, byDay] = await Promise.all([
      rows(`SELECT ${TOTALS_SQL} FROM ${table} ${filter}`),
      grouped("client", BY_REQUESTS),
      grouped("credential", BY_REQUESTS),
      grouped("model", `${BY_REQUESTS}, isNull(key2), key2`, UPSTREAM_SQL),
      grouped("formatDateTime(ts, '%F')", "key"),
    ]);
    const keys = (byKey ?? []).map((row) => ({
      key: row.key as string | null,
      ...totals(row),
    }));
    return {
      since,
      until,
      // A table not created yet (nothing written) is an empty log, as SQLite's.
      total: totals(total?.[0] ?? {}),
      byKey: keys,
      byCredential: (byCredential ?? []).map((row) => ({
        credential: row.key as string | null,
        ...totals(row),
      })),
      byModel: (byModel ?? []).map((row) => ({
        model: row.key as string | null,
        upstreamModel: row.key2 as string | null,
        ...totals(row),
      })),
      byDay: (byDay ?? []).map((row) => ({
        day: row.key as string,
        ...totals(row),
      })),
      ...(summary.owners === true
        ? byOwners(keys, summary.ownersOf)
        : { byUser: [], byTeam: [] }),
    };
  }

  async function usageSeries(
    o: UsageSeriesOptions & {
      ownersOf: (keys: readonly string[]) => Map<string, KeyOwner>;
    },
  ): Promise<UsageSeries> {
    const from = Date.parse(`${o.fromDay}T00:00:00Z`);
    const to = Date.parse(`${o.toDay}T00:00:00Z`) + 86_400_000;
    const conditions = [sinceSql(from), `ts < toDateTime(${to / 1000})`];
    if (o.clients !== undefined) conditions.push(clientsSql(o.clients));
    const column = o.by === "model" ? "model" : "client";
    const found = await rows(
      `SELECT formatDateTime(ts, '%F') AS day, ifNull(${column}, '') AS name,
        count() AS requests,
        sum(ifNull(tokens_in, 0) + ifNull(tokens_out, 0)) AS tokens,
        sum(ifNull(cost_nanos, 0)) AS nanos,
        countIf(isNotNull(cost_nanos)) AS priced,
        countIf(isNull(cost_nanos) AND (isNotNull(tokens_in) OR isNotNull(tokens_out))) AS unpriced,
        min(if(isNotNull(cost_nanos), cost_currency, NULL)) AS low,
        max(if(isNotNull(cost_nanos), cost_currency, NULL)) AS high
      FROM ${table} WHERE ${conditions.join(" AND ")} GROUP BY day, name`,
    );
    return seriesFromRows(
      (found ?? []) as unknown as SeriesRow[],
      o,
      (keys) => o.ownersOf(keys),
    );
  }

  async function listRequests(
    filter: RequestFilter,
    page: { cursor?: Cursor | null; limit: number },
    ownersOf: (keys: readonly string[]) => Map<string, KeyOwner>,
  ): Promise<RequestPage> {
    if (filter.clients !== undefined && filter.clients.length === 0) {
      return { items: [], next: null };
    }
    const limit = Math.max(1, Math.min(MAX_PAGE, Math.floor(page.limit)));
    const found = (await rows(
      `SELECT ${CH_LIST_COLUMNS} FROM ${table} ${
        filterSql(filter, page.cursor ?? null)
      } ORDER BY ts_ms DESC, id DESC LIMIT ${limit + 1}`,
    )) as Record<string, SQLInputValue>[] | null ?? [];
    const more = found.length > limit;
    const shown = more ? found.slice(0, limit) : found;
    const owners = ownersOf(distinctClients(shown));
    const last = shown[shown.length - 1];
    return {
      items: shown.map((row) => requestItem(row, owners)),
      next: more && last
        ? { ts: Number(last.ts), row: 0, id: String(last.id) }
        : null,
    };
  }

  async function getRequest(
    id: string,
    clients: readonly string[] | undefined,
    ownersOf: (keys: readonly string[]) => Map<string, KeyOwner>,
  ): Promise<RequestDetail | null> {
    if (clients !== undefined && clients.length === 0) return null;
    const found = (await rows(
      `SELECT ${CH_LIST_COLUMNS}, method, path, bytes_in, bytes_out,
        cache_read_tokens, cache_write_tokens, attempt_log FROM ${table} ${
        filterSql({ id, clients }, null)
      } ORDER BY ts_ms DESC LIMIT 1`,
    )) as Record<string, SQLInputValue>[] | null;
    const row = found?.[0];
    if (row === undefined) return null;
    return requestDetail(row, ownersOf(distinctClients([row])));
  }

  return {
    where,
    usageSummary,
    usageSeries,
    listRequests,
    getRequest,
    usedSince: (client, since) =>
      used(`${clientsSql([client])} AND ${sinceSql(since)}`),
    usedSinceByClients: (clients, since) =>
      clients.length === 0
        ? Promise.resolve({ tokens: 0, nanos: 0 })
        : used(`${clientsSql(clients)} AND ${sinceSql(since)}`),
  };
}

/** The list's columns, named as the SQLite query names them. */
const CH_LIST_COLUMNS = `id, ts_ms AS ts, client, model, upstream_model,
  status, error, duration_ms, ttft_ms, tokens_in, tokens_out, cost_nanos,
  cost_currency, translation, rewrite, credential, stream, attempts`;

/** The WHERE clause of a request filter (and a cursor), as request_queries.ts reads it for SQLite. */
function filterSql(filter: RequestFilter, cursor: Cursor | null): string {
  const terms: string[] = [];
  if (filter.from !== undefined) terms.push(sinceSql(filter.from));
  if (filter.to !== undefined) terms.push(`ts_ms < ${Math.floor(filter.to)}`);
  if (filter.clients !== undefined) terms.push(clientsSql(filter.clients));
  const text: [keyof RequestFilter, string][] = [
    ["model", "model"],
    ["upstreamModel", "upstream_model"],
    ["error", "error"],
    ["id", "id"],
  ];
  for (const [field, column] of text) {
    const value = filter[field];
    if (typeof value === "string") {
      terms.push(`${column} = ${quoteString(value)}`);
    }
  }
  const status = filter.status;
  if (status === "4xx") terms.push("status >= 400 AND status < 500");
  else if (status === "5xx") terms.push("status >= 500");
  else if (status === "error") terms.push("isNotNull(error)");
  else if (typeof status === "number") {
    terms.push(`status = ${Math.floor(status)}`);
  }
  for (const column of ["translation", "rewrite"] as const) {
    const value = filter[column];
    if (value === undefined) continue;
    if (value === "none") terms.push(`isNull(${column})`);
    else if (column === "translation") {
      terms.push(`translation = ${quoteString(value)}`);
    } else {
      terms.push(
        `position(concat(',', ifNull(rewrite, ''), ','), ${
          quoteString(`,${value},`)
        }) > 0`,
      );
    }
  }
  if (cursor !== null) {
    const ts = Math.floor(cursor.ts);
    terms.push(
      `(ts_ms < ${ts} OR (ts_ms = ${ts} AND id < ${
        quoteString(cursor.id ?? "")
      }))`,
    );
  }
  return terms.length === 0 ? "" : `WHERE ${terms.join(" AND ")}`;
}

/** `ts_ms >= since`, with the whole-second `ts` bound too so that ClickHouse skips older partitions. */
function sinceSql(since: number): string {
  const ms = Math.floor(since);
  return `ts >= toDateTime(${Math.floor(ms / 1000)}) AND ts_ms >= ${ms}`;
}

function clientsSql(clients: readonly string[]): string {
  if (clients.length === 0) return "0";
  return `client IN (${clients.map(quoteString).join(", ")})`;
}

/** A ClickHouse string literal: backslash and quote escaped (18.16 has no query parameters). */
export function quoteString(value: string): string {
  return `'${value.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
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

/** Two groups' totals as one: sums, and the currency `mixed` when they differ. */
function addTotals(a: UsageTotals, b: UsageTotals): UsageTotals {
  return {
    requests: a.requests + b.requests,
    errors: a.errors + b.errors,
    tokensIn: a.tokensIn + b.tokensIn,
    tokensOut: a.tokensOut + b.tokensOut,
    cacheReadTokens: a.cacheReadTokens + b.cacheReadTokens,
    cacheWriteTokens: a.cacheWriteTokens + b.cacheWriteTokens,
    withoutUsage: a.withoutUsage + b.withoutUsage,
    costNanos: a.costNanos + b.costNanos,
    currency: a.currency === null
      ? b.currency
      : b.currency === null || b.currency === a.currency
      ? a.currency
      : "mixed",
    unpriced: a.unpriced + b.unpriced,
  };
}

/** `byUser` and `byTeam` from the `byKey` rows and each key's owner. */
function byOwners(
  keys: (UsageTotals & { key: string | null })[],
  ownersOf: ClickHouseSummaryOptions["ownersOf"],
): Pick<UsageSummary, "byUser" | "byTeam"> {
  const names = keys.flatMap((k) => k.key === null ? [] : [k.key]);
  const owners = ownersOf?.(names) ?? new Map<string, KeyOwner>();
  const users = new Map<string | null, UsageTotals>();
  const teams = new Map<string | null, UsageTotals>();
  for (const { key, ...sums } of keys) {
    const owner = key === null ? undefined : owners.get(key);
    for (
      const [groups, name] of [
        [users, owner?.user ?? null],
        [teams, owner?.team ?? null],
      ] as const
    ) {
      const before = groups.get(name);
      groups.set(name, before === undefined ? sums : addTotals(before, sums));
    }
  }
  return {
    byUser: sorted(users).map(([user, sums]) => ({ user, ...sums })),
    byTeam: sorted(teams).map(([team, sums]) => ({ team, ...sums })),
  };
}

/** Most requests first, then by name (bytewise, as SQLite and ClickHouse compare), null last. */
function sorted(
  groups: Map<string | null, UsageTotals>,
): [string | null, UsageTotals][] {
  const encoder = new TextEncoder();
  const bytes = (s: string) => Array.from(encoder.encode(s));
  return [...groups].sort(([an, a], [bn, b]) => {
    if (a.requests !== b.requests) return b.requests - a.requests;
    if (an === bn) return 0;
    if (an === null) return 1;
    if (bn === null) return -1;
    const [x, y] = [bytes(an), bytes(bn)];
    for (let i = 0; i < Math.min(x.length, y.length); i++) {
      if (x[i] !== y[i]) return x[i] - y[i];
    }
    return x.length - y.length;
  });
}

/** The `Code: N` that starts a ClickHouse error body, or null. */
function errorCode(text: string): number | null {
  const match = /^Code: (\d+)/.exec(text.trim());
  return match ? Number(match[1]) : null;
}

/** First line of a ClickHouse error body, bounded, with the password (if it was echoed) masked. */
function summarizeError(text: string, password: string | null): string {
  let line = text.trim().split("\n")[0].replace(
    /, e\.what\(\) = DB::Exception$/,
    "",
  );
  if (password) line = line.replaceAll(password, "***");
  return line.length > 300 ? `${line.slice(0, 300)}…` : line || "(empty body)";
}
