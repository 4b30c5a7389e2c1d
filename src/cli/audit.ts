/**
 * `flow-proxy audit`: the audit trail, newest first: who changed users,
 * roles, teams, keys and tokens, every login, every use of the admin token.
 * Records are append-only; nothing here or in the admin API changes them.
 */
import { parseArgs } from "node:util";
import { ArgumentError, cleanParseArgsMessage } from "../config/arguments.ts";
import { openAccounts } from "../accounts/accounts.ts";
import { type AuditFilter, auditRecordJson } from "../accounts/audit.ts";
import { parseSince } from "../base/time_grammar.ts";
import {
  argumentError,
  type CommandIo,
  DATABASE_OPTIONS,
  DATABASE_OPTIONS_HELP,
  EXIT,
  formatTable,
  settle,
} from "./command.ts";
import { databasePath } from "./keys.ts";

/** Help text of `audit`. */
export const AUDIT_HELP =
  `Usage: flow-proxy audit [--since TIME] [--user NAME] [--action ACTION] [--limit N] [--json]

Print the audit trail, newest first: time, actor (a user, admin-token or
cli:<login>), role, action, target, address, outcome (ok, failed, denied).

Options:
  --since <time>         Only records from this time: 2026-12-01, 2026-12-01T08:00
                         (UTC unless a zone is given), or an age such as 24h, 7d
  --user <name>          Only records whose actor or target is this user
                         (or about a key the user owned)
  --action <action>      Only this action (user.create, login, key.revoke, …),
                         or a family such as 'user.*'
  --limit <n>            At most this many records (default 1000)
${DATABASE_OPTIONS_HELP}`;

const OPTIONS = {
  ...DATABASE_OPTIONS,
  "since": { type: "string" },
  "user": { type: "string" },
  "action": { type: "string" },
  "limit": { type: "string" },
} as const;

/** Options of {@linkcode auditCommand} beyond its I/O. */
export interface AuditCommandOptions {
  /** Clock, epoch ms (for --since ages). */
  now?: () => number;
}

/** Runs `audit`; resolves to the exit code. */
export function auditCommand(
  args: string[],
  io: CommandIo,
  options: AuditCommandOptions = {},
): Promise<number> {
  return settle(() => runAudit(args, io, options.now ?? Date.now));
}

function runAudit(args: string[], io: CommandIo, now: () => number): number {
  let filter: AuditFilter;
  let db: string;
  let values: Record<string, string | boolean | undefined>;
  try {
    let parsed;
    try {
      parsed = parseArgs({ args, options: OPTIONS, strict: true });
    } catch (err) {
      throw new ArgumentError(cleanParseArgsMessage(err));
    }
    values = parsed.values;
    if (values.help) {
      io.stdout(AUDIT_HELP);
      return EXIT.OK;
    }
    filter = auditFilter(values, now());
    db = databasePath(
      values.db as string | undefined,
      values["env-file"] as string | undefined,
      io,
    );
  } catch (err) {
    if (err instanceof ArgumentError) {
      return argumentError(io, err.message, `\n${AUDIT_HELP}`);
    }
    throw err;
  }
  if (!exists(db)) {
    io.stderr(
      `error: No database at "${db}": nothing has been audited there\n`,
    );
    return EXIT.FAILURE;
  }
  try {
    using accounts = openAccounts(db);
    const records = accounts.listAudit(filter);
    if (values.json) {
      io.stdout(JSON.stringify(records.map(auditRecordJson), null, 2) + "\n");
      return EXIT.OK;
    }
    if (records.length === 0) {
      io.stdout("No audit records match.\n");
      return EXIT.OK;
    }
    const rows = records.map((r) => [
      new Date(r.at).toISOString().slice(0, 19).replace("T", " ") + "Z",
      r.actor,
      r.actorRole ?? "-",
      r.action,
      r.target ?? "-",
      r.address ?? "-",
      r.outcome,
      r.detail === null
        ? ""
        : Object.entries(r.detail).map(([k, v]) => `${k}=${v}`).join(" "),
    ]);
    io.stdout(
      formatTable([[
        "TIME",
        "ACTOR",
        "ROLE",
        "ACTION",
        "TARGET",
        "ADDRESS",
        "OUTCOME",
        "DETAIL",
      ], ...rows]),
    );
    return EXIT.OK;
  } catch (err) {
    io.stderr(`error: ${(err as Error).message}\n`);
    return EXIT.FAILURE;
  }
}

function auditFilter(
  values: Record<string, string | boolean | undefined>,
  now: number,
): AuditFilter {
  const filter: AuditFilter = {};
  if (typeof values.since === "string") {
    const at = parseSince(values.since, now);
    if (at === null) {
      throw new ArgumentError(
        `Invalid --since value "${values.since}": use a duration such as 24h or 7d, an ISO date, or epoch milliseconds`,
      );
    }
    filter.since = at;
  }
  if (typeof values.limit === "string") {
    if (!/^\d{1,6}$/.test(values.limit) || Number(values.limit) < 1) {
      throw new ArgumentError(
        `--limit must be a whole number from 1, got "${values.limit}"`,
      );
    }
    filter.limit = Number(values.limit);
  }
  if (typeof values.user === "string") filter.user = values.user;
  if (typeof values.action === "string") filter.action = values.action;
  return filter;
}

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}
