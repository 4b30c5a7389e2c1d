/**
 * `flow-proxy usage`: totals of requests, errors and tokens from the SQLite
 * request log — or, with ClickHouse configured, from the log every instance
 * writes there — by credential, by model and by UTC day; by key, by key owner
 * (user) and by the owner's team on request.
 */
import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { defaultDbPath } from "../config/default_paths.ts";
import { loadEnvironment } from "../config/env_file.ts";
import { ArgumentError, cleanParseArgsMessage } from "../config/arguments.ts";
import {
  type UsageSummary,
  usageSummary,
  type UsageTotals,
} from "../request_log/sqlite_store.ts";
import { describe, describeIoError } from "../base/describe.ts";
import { parseSince } from "../base/time_grammar.ts";
import { formatCost } from "../models/price.ts";
import { argumentError, type CommandIo, EXIT, formatTable } from "./command.ts";
import {
  CLICKHOUSE_USAGE_FLAGS,
  CLICKHOUSE_USAGE_HELP,
  clickHouseSource,
  clickHouseUsage,
  describeClickHouse,
} from "./usage_clickhouse.ts";
import type { ClickHouseQueriesOptions } from "../request_log/clickhouse_queries.ts";

/** Help text of `flow-proxy usage`. */
export const USAGE_HELP = `Usage: flow-proxy usage [options]

Print requests, errors, tokens and spend from the request log, by credential, by
model and by day (UTC).

Options:
  --db <path>         Request log database [env: FLOW_PROXY_DB]
                      default: $STATE_DIRECTORY/flow-proxy.db if set, else flow-proxy.db
  --since <time>      Only requests from this time: 2026-11-01, 2026-11-01T08:00
                      (UTC unless a zone is given), or an age such as 24h, 7d, 2w
  --until <time>      Only requests before this time (same forms)
  --by <group>        Only this table: credential, key, user, team, model or day
                      (repeatable; default: credential, model and day). user and
                      team follow each request's key to its owner and the
                      owner's team; "(none)": no key, no owner or no team
  --json              Print one JSON object instead of tables
${CLICKHOUSE_USAGE_HELP}  -h, --help          Show this help

Exit status: 0 ok, 1 the database (or ClickHouse) cannot be read, 2 bad usage.
`;

const GROUPS = ["credential", "key", "user", "team", "model", "day"] as const;
/** The tables printed without `--by`. */
const DEFAULT_GROUPS: readonly Group[] = ["credential", "model", "day"];
type Group = typeof GROUPS[number];

/** Runs `flow-proxy usage`; resolves to the exit status (0 ok, 1 unreadable database, 2 usage error). */
export function usageCommand(args: string[], io: CommandIo): Promise<number> {
  return runUsage(args, io);
}

async function runUsage(args: string[], io: CommandIo): Promise<number> {
  let request: UsageRequest;
  try {
    const parsed = parseUsageArgs(args, io);
    if (parsed === "help") {
      io.stdout(USAGE_HELP);
      return EXIT.OK;
    }
    request = parsed;
  } catch (err) {
    if (!(err instanceof ArgumentError)) throw err;
    return argumentError(io, err.message, `\n${USAGE_HELP}`);
  }

  const owners = request.groups.includes("user") ||
    request.groups.includes("team");
  let summary: UsageSummary;
  if (request.clickhouse !== null) {
    try {
      summary = await clickHouseUsage(request.clickhouse, request.db, {
        since: request.since,
        until: request.until,
        owners,
      });
    } catch (err) {
      io.stderr(`error: ${describe(err)}\n`);
      return EXIT.FAILURE;
    }
    io.stdout(
      request.json
        ? formatJson(summary, request)
        : formatTables(summary, request),
    );
    return EXIT.OK;
  }
  try {
    const info = Deno.statSync(request.db);
    if (info.isDirectory) throw new Deno.errors.IsADirectory();
  } catch (err) {
    io.stderr(
      `error: Cannot open request log "${request.db}": ${
        describeIoError(err)
      }\n`,
    );
    return EXIT.FAILURE;
  }
  try {
    summary = usageSummary(request.db, {
      since: request.since,
      until: request.until,
      owners,
    });
  } catch (err) {
    io.stderr(`error: ${describe(err)}\n`);
    return EXIT.FAILURE;
  }

  io.stdout(
    request.json
      ? formatJson(summary, request)
      : formatTables(summary, request),
  );
  return EXIT.OK;
}

interface UsageRequest {
  db: string;
  since?: number;
  until?: number;
  json: boolean;
  groups: Group[];
  /** The ClickHouse request log to read instead of `db`, or null. */
  clickhouse: ClickHouseQueriesOptions | null;
}

