/**
 * `flow-proxy keys create|list|revoke`: manage client API keys in the
 * database that `serve` uses. A running server picks changes up within a few
 * seconds. Exit 0 on success, 1 on failure, 2 on a usage error.
 */
import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { defaultDbPath } from "../config/default_paths.ts";
import { loadEnvironment } from "../config/env_file.ts";
import { ArgumentError, cleanParseArgsMessage } from "../config/arguments.ts";
import {
  budgetJson,
  type CreateKeyInput,
  type KeyRecord,
  keyRecordJson,
  keyStatus,
  parseExpiry,
  validateKeyInput,
} from "../access/client_keys.ts";
import { openKeyStore } from "../access/key_store.ts";
import { openAccounts } from "../accounts/accounts.ts";
import { type Budget, validateBudget } from "../access/budget.ts";
import {
  argumentError,
  type CommandIo,
  DATABASE_OPTIONS,
  DATABASE_OPTIONS_HELP,
  EXIT,
  formatTable,
  settle,
} from "./command.ts";
import { auditCliChange } from "./cli_actor.ts";

/** Options of {@linkcode keysCommand} beyond its I/O. */
export interface KeysCommandOptions {
  /** Clock, epoch ms; injectable for tests. */
  now?: () => number;
}

const USAGE =
  `Usage: flow-proxy keys create --name NAME [--rpm N] [--burst N] [--models m1,m2] [--expires 30d]
                              [budget options] [--json]
       flow-proxy keys list [--json]
       flow-proxy keys budget NAME (budget options | --clear) [--json]
       flow-proxy keys revoke NAME [--json]`;

/** Help text of `keys`. */
export const KEYS_HELP = `${USAGE}

Manage the API keys clients present to flow-proxy (as 'Authorization: Bearer <key>'
or 'x-api-key: <key>'). Once one key exists, every request needs a valid key.
Only a hash of each key is stored; a new key is printed once and cannot be shown again.
A running flow-proxy picks up created and revoked keys within a few seconds.

Commands:
  create   Create a key and print it once
  list     List keys (never the keys themselves): name, status, created, expires,
           limits, models, last used
  budget   Set (or with --clear, remove) the budget of the active key called NAME
  revoke   Revoke the active key called NAME

Options of create:
  --name <name>          1 to 64 letters, digits, '.', '_' or '-' (required)
  --rpm <n>              Requests per minute (0 = unlimited); default: serve's --default-rpm
  --burst <n>            Requests allowed at once; default: the RPM
  --models <m1,m2>       Only these models ('prefix*' matches a prefix); default: any
  --expires <when>       A duration (30d, 12h, 90m, 2w) or a date (2026-12-31); default: never
  --owner <user>         The user the key belongs to (flow-proxy users; the user's budget
                         and team budget then count it, and the user sees it); default: nobody

Budget options (create and budget; over calendar periods in serve's --budget-time-zone):
  --budget-period <p>    day, week or month (default: month)
  --budget-tokens <n>    Tokens per period (input + output, as Flow reports them)
  --budget-spend <x>     Spend per period, in the models file's currency (priced models only)
  --max-parallel <n>     Requests in flight at once
  --clear                (budget) Remove the key's budget

Options of every command:
${DATABASE_OPTIONS_HELP}`;

const COMMON_OPTIONS = {
  ...DATABASE_OPTIONS,
} as const;

const BUDGET_OPTIONS = {
  "budget-period": { type: "string" },
  "budget-tokens": { type: "string" },
  "budget-spend": { type: "string" },
  "max-parallel": { type: "string" },
} as const;

const BUDGET_COMMAND_OPTIONS = {
  ...COMMON_OPTIONS,
  ...BUDGET_OPTIONS,
  "clear": { type: "boolean" },
} as const;

const CREATE_OPTIONS = {
  ...COMMON_OPTIONS,
  ...BUDGET_OPTIONS,
  "name": { type: "string" },
  "rpm": { type: "string" },
  "burst": { type: "string" },
  "models": { type: "string" },
  "expires": { type: "string" },
  "owner": { type: "string" },
} as const;

/** Runs `keys` with `args` (after the command name); returns the exit code. */
export function keysCommand(
  args: string[],
  io: CommandIo,
  options: KeysCommandOptions = {},
): Promise<number> {
  // Synchronous inside (node:sqlite); a promise so that commands share one shape.
  return settle(() => runKeys(args, io, options));
}

