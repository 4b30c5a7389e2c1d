/**
 * The dashboard's reads of the SQLite request log: a page of requests
 * (newest first, filtered, keyset-paginated on `(ts, rowid)` so a deep page
 * costs what the first does), one request by id, and tokens and spend by
 * day from the `requests_daily` rollup (sqlite_store.ts schema 5).
 *
 * Each filter that can be selective has an index (schema 5): key, model,
 * upstream model, failed statuses, error kind, translation, id; the others
 * (a 200, a rewrite) match most rows, so walking the time index finds a page
 * of them quickly.
 *
 * @module
 */
import type { DatabaseSync, SQLInputValue } from "node:sqlite";
import type { AttemptEntry } from "./record.ts";
import { keyOwners } from "./usage_owners.ts";

/** Largest page of {@linkcode listRequests}. */
export const MAX_PAGE = 500;

/** The `status` filter: an exact code, a class, or any error kind. */
export type StatusFilter = number | "4xx" | "5xx" | "error";

/** What {@linkcode listRequests} keeps. */
export interface RequestFilter {
  /** Requests started at or after this time, epoch ms. */
  from?: number;
  /** Requests started before this time, epoch ms. */
  to?: number;
  /** Only the requests of these keys; an empty list matches none. */
  clients?: readonly string[];
  model?: string;
  upstreamModel?: string;
  status?: StatusFilter;
  /** Error kind (`upstream_timeout`, …). */
  error?: string;
  /** Translation name (`messages->chat`), or `none` for requests not translated. */
  translation?: string;
  /** A rewrite kind the request had, or `none`. */
  rewrite?: string;
  id?: string;
}

/**
 * A filter as the admin API passes it to the store worker: keys named by
 * `key`, by their owner `user`, and (a member's view) by `owner`; the store
 * worker turns these into {@linkcode RequestFilter.clients}.
 */
export interface RequestSelection extends Omit<RequestFilter, "clients"> {
  key?: string;
  user?: string;
  owner?: string;
}

/**
 * The filter of `selection`: its key names narrowed to those `ownedBy` a
 * user gives, for `user` and `owner` both.
 */
export function resolveSelection(
  selection: RequestSelection,
  ownedBy: (user: string) => string[],
): RequestFilter {
  const { key, user, owner, ...rest } = selection;
  let clients: string[] | undefined = key === undefined ? undefined : [key];
  for (const who of [user, owner]) {
    if (who === undefined) continue;
    const owned = ownedBy(who);
    clients = clients === undefined
      ? owned
      : clients.filter((c) => owned.includes(c));
  }
  return clients === undefined ? rest : { ...rest, clients };
}

/** Where a page starts: after this row (its `ts` and `rowid`). */
export interface Cursor {
  ts: number;
  /** The SQLite rowid of the last row. */
  row: number;
  /** The id of the last row instead, where there is no rowid (ClickHouse). */
  id?: string;
}

/** One request as the dashboard lists it. */
export interface RequestItem {
  id: string;
  time: string;
  key: string | null;
  user: string | null;
  model: string | null;
  "upstream_model": string | null;
  status: number;
  error: string | null;
  "duration_ms": number;
  "ttft_ms": number | null;
  "tokens_in": number | null;
  "tokens_out": number | null;
  cost: number | null;
  currency: string | null;
  translation: string | null;
  rewrite: string | null;
  credential: string | null;
  stream: boolean;
  attempts: number;
}

/** One request with everything the log holds of it. */
export interface RequestDetail extends RequestItem {
  method: string;
  path: string;
  "bytes_in": number;
  "bytes_out": number;
  "cache_read_tokens": number | null;
  "cache_write_tokens": number | null;
  "attempt_log":
    | {
      credential: string | null;
      status: number;
      error: string | null;
      duration_ms: number;
    }[]
    | null;
}

/** A page of requests and where the next one starts (null: this was the last). */
export interface RequestPage {
  items: RequestItem[];
  next: Cursor | null;
}

/** The cursor as the API hands it out: `<ts>.<rowid>`. */
export function formatCursor(cursor: Cursor): string {
  if (cursor.id !== undefined) {
    return `${cursor.ts}_${
      btoa(String.fromCharCode(...new TextEncoder().encode(cursor.id)))
        .replaceAll("+", "-").replaceAll("/", "_").replaceAll("=", "")
    }`;
  }
  return `${cursor.ts}.${cursor.row}`;
}

