/**
 * The dashboard's request-log routes: `GET requests` (a page, newest
 * first, with a keyset cursor), `GET requests/<id>`, `GET requests.csv`
 * (every matching request, streamed page by page, RFC 4180 with cells
 * that a spreadsheet would read as a formula made inert) and
 * `GET usage/series`. The reads go to the store worker (a serving thread
 * never opens SQLite); `owner` narrows them to a member's own keys.
 *
 * @module
 */
import {
  parseDuration,
  parseInstant,
  parseSince,
} from "../base/time_grammar.ts";
import {
  type Cursor,
  formatCursor,
  MAX_PAGE,
  parseCursor,
  type RequestDetail,
  type RequestItem,
  type RequestPage,
  type RequestSelection,
  type SeriesBy,
  type UsageSeries,
  utcDay,
} from "../request_log/request_queries.ts";
import { fail, json, methodNotAllowed, pathName, readLog } from "./http.ts";
import type { DashboardRoute } from "./dashboard_routes.ts";

/** The request log's reads the dashboard needs (through the store worker). */
export interface DashboardLog {
  requests(
    selection: RequestSelection,
    page: { cursor: Cursor | null; limit: number },
  ): Promise<RequestPage>;
  request(id: string, owner: string | null): Promise<RequestDetail | null>;
  series(query: {
    fromDay: string;
    toDay: string;
    by: SeriesBy;
    owner: string | null;
  }): Promise<UsageSeries>;
}

/** Default page size of `GET requests`. */
const DEFAULT_LIMIT = 50;
/** Rows per store request while a CSV streams. */
const CSV_PAGE = MAX_PAGE;
/** Default and longest window of `GET usage/series`, days. */
const DEFAULT_SERIES_DAYS = 30;
const MAX_SERIES_DAYS = 366;

/** The columns of a listed request, in order: the CSV's header too. */
export const REQUEST_COLUMNS: readonly (keyof RequestItem)[] = [
  "id",
  "time",
  "key",
  "user",
  "model",
  "upstream_model",
  "status",
  "error",
  "duration_ms",
  "ttft_ms",
  "tokens_in",
  "tokens_out",
  "cost",
  "currency",
  "translation",
  "rewrite",
  "credential",
  "stream",
  "attempts",
];

const FILTERS = [
  "from",
  "to",
  "key",
  "user",
  "model",
  "upstream_model",
  "status",
  "error",
  "translation",
  "rewrite",
  "id",
] as const;

/** Serves `requests`, `requests.csv` and `requests/<id>` (permission already granted). */
export async function serveRequestRoute(
  r: DashboardRoute,
  owner: string | null,
): Promise<Response> {
  const log = r.sources.log;
  if (log === undefined) {
    return fail(
      "not_found",
      "The request log is off (--no-db): there are no requests to show",
    );
  }
  if (r.req.method !== "GET") return methodNotAllowed("GET");
  if (r.rest.startsWith("requests/")) {
    const id = pathName(r.rest, "requests/");
    if (id === null || id === "") {
      return fail("bad_request", "Malformed request id in the path");
    }
    const found = await readLog(() => log.request(id, owner));
    if (found instanceof Response) return found;
    if (found === null) return fail("not_found", `No request with id "${id}"`);
    return json(200, { request: found });
  }
  const csv = r.rest === "requests.csv";
  const parsed = parseSelection(r.url, owner, csv);
  if (typeof parsed === "string") return fail("bad_request", parsed);
  const { selection, cursor, limit } = parsed;
  if (!csv) {
    const page = await readLog(() =>
      log.requests(selection, { cursor, limit })
    );
    if (page instanceof Response) return page;
    return json(200, {
      items: page.items,
      next_cursor: page.next === null ? null : formatCursor(page.next),
    });
  }
  // The first page before the headers: a failing log answers an error, not a broken file.
  const first = await readLog(() =>
    log.requests(selection, { cursor, limit: CSV_PAGE })
  );
  if (first instanceof Response) return first;
  return new Response(
    csvStream(
      first,
      (next) => log.requests(selection, { cursor: next, limit: CSV_PAGE }),
    ),
    {
      headers: {
        "content-type": "text/csv; charset=utf-8",
        "content-disposition": `attachment; filename="requests-${
          new Date(r.now).toISOString().slice(0, 19).replace(/:/g, "")
        }Z.csv"`,
        "cache-control": "no-store",
      },
    },
  );
}