function runKeys(
  args: string[],
  io: CommandIo,
  options: KeysCommandOptions,
): number {
  const now = options.now ?? Date.now;
  const [sub, ...rest] = args;
  if (sub === undefined) {
    return keysArgumentError(
      io,
      "No keys command given: create, list, budget or revoke",
    );
  }
  if (sub === "-h" || sub === "--help" || sub === "help") {
    io.stdout(KEYS_HELP);
    return EXIT.OK;
  }
  if (!["create", "list", "budget", "revoke"].includes(sub)) {
    return keysArgumentError(
      io,
      `Unknown keys command '${sub}': use create, list, budget or revoke`,
    );
  }

  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      options: sub === "create"
        ? CREATE_OPTIONS
        : sub === "budget"
        ? BUDGET_COMMAND_OPTIONS
        : COMMON_OPTIONS,
      strict: true,
      allowPositionals: sub === "revoke" || sub === "budget",
    });
  } catch (err) {
    return keysArgumentError(io, cleanParseArgsMessage(err));
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values.help) {
    io.stdout(KEYS_HELP);
    return EXIT.OK;
  }

  let db: string;
  let input: CreateKeyInput | null = null;
  let name: string | null = null;
  let budget: Budget | null = null;
  try {
    db = databasePath(
      values.db as string | undefined,
      values["env-file"] as string | undefined,
      io,
    );
    if (sub === "create") input = createInput(values, now());
    if (sub === "revoke" || sub === "budget") {
      if (parsed.positionals.length !== 1) {
        throw new ArgumentError(`keys ${sub} takes exactly one key name`);
      }
      name = parsed.positionals[0];
    }
    if (sub === "budget") {
      const given = budgetInput(values);
      if (values.clear === true && given !== null) {
        throw new ArgumentError(
          "keys budget takes budget options or --clear, not both",
        );
      }
      if (values.clear !== true && given === null) {
        throw new ArgumentError(
          "keys budget needs --budget-tokens, --budget-spend or --max-parallel (or --clear)",
        );
      }
      budget = given;
    }
  } catch (err) {
    if (err instanceof ArgumentError) return keysArgumentError(io, err.message);
    throw err;
  }

  const json = values.json === true;
  try {
    if (sub === "create") return create(db, input!, json, io, now);
    if (sub === "list") return list(db, json, io, now);
    if (sub === "budget") return setBudget(db, name!, budget, json, io);
    return revoke(db, name!, json, io);
  } catch (err) {
    io.stderr(`error: ${(err as Error).message}\n`);
    return EXIT.FAILURE;
  }
}

/** The database as `serve` would use it: --db > FLOW_PROXY_DB (.env included) > $STATE_DIRECTORY > cwd. */
export function databasePath(
  flag: string | undefined,
  envFile: string | undefined,
  io: CommandIo,
): string {
  if (flag === "") throw new ArgumentError("--db must not be empty");
  if (envFile === "") throw new ArgumentError("--env-file must not be empty");
  const { env } = loadEnvironment(
    envFile === undefined ? undefined : resolve(io.cwd, envFile),
    {
      env: io.env,
      cwd: io.cwd,
    },
  );
  if (flag !== undefined) return resolve(io.cwd, flag);
  if (env.FLOW_PROXY_DB) return resolve(io.cwd, env.FLOW_PROXY_DB);
  return defaultDbPath(env, io.cwd);
}

function createInput(
  values: Record<string, string | boolean | undefined>,
  now: number,
): CreateKeyInput {
  const name = values.name as string | undefined;
  if (name === undefined) {
    throw new ArgumentError("keys create needs --name NAME");
  }
  const input: CreateKeyInput = { name };
  if (values.rpm !== undefined) {
    input.rpm = wholeNumber(values.rpm as string, "--rpm");
  }
  if (values.burst !== undefined) {
    input.burst = wholeNumber(values.burst as string, "--burst");
  }
  if (values.models !== undefined) {
    input.models = (values.models as string).split(",").map((m) => m.trim())
      .filter((m) => m !== "");
  }
  const budget = budgetInput(values);
  if (budget !== null) input.budget = budget;
  if (values.owner !== undefined) {
    if (values.owner === "") {
      throw new ArgumentError("--owner must not be empty");
    }
    input.owner = values.owner as string;
  }
  try {
    if (values.expires !== undefined) {
      input.expiresAt = parseExpiry(values.expires as string, now);
    }
    validateKeyInput(input);
  } catch (err) {
    throw new ArgumentError((err as Error).message);
  }
  return input;
}