/** A cursor from the API, or null when `text` is not one. */
export function parseCursor(text: string): Cursor | null {
  const byId = /^(\d{1,16})_([A-Za-z0-9_-]{1,400})$/.exec(text);
  if (byId) {
    try {
      const bytes = Uint8Array.from(
        atob(byId[2].replaceAll("-", "+").replaceAll("_", "/")),
        (c) => c.charCodeAt(0),
      );
      const id = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
      const ts = Number(byId[1]);
      return Number.isSafeInteger(ts) ? { ts, row: 0, id } : null;
    } catch {
      return null;
    }
  }
  const m = /^(\d{1,16})\.(\d{1,16})$/.exec(text);
  if (!m) return null;
  const cursor = { ts: Number(m[1]), row: Number(m[2]) };
  return Number.isSafeInteger(cursor.ts) && Number.isSafeInteger(cursor.row)
    ? cursor
    : null;
}

const LIST_COLUMNS = `rowid AS row, id, ts, client, model, upstream_model,
  status, error, duration_ms, ttft_ms, tokens_in, tokens_out, cost_nanos,
  cost_currency, translation, rewrite, credential, stream, attempts`;

const DETAIL_COLUMNS = `${LIST_COLUMNS}, method, path, bytes_in, bytes_out,
  cache_read_tokens, cache_write_tokens, attempt_log`;

/** The WHERE clause and parameters of `filter` (and a cursor). */
function where(
  filter: RequestFilter,
  cursor: Cursor | null,
): { sql: string; params: SQLInputValue[] } {
  const terms: string[] = [];
  const params: SQLInputValue[] = [];
  if (filter.from !== undefined) {
    terms.push("ts >= ?");
    params.push(filter.from);
  }
  if (filter.to !== undefined) {
    terms.push("ts < ?");
    params.push(filter.to);
  }
  if (filter.clients !== undefined) {
    if (filter.clients.length === 1) {
      // `=` rather than IN: the (client, ts) index then gives the order too.
      terms.push("client = ?");
      params.push(filter.clients[0]);
    } else {
      terms.push("client IN (SELECT value FROM json_each(?))");
      params.push(JSON.stringify(filter.clients));
    }
  }
  if (filter.model !== undefined) {
    terms.push("model = ?");
    params.push(filter.model);
  }
  if (filter.upstreamModel !== undefined) {
    terms.push("upstream_model = ?");
    params.push(filter.upstreamModel);
  }
  const status = filter.status;
  // `status >= 400` and `error IS NOT NULL` spelled as in the partial index
  // of failed requests (schema 5), so that SQLite reads that index.
  if (status === "4xx") terms.push("status >= 400 AND status < 500");
  else if (status === "5xx") terms.push("status >= 400 AND status >= 500");
  else if (status === "error") terms.push("error IS NOT NULL");
  else if (typeof status === "number") {
    terms.push(status >= 400 ? "status >= 400 AND status = ?" : "status = ?");
    params.push(status);
  }
  if (filter.error !== undefined) {
    terms.push("error = ?");
    params.push(filter.error);
  }
  if (filter.translation === "none") terms.push("translation IS NULL");
  else if (filter.translation !== undefined) {
    terms.push("translation = ?");
    params.push(filter.translation);
  }
  if (filter.rewrite === "none") terms.push("rewrite IS NULL");
  else if (filter.rewrite !== undefined) {
    // A kind among the comma-joined kinds of the row (`IS NOT NULL`: the index).
    terms.push("rewrite IS NOT NULL AND instr(',' || rewrite || ',', ?) > 0");
    params.push(`,${filter.rewrite},`);
  }
  if (filter.id !== undefined) {
    terms.push("id = ?");
    params.push(filter.id);
  }
  if (cursor !== null) {
    terms.push("(ts, rowid) < (?, ?)");
    params.push(cursor.ts, cursor.row);
  }
  return {
    sql: terms.length === 0 ? "" : `WHERE ${terms.join(" AND ")}`,
    params,
  };
}

/** A page of at most `limit` requests matching `filter`, newest first, after `cursor`. */
export function listRequests(
  db: DatabaseSync,
  filter: RequestFilter,
  options: { cursor?: Cursor | null; limit: number },
): RequestPage {
  if (filter.clients !== undefined && filter.clients.length === 0) {
    return { items: [], next: null };
  }
  const limit = Math.max(1, Math.min(MAX_PAGE, Math.floor(options.limit)));
  const { sql, params } = where(filter, options.cursor ?? null);
  const rows = db.prepare(
    `SELECT ${LIST_COLUMNS} FROM requests ${sql} ORDER BY ts DESC, rowid DESC LIMIT ?`,
  ).all(...params, limit + 1) as Record<string, SQLInputValue>[];
  const more = rows.length > limit;
  const page = more ? rows.slice(0, limit) : rows;
  const owners = keyOwners(db, distinctClients(page));
  const last = page[page.length - 1];
  return {
    items: page.map((row) => requestItem(row, owners)),
    next: more && last ? { ts: Number(last.ts), row: Number(last.row) } : null,
  };
}