function parseUsageArgs(args: string[], io: CommandIo): UsageRequest | "help" {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        db: { type: "string" },
        since: { type: "string" },
        until: { type: "string" },
        by: { type: "string", multiple: true },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
        ...CLICKHOUSE_USAGE_FLAGS,
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new ArgumentError(cleanParseArgsMessage(err));
  }
  if (values.help) return "help";

  const now = Date.now();
  const since = values.since === undefined
    ? undefined
    : parseTime(values.since, "--since", now);
  const until = values.until === undefined
    ? undefined
    : parseTime(values.until, "--until", now);
  if (since !== undefined && until !== undefined && since >= until) {
    throw new ArgumentError(`--since must be earlier than --until`);
  }

  const groups: Group[] = [];
  for (const value of values.by ?? []) {
    for (const item of value.split(",")) {
      const group = item.trim().toLowerCase();
      if (!(GROUPS as readonly string[]).includes(group)) {
        throw new ArgumentError(
          `--by must be credential, key, user, team, model or day, got "${item}"`,
        );
      }
      if (!groups.includes(group as Group)) groups.push(group as Group);
    }
  }

  if (values.db === "") throw new ArgumentError("--db must not be empty");
  const { env } = loadEnvironment(undefined, { env: io.env, cwd: io.cwd });
  const db = values.db ?? (env.FLOW_PROXY_DB || defaultDbPath(env, io.cwd));
  return {
    clickhouse: clickHouseSource(values, env),
    db: resolve(io.cwd, db),
    since,
    until,
    json: values.json ?? false,
    groups: groups.length ? groups : [...DEFAULT_GROUPS],
  };
}

/** A time of `--since`/`--until` in the base time grammar: a date, a date and time (UTC unless zoned) or an age. */
function parseTime(value: string, flag: string, now: number): number {
  const time = parseSince(value, now);
  if (time !== null) return time;
  throw new ArgumentError(
    `${flag} must be a date (2026-11-01), a date and time (2026-11-01T08:00) or an age (24h, 7d), got "${value}"`,
  );
}

const COLUMNS: [Exclude<keyof UsageTotals, "currency">, string][] = [
  ["requests", "Requests"],
  ["errors", "Errors"],
  ["tokensIn", "Tokens in"],
  ["tokensOut", "Tokens out"],
  ["cacheReadTokens", "Cache read"],
  ["cacheWriteTokens", "Cache write"],
  ["withoutUsage", "Usage unknown"],
];

/**
 * The spend cell: the priced requests' cost with its currency, and how many
 * requests had tokens but no price — never a 0 for an unknown price.
 */
export function spendCell(totals: UsageTotals): string {
  if (totals.currency === null) {
    return totals.unpriced > 0 ? "unknown (tokens only)" : "-";
  }
  const amount = totals.currency === "mixed"
    ? `${formatCost(totals.costNanos)} (mixed currencies)`
    : `${formatCost(totals.costNanos)} ${totals.currency}`;
  return totals.unpriced > 0
    ? `${amount} + ${totals.unpriced} unpriced`
    : amount;
}

function formatTables(summary: UsageSummary, request: UsageRequest): string {
  const period = `${
    request.since === undefined ? "the beginning" : formatTime(request.since)
  } to ${request.until === undefined ? "now" : formatTime(request.until)}`;
  const log = request.clickhouse === null
    ? request.db
    : describeClickHouse(request.clickhouse);
  let out = `Request log ${log}, ${period}\n`;
  if (summary.total.requests === 0) {
    return out + "No requests recorded in this period.\n";
  }

  for (const group of request.groups) {
    let title: string[];
    let rows: [string[], UsageTotals][];
    if (group === "key") {
      title = ["Key"];
      rows = summary.byKey.map((r) => [[r.key ?? "(no key)"], r]);
    } else if (group === "user") {
      title = ["User"];
      rows = summary.byUser.map((r) => [[r.user ?? "(none)"], r]);
    } else if (group === "team") {
      title = ["Team"];
      rows = summary.byTeam.map((r) => [[r.team ?? "(none)"], r]);
    } else if (group === "credential") {
      title = ["Credential"];
      rows = summary.byCredential.map((r) => [[r.credential ?? "(none)"], r]);
    } else if (group === "model") {
      // The Flow model a request was sent as, where the mapping changed it.
      title = ["Model", "Sent as"];
      rows = summary.byModel.map((
        r,
      ) => [[r.model ?? "(unknown)", r.upstreamModel ?? "-"], r]);
    } else {
      title = ["Day (UTC)"];
      rows = summary.byDay.map((r) => [[r.day], r]);
    }
    rows.push([title.map((_, i) => i === 0 ? "Total" : ""), summary.total]);
    out += "\n" + formatTotals(title, rows);
  }
  return out;
}

function formatTotals(
  title: string[],
  rows: [string[], UsageTotals][],
): string {
  return formatTable([
    [...title, ...COLUMNS.map(([, label]) => label), "Spend"],
    ...rows.map((
      [names, totals],
    ) => [
      ...names,
      ...COLUMNS.map(([key]) => String(totals[key])),
      spendCell(totals),
    ]),
  ], { rightAlignFrom: title.length });
}

function formatJson(summary: UsageSummary, request: UsageRequest): string {
  const out: Record<string, unknown> = {
    db: request.db,
    ...(request.clickhouse === null
      ? {}
      : { clickhouse: describeClickHouse(request.clickhouse) }),
    since: summary.since === null
      ? null
      : new Date(summary.since).toISOString(),
    until: summary.until === null
      ? null
      : new Date(summary.until).toISOString(),
    total: summary.total,
  };
  if (request.groups.includes("key")) out.byKey = summary.byKey;
  if (request.groups.includes("user")) out.byUser = summary.byUser;
  if (request.groups.includes("team")) out.byTeam = summary.byTeam;
  if (request.groups.includes("credential")) {
    out.byCredential = summary.byCredential;
  }
  if (request.groups.includes("model")) out.byModel = summary.byModel;
  if (request.groups.includes("day")) out.byDay = summary.byDay;
  return JSON.stringify(out, null, 2) + "\n";
}

function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ").replace(
    /:\d{2}\.\d{3}Z$/,
    " UTC",
  );
}