/** A budget as the detail of its audit record (`key.set_budget`): its fields, or `cleared`. */
function budgetDetail(
  budget: Budget | null,
): Record<string, string | number | null | boolean> {
  return budget === null ? { cleared: true } : { ...budget };
}

/** The budget the options describe (`--budget-*`, `--max-parallel`); null when none of them is given. */
export function budgetInput(
  values: Record<string, string | boolean | undefined>,
): Budget | null {
  const period = values["budget-period"] as string | undefined;
  const tokens = values["budget-tokens"] as string | undefined;
  const spend = values["budget-spend"] as string | undefined;
  const parallel = values["max-parallel"] as string | undefined;
  if (tokens === undefined && spend === undefined && parallel === undefined) {
    if (period !== undefined) {
      throw new ArgumentError(
        "--budget-period needs --budget-tokens, --budget-spend or --max-parallel",
      );
    }
    return null;
  }
  const amount = spend === undefined
    ? undefined
    : /^\d+(\.\d+)?$/.test(spend.trim())
    ? Number(spend.trim())
    : NaN;
  if (Number.isNaN(amount)) {
    throw new ArgumentError(
      `--budget-spend must be an amount such as 25 or 12.50, got "${spend}"`,
    );
  }
  try {
    return validateBudget({
      period,
      tokens: tokens === undefined
        ? undefined
        : wholeNumber(tokens, "--budget-tokens"),
      spend: amount,
      maxParallel: parallel === undefined
        ? undefined
        : wholeNumber(parallel, "--max-parallel"),
    });
  } catch (err) {
    if (err instanceof ArgumentError) throw err;
    throw new ArgumentError((err as Error).message);
  }
}

function wholeNumber(value: string, flag: string): number {
  const n = /^\d+$/.test(value.trim()) ? Number(value.trim()) : NaN;
  if (!Number.isSafeInteger(n)) {
    throw new ArgumentError(`${flag} must be a whole number, got "${value}"`);
  }
  return n;
}

function create(
  db: string,
  input: CreateKeyInput,
  json: boolean,
  io: CommandIo,
  now: () => number,
): number {
  if (input.owner) {
    using accounts = openAccounts(db);
    const user = accounts.getUser(input.owner);
    if (user === null) {
      io.stderr(
        `error: No user named "${input.owner}" in ${db}: create it first (flow-proxy users create --name ${input.owner})\n`,
      );
      return EXIT.FAILURE;
    }
    input.owner = user.name;
  }
  using store = openKeyStore(db, { now });
  const { key, record } = store.create(input);
  auditCliChange(db, io.env, "key.create", record.name);
  if (record.budget) {
    auditCliChange(
      db,
      io.env,
      "key.set_budget",
      record.name,
      budgetDetail(record.budget),
    );
  }
  if (json) {
    io.stdout(
      JSON.stringify({ key, ...keyRecordJson(record, now()) }, null, 2) + "\n",
    );
    return EXIT.OK;
  }
  const details = [describeLimit(record)];
  if (record.budget) details.push(`budget: ${describeBudget(record.budget)}`);
  if (record.models) details.push(`models: ${record.models.join(", ")}`);
  details.push(
    record.expiresAt === null
      ? "never expires"
      : `expires ${formatTime(record.expiresAt)}`,
  );
  io.stdout(
    `Created client key "${record.name}" (${details.join("; ")}):\n\n` +
      `    ${key}\n\n` +
      `This is the only time the key is shown: store it now. Only its hash is kept, in ${db}.\n` +
      `Clients send it as 'Authorization: Bearer <key>' (OpenAI SDK and Codex: OPENAI_API_KEY)\n` +
      `or 'x-api-key: <key>' (Anthropic SDK and Claude Code: ANTHROPIC_API_KEY).\n` +
      `A running flow-proxy accepts it within a few seconds; from now on every request needs a key.\n`,
  );
  return EXIT.OK;
}