/** The request `id` (the newest of that id), of `clients` only when given; null when there is none. */
export function getRequest(
  db: DatabaseSync,
  id: string,
  clients?: readonly string[],
): RequestDetail | null {
  const { sql, params } = where({ id, clients }, null);
  if (clients !== undefined && clients.length === 0) return null;
  const row = db.prepare(
    `SELECT ${DETAIL_COLUMNS} FROM requests ${sql} ORDER BY ts DESC, rowid DESC LIMIT 1`,
  ).get(...params) as Record<string, SQLInputValue> | undefined;
  if (row === undefined) return null;
  return requestDetail(row, keyOwners(db, distinctClients([row])));
}

/** A row of every detail column as the API shows it (`user` from `owners`). */
export function requestDetail(
  row: Record<string, SQLInputValue>,
  owners: Map<string, { user: string | null }>,
): RequestDetail {
  return {
    ...requestItem(row, owners),
    method: String(row.method),
    path: String(row.path),
    bytes_in: Number(row.bytes_in),
    bytes_out: Number(row.bytes_out),
    cache_read_tokens: numberOrNull(row.cache_read_tokens),
    cache_write_tokens: numberOrNull(row.cache_write_tokens),
    attempt_log: attemptLog(row.attempt_log),
  };
}

/** The key names of `rows`, once each. */
export function distinctClients(
  rows: Record<string, SQLInputValue>[],
): string[] {
  const out = new Set<string>();
  for (const row of rows) {
    if (typeof row.client === "string") out.add(row.client);
  }
  return [...out];
}

/** A row of the list columns as the API shows it (`user` from `owners`). */
export function requestItem(
  row: Record<string, SQLInputValue>,
  owners: Map<string, { user: string | null }>,
): RequestItem {
  const client = stringOrNull(row.client);
  const nanos = numberOrNull(row.cost_nanos);
  return {
    id: String(row.id),
    time: new Date(Number(row.ts)).toISOString(),
    key: client,
    user: client === null ? null : owners.get(client)?.user ?? null,
    model: stringOrNull(row.model),
    upstream_model: stringOrNull(row.upstream_model),
    status: Number(row.status),
    error: stringOrNull(row.error),
    duration_ms: Number(row.duration_ms),
    ttft_ms: numberOrNull(row.ttft_ms),
    tokens_in: numberOrNull(row.tokens_in),
    tokens_out: numberOrNull(row.tokens_out),
    cost: nanos === null ? null : nanos / 1e9,
    currency: nanos === null ? null : stringOrNull(row.cost_currency),
    translation: stringOrNull(row.translation),
    rewrite: stringOrNull(row.rewrite),
    credential: stringOrNull(row.credential),
    stream: Number(row.stream) === 1,
    attempts: Number(row.attempts),
  };
}

function attemptLog(value: SQLInputValue): RequestDetail["attempt_log"] {
  if (typeof value !== "string") return null;
  try {
    const entries = JSON.parse(value) as AttemptEntry[];
    return entries.map((e) => ({
      credential: e.credential ?? null,
      status: Number(e.status),
      error: e.error ?? null,
      duration_ms: Number(e.durationMs),
    }));
  } catch {
    return null;
  }
}

function stringOrNull(value: SQLInputValue | undefined): string | null {
  return typeof value === "string" ? value : null;
}

function numberOrNull(value: SQLInputValue | undefined): number | null {
  return value === null || value === undefined ? null : Number(value);
}

/** What a usage series is grouped by. */
export type SeriesBy = "model" | "key" | "user" | "team";

/** Options of {@linkcode usageSeries}. */
export interface UsageSeriesOptions {
  /** First day, `YYYY-MM-DD` (UTC). */
  fromDay: string;
  /** Last day, `YYYY-MM-DD` (UTC), included. */
  toDay: string;
  by: SeriesBy;
  /** Only the requests of these keys; absent: every request. */
  clients?: readonly string[];
}

/** Tokens and spend by day and group, and the totals of the window. */
export interface UsageSeries {
  days: string[];
  groups: { name: string; tokens: number[]; spend: (number | null)[] }[];
  totals: {
    requests: number;
    tokens: number;
    spend: number | null;
    "unpriced_requests": number;
  };
  currency: string | null;
}

/** What a group without a name (no key, no model, no owner) is called. */
export const UNNAMED = "(none)";

/**
 * Tokens and spend per UTC day from `fromDay` to `toDay`, by `by`, from the
 * daily rollup. A day's spend is null when none of its requests was priced
 * but some had tokens (unknown, not 0).
 */