/** The filters, cursor and limit of a request-list URL, or a message naming what is wrong. */
export function parseSelection(
  url: URL,
  owner: string | null,
  csv = false,
):
  | { selection: RequestSelection; cursor: Cursor | null; limit: number }
  | string {
  const params = url.searchParams;
  for (const name of params.keys()) {
    if (
      !(FILTERS as readonly string[]).includes(name) && name !== "cursor" &&
      (csv || name !== "limit")
    ) {
      return `Unknown parameter "${name}": use ${FILTERS.join(", ")}, cursor${
        csv ? "" : ", limit"
      }`;
    }
  }
  const value = (name: string) => {
    const v = params.get(name);
    return v === null || v === "" ? undefined : v;
  };
  const selection: RequestSelection = {};
  if (owner !== null) selection.owner = owner;
  for (const name of ["from", "to"] as const) {
    const raw = value(name);
    if (raw === undefined) continue;
    const at = parseInstant(raw);
    if (at === null) {
      return `Invalid "${name}" value "${raw}": use an ISO date or date-time, or epoch milliseconds`;
    }
    selection[name] = at;
  }
  const text = {
    key: "key",
    user: "user",
    model: "model",
    upstream_model: "upstreamModel",
    error: "error",
    translation: "translation",
    rewrite: "rewrite",
    id: "id",
  } as const;
  for (const [param, field] of Object.entries(text)) {
    const raw = value(param);
    if (raw === undefined) continue;
    if (raw.length > 256) {
      return `Invalid "${param}": longer than 256 characters`;
    }
    (selection as Record<string, unknown>)[field] = raw;
  }
  const status = value("status");
  if (status !== undefined) {
    if (status === "4xx" || status === "5xx" || status === "error") {
      selection.status = status;
    } else if (/^[1-5]\d\d$|^0$/.test(status)) {
      selection.status = Number(status);
    } else {
      return `Invalid "status" value "${status}": use a status code such as 200, or 4xx, 5xx or error`;
    }
  }
  let cursor: Cursor | null = null;
  const rawCursor = value("cursor");
  if (rawCursor !== undefined) {
    cursor = parseCursor(rawCursor);
    if (cursor === null) {
      return `Invalid "cursor" value "${rawCursor}": pass back a next_cursor this API gave`;
    }
  }
  let limit = DEFAULT_LIMIT;
  const rawLimit = value("limit");
  if (rawLimit !== undefined) {
    limit = Number(rawLimit);
    if (!/^\d+$/.test(rawLimit) || limit < 1 || limit > MAX_PAGE) {
      return `Invalid "limit" value "${rawLimit}": must be a whole number from 1 to ${MAX_PAGE}`;
    }
  }
  return { selection, cursor, limit };
}

const ENCODER = new TextEncoder();

/** The CSV of `first` and every page after it, fetched as the reader pulls. */
function csvStream(
  first: RequestPage,
  next: (cursor: Cursor) => Promise<RequestPage>,
): ReadableStream<Uint8Array> {
  let page: RequestPage | null = first;
  let header = true;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (header) {
        header = false;
        controller.enqueue(ENCODER.encode(csvLine(REQUEST_COLUMNS)));
      }
      if (page === null) {
        controller.close();
        return;
      }
      const lines = page.items.map((item) =>
        csvLine(REQUEST_COLUMNS.map((c) => item[c]))
      );
      controller.enqueue(ENCODER.encode(lines.join("")));
      page = page.next === null ? null : await next(page.next);
    },
  }, { highWaterMark: 1 });
}

/** One CSV record, CRLF-terminated (RFC 4180). */
export function csvLine(values: readonly unknown[]): string {
  return values.map(csvCell).join(",") + "\r\n";
}

/**
 * A CSV cell: empty for null, quoted when it holds a quote, comma or line
 * break; text a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab,
 * CR first) gets a leading `'`.
 */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "number" || typeof value === "boolean") {
    return String(value);
  }
  let text = String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** `GET usage/series?since=30d&by=model|key|user|team`. */
export async function serveUsageSeries(
  r: DashboardRoute,
  owner: string | null,
): Promise<Response> {
  const log = r.sources.log;
  if (log === undefined) {
    return fail(
      "not_found",
      "Usage needs the request log, and this server runs without one",
    );
  }
  const params = r.url.searchParams;
  for (const name of params.keys()) {
    if (name !== "since" && name !== "by") {
      return fail("bad_request", `Unknown parameter "${name}": use since, by`);
    }
  }
  const by = params.get("by") || "model";
  if (by !== "model" && by !== "key" && by !== "user" && by !== "team") {
    return fail(
      "bad_request",
      `Invalid "by" value "${by}": use model, key, user or team`,
    );
  }
  const rawSince = params.get("since") || `${DEFAULT_SERIES_DAYS}d`;
  const since = parseSince(rawSince, r.now);
  if (since === null) {
    return fail(
      "bad_request",
      `Invalid "since" value "${rawSince}": use a duration such as 30d, an ISO date, or epoch milliseconds`,
    );
  }
  // `30d` is thirty days, today the last; a date is the first day itself.
  const back = parseDuration(rawSince);
  const fromDay = back === null ? utcDay(Math.min(since, r.now)) : utcDay(
    r.now - (Math.max(1, Math.ceil(back / 86_400_000)) - 1) * 86_400_000,
  );
  const toDay = utcDay(r.now);
  const days = (Date.parse(toDay) - Date.parse(fromDay)) / 86_400_000 + 1;
  if (days > MAX_SERIES_DAYS) {
    return fail(
      "bad_request",
      `Invalid "since" value "${rawSince}": at most ${MAX_SERIES_DAYS} days back`,
    );
  }
  const series = await readLog(() => log.series({ fromDay, toDay, by, owner }));
  if (series instanceof Response) return series;
  return json(200, {
    from: `${fromDay}T00:00:00.000Z`,
    to: new Date(r.now).toISOString(),
    by,
    time_zone: "UTC",
    ...series,
  });
}