function list(
  db: string,
  json: boolean,
  io: CommandIo,
  now: () => number,
): number {
  // Listing must not create a database as a side effect.
  const records = exists(db) ? withStore(db, now, (store) => store.list()) : [];
  const t = now();
  if (json) {
    io.stdout(
      JSON.stringify(records.map((r) => keyRecordJson(r, t)), null, 2) + "\n",
    );
    return EXIT.OK;
  }
  if (records.length === 0) {
    io.stdout(
      `No client keys in ${db}. Create one with: flow-proxy keys create --name NAME\n`,
    );
    return EXIT.OK;
  }
  const header = [
    "NAME",
    "PREFIX",
    "STATUS",
    "CREATED",
    "EXPIRES",
    "RPM",
    "BURST",
    "MODELS",
    "BUDGET",
    "OWNER",
    "LAST USED",
  ];
  const rows = records.map((r) => [
    r.name,
    `${r.prefix}…`,
    keyStatus(r, t),
    formatTime(r.createdAt),
    r.expiresAt === null ? "never" : formatTime(r.expiresAt),
    r.rpm === null ? "default" : r.rpm === 0 ? "unlimited" : String(r.rpm),
    r.burst === null ? "=rpm" : String(r.burst),
    r.models === null ? "any" : r.models.join(","),
    describeBudget(r.budget),
    r.owner ?? "-",
    r.lastUsedAt === null ? "never" : formatTime(r.lastUsedAt),
  ]);
  io.stdout(formatTable([header, ...rows]));
  return EXIT.OK;
}

function setBudget(
  db: string,
  name: string,
  budget: Budget | null,
  json: boolean,
  io: CommandIo,
): number {
  const changed = exists(db) &&
    withStore(db, Date.now, (store) => store.setBudget(name, budget));
  if (!changed) {
    io.stderr(`error: No active key named "${name}" in ${db}\n`);
    return EXIT.FAILURE;
  }
  auditCliChange(db, io.env, "key.set_budget", name, budgetDetail(budget));
  io.stdout(
    json
      ? JSON.stringify({ name, budget: budgetJson(budget) }) + "\n"
      : budget === null
      ? `Removed the budget of key "${name}". A running flow-proxy stops enforcing it within a few seconds.\n`
      : `Set the budget of key "${name}": ${
        describeBudget(budget)
      }. A running flow-proxy enforces it within a few seconds.\n`,
  );
  return EXIT.OK;
}

/** A budget in a few words: `100000 tokens/day, 5.00 spend/day, 4 in flight`. */
export function describeBudget(budget: Budget | null | undefined): string {
  if (!budget) return "none";
  const parts: string[] = [];
  if (budget.tokens !== null) {
    parts.push(`${budget.tokens} tokens/${budget.period}`);
  }
  if (budget.spendNanos !== null) {
    parts.push(`${budget.spendNanos / 1e9} spend/${budget.period}`);
  }
  if (budget.maxParallel !== null) {
    parts.push(`${budget.maxParallel} in flight`);
  }
  return parts.join(", ");
}

function revoke(
  db: string,
  name: string,
  json: boolean,
  io: CommandIo,
): number {
  const revoked = exists(db) &&
    withStore(db, Date.now, (store) => store.revoke(name));
  if (!revoked) {
    io.stderr(`error: No active key named "${name}" in ${db}\n`);
    return EXIT.FAILURE;
  }
  auditCliChange(db, io.env, "key.revoke", name);
  io.stdout(
    json
      ? JSON.stringify({ name, revoked: true }) + "\n"
      : `Revoked key "${name}". A running flow-proxy refuses it within a few seconds.\n`,
  );
  return EXIT.OK;
}

function withStore<T>(
  db: string,
  now: () => number,
  use: (store: ReturnType<typeof openKeyStore>) => T,
): T {
  using store = openKeyStore(db, { now });
  return use(store);
}

function describeLimit(record: KeyRecord): string {
  if (record.rpm === 0) return "no rate limit";
  const rpm = record.rpm === null
    ? "the server's default rate limit"
    : `${record.rpm} requests/min`;
  return record.burst === null ? rpm : `${rpm}, burst ${record.burst}`;
}

function formatTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16).replace("T", " ") + "Z";
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

function keysArgumentError(io: CommandIo, message: string): number {
  return argumentError(
    io,
    message,
    `${USAGE}\nRun "flow-proxy keys --help" for details.\n`,
  );
}