export function usageSeries(
  db: DatabaseSync,
  options: UsageSeriesOptions,
): UsageSeries {
  const params: SQLInputValue[] = [options.fromDay, options.toDay];
  let clientTerm = "";
  if (options.clients !== undefined) {
    clientTerm = "AND client IN (SELECT value FROM json_each(?))";
    params.push(JSON.stringify(options.clients));
  }
  const column = options.by === "model" ? "model" : "client";
  // Grouped in the order of the rollup's key (or of its model index), so
  // SQLite sums as it reads, with no sort.
  const rows = db.prepare(
    `SELECT day, ${column} AS name, sum(requests) AS requests,
      sum(tokens) AS tokens, sum(cost_nanos) AS nanos, sum(priced) AS priced,
      sum(unpriced) AS unpriced,
      min(CASE WHEN priced > 0 AND currency != '' THEN currency END) AS low,
      max(CASE WHEN priced > 0 AND currency != '' THEN currency END) AS high
    FROM requests_daily WHERE day >= ? AND day <= ? ${clientTerm}
    GROUP BY day, ${column}`,
  ).all(...params) as unknown as SeriesRow[];
  return seriesFromRows(rows, options, (keys) => keyOwners(db, keys));
}

/** One group of one day, as the series query (SQLite or ClickHouse) gives it. */
export interface SeriesRow {
  day: string;
  /** Key or model; "" for none. */
  name: string;
  requests: number | string;
  tokens: number | string;
  nanos: number | string;
  priced: number | string;
  unpriced: number | string;
  /** The least and greatest currency of priced requests; null when none was priced. */
  low: string | null;
  high: string | null;
}

/**
 * The series of `rows` (day × key or model), grouped by `options.by`:
 * keys become their owner or the owner's team through `ownersOf`.
 */
export function seriesFromRows(
  rows: readonly SeriesRow[],
  options: Pick<UsageSeriesOptions, "fromDay" | "toDay" | "by">,
  ownersOf: (
    keys: string[],
  ) => Map<string, { user: string | null; team: string | null }>,
): UsageSeries {
  const days = dayRange(options.fromDay, options.toDay);
  const index = new Map(days.map((d, i) => [d, i]));
  let rename: (name: string) => string = (name) => name || UNNAMED;
  if (options.by === "user" || options.by === "team") {
    const owners = ownersOf(
      [...new Set(rows.map((r) => r.name).filter((n) => n !== ""))],
    );
    const field = options.by;
    rename = (name) => owners.get(name)?.[field] ?? UNNAMED;
  }
  type Group = {
    tokens: number[];
    nanos: number[];
    priced: number[];
    unpriced: number[];
  };
  const groups = new Map<string, Group>();
  const currencies = new Set<string>();
  const totals = { requests: 0, tokens: 0, nanos: 0, priced: 0, unpriced: 0 };
  for (const row of rows) {
    const at = index.get(row.day);
    if (at === undefined) continue;
    const name = rename(row.name);
    let group = groups.get(name);
    if (group === undefined) {
      const zeros = () => new Array<number>(days.length).fill(0);
      group = {
        tokens: zeros(),
        nanos: zeros(),
        priced: zeros(),
        unpriced: zeros(),
      };
      groups.set(name, group);
    }
    group.tokens[at] += Number(row.tokens);
    group.nanos[at] += Number(row.nanos);
    group.priced[at] += Number(row.priced);
    group.unpriced[at] += Number(row.unpriced);
    totals.requests += Number(row.requests);
    totals.tokens += Number(row.tokens);
    totals.nanos += Number(row.nanos);
    totals.priced += Number(row.priced);
    totals.unpriced += Number(row.unpriced);
    if (row.low !== null) currencies.add(row.low);
    if (row.high !== null) currencies.add(row.high);
  }
  const spend = (nanos: number, priced: number, unpriced: number) =>
    priced === 0 && unpriced > 0 ? null : nanos / 1e9;
  return {
    days,
    groups: [...groups].map(([name, g]) => ({
      name,
      tokens: g.tokens,
      spend: g.nanos.map((n, i) => spend(n, g.priced[i], g.unpriced[i])),
    })).sort((a, b) =>
      sum(b.tokens) - sum(a.tokens) || a.name.localeCompare(b.name)
    ),
    totals: {
      requests: totals.requests,
      tokens: totals.tokens,
      spend: spend(totals.nanos, totals.priced, totals.unpriced),
      unpriced_requests: totals.unpriced,
    },
    currency: currencies.size === 0
      ? null
      : currencies.size === 1
      ? [...currencies][0]
      : "mixed",
  };
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

const DAY_MS = 86_400_000;

/** The UTC day of `ms`, `YYYY-MM-DD`. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function dayRange(from: string, to: string): string[] {
  const out: string[] = [];
  const end = Date.parse(`${to}T00:00:00Z`);
  for (
    let t = Date.parse(`${from}T00:00:00Z`);
    t <= end && out.length <= 3660;
    t += DAY_MS
  ) {
    out.push(utcDay(t));
  }
  return out;
}
