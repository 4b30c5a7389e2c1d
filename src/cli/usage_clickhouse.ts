/**
 * Where `flow-proxy usage` reads: the ClickHouse request log that every
 * instance writes to, when `--clickhouse-url` (or `FLOW_PROXY_CLICKHOUSE_URL`)
 * names one — company-wide numbers — else the local SQLite file. The flags
 * and variables are `serve`'s (their rows in serve_options.ts), so one `.env`
 * serves both commands.
 *
 * @module
 */
import { SERVE_OPTIONS } from "../config/serve_options.ts";
import { convertOption } from "../config/values.ts";
import { openDatabase } from "../base/sqlite.ts";
import {
  type ClickHouseQueriesOptions,
  createClickHouseQueries,
} from "../request_log/clickhouse_queries.ts";
import { keyOwners } from "../request_log/usage_owners.ts";
import type {
  UsageSummary,
  UsageSummaryOptions,
} from "../request_log/sqlite_store.ts";

/** The `usage` flags that pick and reach a ClickHouse request log (parseArgs options). */
export const CLICKHOUSE_USAGE_FLAGS = {
  "clickhouse-url": { type: "string" },
  "clickhouse-database": { type: "string" },
  "clickhouse-table": { type: "string" },
  "no-clickhouse": { type: "boolean" },
} as const;

/** Help lines of {@linkcode CLICKHOUSE_USAGE_FLAGS}. */
export const CLICKHOUSE_USAGE_HELP = `  --clickhouse-url <url>
                      Read the ClickHouse request log every instance writes to
                      (company-wide numbers) [env: FLOW_PROXY_CLICKHOUSE_URL];
                      user and password: FLOW_PROXY_CLICKHOUSE_USER and
                      FLOW_PROXY_CLICKHOUSE_PASSWORD. --db then only names key
                      owners and teams (--by user, --by team)
  --clickhouse-database <name>
                      default: default [env: FLOW_PROXY_CLICKHOUSE_DATABASE]
  --clickhouse-table <name>
                      default: flow_proxy_requests [env: FLOW_PROXY_CLICKHOUSE_TABLE]
  --no-clickhouse     Read the local SQLite log even when ClickHouse is configured
`;

type Values = {
  "clickhouse-url"?: string;
  "clickhouse-database"?: string;
  "clickhouse-table"?: string;
  "no-clickhouse"?: boolean;
};

/**
 * The ClickHouse to read, from the flags, then the environment (the `.env`
 * file included), or null for the local log; throws `ArgumentError` naming
 * the flag or variable of a malformed value.
 */
export function clickHouseSource(
  values: Values,
  env: Record<string, string | undefined>,
): ClickHouseQueriesOptions | null {
  if (values["no-clickhouse"]) return null;
  const read = (key: string, flag: keyof Values) => {
    const spec = SERVE_OPTIONS.find((s) => s.key === key)!;
    const raw = values[flag];
    if (raw !== undefined) return convertOption(spec, raw, `--${flag}`);
    const name = spec.env!;
    const fromEnv = env[name];
    if (fromEnv !== undefined && fromEnv !== "") {
      return convertOption(spec, fromEnv, name);
    }
    return spec.default;
  };
  const url = read("clickhouseUrl", "clickhouse-url") as URL | null;
  if (url === null) return null;
  return {
    url,
    database: read("clickhouseDatabase", "clickhouse-database") as string,
    table: read("clickhouseTable", "clickhouse-table") as string,
    user: env.FLOW_PROXY_CLICKHOUSE_USER ?? null,
    password: env.FLOW_PROXY_CLICKHOUSE_PASSWORD ?? null,
  };
}

/**
 * The summary from ClickHouse; key owners and teams come from the SQLite file
 * `db` when it exists (read-only), else every request is "(none)" there.
 * Rejects with the ClickHouse read error (naming host and port only).
 */
export async function clickHouseUsage(
  source: ClickHouseQueriesOptions,
  db: string,
  options: UsageSummaryOptions,
): Promise<UsageSummary> {
  const queries = createClickHouseQueries(source);
  let exists = false;
  try {
    exists = Deno.statSync(db).isFile;
  } catch {
    // No local file: owners unknown.
  }
  if (!options.owners || !exists) return await queries.usageSummary(options);
  const local = openDatabase(db, { readOnly: true });
  try {
    return await queries.usageSummary({
      ...options,
      ownersOf: (keys) => keyOwners(local, keys),
    });
  } finally {
    local.close();
  }
}

/** `host:port/database.table`, as `usage` names the log it read. */
export function describeClickHouse(source: ClickHouseQueriesOptions): string {
  return `ClickHouse ${source.url.host}/${source.database}.${source.table}`;
}
