/**
 * `flow-proxy users create|list|set-role|set-team|reset-password|disable|enable|delete|set-budget`
 * and `flow-proxy teams create|list|delete|set-budget`: the accounts of the database
 * that `serve` uses. A running server sees every change at once (the store
 * worker reads the same tables). Every change is audited with the actor
 * `cli:<login name>`. Exit 0 on success, 1 on failure, 2 on a usage error.
 */
import { parseArgs } from "node:util";
import { ArgumentError, cleanParseArgsMessage } from "../config/arguments.ts";
import { type Accounts, openAccounts } from "../accounts/accounts.ts";
import { AccountsError } from "../accounts/names.ts";
import type { ScryptParams } from "../accounts/passwords.ts";
import { ROLES } from "../accounts/permissions.ts";
import type { UserRecord } from "../accounts/users.ts";
import { userJson } from "../admin/account_json.ts";
import type { AccountsCall } from "../accounts/calls.ts";
import { revokeOwnedKeys } from "../accounts/owned_keys.ts";
import { openKeyStore } from "../access/key_store.ts";
import { cliActor } from "./cli_actor.ts";
import {
  argumentError,
  type CommandIo,
  DATABASE_OPTIONS,
  EXIT,
  formatTable,
} from "./command.ts";
import { databasePath } from "./keys.ts";
import {
  SET_BUDGET_OPTIONS,
  setBudgetCommand,
  setBudgetUsage,
} from "./set_budget.ts";
import {
  hasPasswordFlag,
  PASSWORD_FLAG_REFUSED,
  type PasswordSource,
  readNewPassword,
  TERMINAL,
} from "./password_input.ts";

/** Options of {@linkcode usersCommand} and {@linkcode teamsCommand} beyond their I/O. */
export interface UsersCommandOptions {
  /** Where passwords come from; default the terminal and standard input. */
  passwords?: PasswordSource;
  /** scrypt parameters of new hashes (tests make them cheap). */
  scrypt?: ScryptParams;
  /** Clock, epoch ms. */
  now?: () => number;
}

const USAGE =
  `Usage: flow-proxy users create --name NAME --role ROLE [--team TEAM] [--password-stdin]
       flow-proxy users list [--json]
       flow-proxy users set-role NAME ROLE
       flow-proxy users set-team NAME [TEAM]
       flow-proxy users reset-password NAME [--password-stdin]
       flow-proxy users disable|enable|delete NAME
       ${setBudgetUsage("user")}`;

/** Help text of `users`. */
export const USERS_HELP = `${USAGE}

Manage who may use the admin API (and, later, the dashboard). Roles: ${
  ROLES.join(", ")
}
(the matrix is in docs/security.md). A password is asked at a prompt that shows
nothing, or read from standard input with --password-stdin; never from a flag.
Passwords have at least 12 characters. Resetting a password or disabling or
deleting a user ends all of their sessions.

Commands:
  create           Create a user (--name, --role; --team to put it in a team)
  list             List users: name, role, team, status, created
  set-role         Give NAME the role ROLE
  set-team         Put NAME in TEAM, or in no team without TEAM
  reset-password   Set a new password for NAME
  disable, enable  Stop or allow NAME's logins (disabling ends their sessions
                   and revokes the client keys they own, for good)
  delete           Delete NAME with their sessions, API tokens and owned keys
  set-budget       Set (or with --clear, remove) the budget every key NAME owns
                   shares (see docs/budgets.md)

${SET_BUDGET_OPTIONS}
Options:
  --db <path>            Database [env: FLOW_PROXY_DB]
                         default: $STATE_DIRECTORY/flow-proxy.db if set, else flow-proxy.db
  --password-stdin       Read the password from standard input (one line)
  --json                 Print JSON
  --env-file <path>      Read variables from this file (default: .env if present)
  -h, --help             Show this help
`;

const OPTIONS = {
  ...DATABASE_OPTIONS,
  "name": { type: "string" },
  "role": { type: "string" },
  "team": { type: "string" },
  "password-stdin": { type: "boolean" },
} as const;

/** How many positionals each subcommand takes, and which flags it accepts beyond the common ones. */
const SUBCOMMANDS: Record<
  string,
  { positionals: [number, number]; flags: string[] }
> = {
  "create": {
    positionals: [0, 0],
    flags: ["name", "role", "team", "password-stdin"],
  },
  "list": { positionals: [0, 0], flags: [] },
  "set-role": { positionals: [2, 2], flags: [] },
  "set-team": { positionals: [1, 2], flags: [] },
  "reset-password": { positionals: [1, 1], flags: ["password-stdin"] },
  "disable": { positionals: [1, 1], flags: [] },
  "enable": { positionals: [1, 1], flags: [] },
  "delete": { positionals: [1, 1], flags: [] },
};

interface Parsed {
  sub: string;
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
  db: string;
}

/** Runs `users` with `args` (after the command name); resolves to the exit code. */
export async function usersCommand(
  args: string[],
  io: CommandIo,
  options: UsersCommandOptions = {},
): Promise<number> {
  const usage = `${USAGE}\nRun "flow-proxy users --help" for details.\n`;
  if (hasPasswordFlag(args)) {
    return argumentError(io, PASSWORD_FLAG_REFUSED, usage);
  }
  const [sub, ...rest] = args;
  if (sub === undefined) {
    return argumentError(
      io,
      `No users command given: ${
        [...Object.keys(SUBCOMMANDS), "set-budget"].join(", ")
      }`,
      usage,
    );
  }
  if (sub === "-h" || sub === "--help" || sub === "help") {
    io.stdout(USERS_HELP);
    return EXIT.OK;
  }
  if (sub === "set-budget") {
    return setBudgetCommand("user", rest, io, USERS_HELP);
  }
  let parsed: Parsed;
  try {
    parsed = parseUsers(sub, rest, io);
  } catch (err) {
    if (err instanceof ArgumentError) {
      return argumentError(io, err.message, usage);
    }
    throw err;
  }
  if (parsed.values.help) {
    io.stdout(USERS_HELP);
    return EXIT.OK;
  }
  try {
    using accounts = openAccounts(parsed.db, {
      scrypt: options.scrypt,
      now: options.now,
    });
    return await runUsers(accounts, parsed, io, options.passwords ?? TERMINAL);
  } catch (err) {
    io.stderr(`error: ${(err as Error).message}\n`);
    return EXIT.FAILURE;
  }
}

function parseUsers(sub: string, rest: string[], io: CommandIo): Parsed {
  const spec = SUBCOMMANDS[sub];
  if (spec === undefined || !Object.hasOwn(SUBCOMMANDS, sub)) {
    throw new ArgumentError(
      `Unknown users command '${sub}': use ${
        Object.keys(SUBCOMMANDS).join(", ")
      }`,
    );
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      options: OPTIONS,
      strict: true,
      allowPositionals: true,
    });
  } catch (err) {
    throw new ArgumentError(cleanParseArgsMessage(err));
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  for (const flag of ["name", "role", "team", "password-stdin"]) {
    if (values[flag] !== undefined && !spec.flags.includes(flag)) {
      throw new ArgumentError(`users ${sub} does not take --${flag}`);
    }
  }
  const [min, max] = spec.positionals;
  const n = parsed.positionals.length;
  if (!values.help && (n < min || n > max)) {
    throw new ArgumentError(
      min === max && min === 0
        ? `users ${sub} takes no arguments, got '${parsed.positionals[0]}'`
        : `users ${sub} takes ${
          min === max ? min : `${min} or ${max}`
        } argument(s): ${
          USAGE.split("\n").find((l) => l.includes(` ${sub} `))?.trim() ?? ""
        }`,
    );
  }
  if (sub === "create" && !values.help) {
    if (values.name === undefined) {
      throw new ArgumentError("users create needs --name NAME");
    }
    if (values.role === undefined) {
      throw new ArgumentError(
        `users create needs --role ROLE (${ROLES.join(", ")})`,
      );
    }
  }
  const db = databasePath(
    values.db as string | undefined,
    values["env-file"] as string | undefined,
    io,
  );
  return { sub, values, positionals: parsed.positionals, db };
}

async function runUsers(
  accounts: Accounts,
  p: Parsed,
  io: CommandIo,
  passwords: PasswordSource,
): Promise<number> {
  const actor = cliActor(io.env);
  const json = p.values.json === true;
  const [name, second] = p.positionals;
  const fromStdin = p.values["password-stdin"] === true;
  try {
    switch (p.sub) {
      case "create": {
        const user = p.values.name as string;
        const password = await readNewPassword(passwords, { fromStdin, user });
        const created = await accounts.createUser(
          {
            name: user,
            role: p.values.role as string,
            team: (p.values.team as string | undefined) ?? null,
            password,
          },
          actor,
        );
        return done(io, json, created, createdMessage(created, io));
      }
      case "list":
        return list(accounts.listUsers(), json, io, p.db);
      case "set-role": {
        const user = await accounts.updateUser(name, { role: second }, actor);
        return done(
          io,
          json,
          user,
          `User "${user.name}" now has the role ${user.role}.\n`,
        );
      }
      case "set-team": {
        const user = await accounts.updateUser(
          name,
          { team: second ?? null },
          actor,
        );
        return done(
          io,
          json,
          user,
          user.team === null
            ? `User "${user.name}" is in no team now.\n`
            : `User "${user.name}" is in team "${user.team}" now.\n`,
        );
      }
      case "reset-password": {
        if (accounts.getUser(name) === null) {
          throw new AccountsError("not_found", `No user named "${name}"`);
        }
        const password = await readNewPassword(passwords, {
          fromStdin,
          user: name,
        });
        const user = await accounts.updateUser(name, { password }, actor);
        return done(
          io,
          json,
          user,
          `Password of "${user.name}" changed; their sessions were ended.\n`,
        );
      }
      case "enable": {
        const user = await accounts.updateUser(
          name,
          { disabled: false },
          actor,
        );
        return done(io, json, user, `User "${user.name}" enabled.\n`);
      }
      case "disable": {
        const change = { disabled: true };
        const user = await accounts.updateUser(name, change, actor);
        const call = { call: "users.update", name, change, actor } as const;
        const keys = revokeKeysOf(p.db, call, accounts);
        return done(
          io,
          json,
          user,
          `User "${user.name}" disabled; their sessions were ended${keys}.\n`,
        );
      }
      default: {
        const user = accounts.deleteUser(name, actor);
        const call = { call: "users.delete", name, actor } as const;
        const keys = revokeKeysOf(p.db, call, accounts);
        return done(
          io,
          json,
          user,
          `User "${user.name}" deleted, with their sessions and API tokens${keys}.\n`,
        );
      }
    }
  } catch (err) {
    io.stderr(`error: ${(err as Error).message}\n`);
    return EXIT.FAILURE;
  }
}

/** Revokes the client keys a deleted or disabled user owned; the words to add to the message. */
function revokeKeysOf(
  db: string,
  call: AccountsCall,
  accounts: Accounts,
): string {
  using keys = openKeyStore(db);
  const n = revokeOwnedKeys(call, { ok: true, value: null }, keys, accounts);
  return n === 0 ? "" : `; ${n} client key(s) they owned were revoked`;
}

function done(
  io: CommandIo,
  json: boolean,
  user: UserRecord,
  text: string,
): number {
  io.stdout(json ? JSON.stringify(userJson(user), null, 2) + "\n" : text);
  return EXIT.OK;
}

function createdMessage(user: UserRecord, io: CommandIo): string {
  const host = io.env.FLOW_PROXY_HOST ?? "127.0.0.1";
  const port = io.env.FLOW_PROXY_PORT ?? "8899";
  const base = `http://${
    host.includes(":") ? `[${host}]` : host
  }:${port}/_flow-proxy/admin`;
  return `Created user "${user.name}" (role ${user.role}${
    user.team ? `, team ${user.team}` : ""
  }).\n\n` +
    `Log in (the password is read from the prompt, not typed on the command line):\n\n` +
    `    read -rs PW && printf '{"name":"${user.name}","password":"%s"}' "$PW" |\n` +
    `      curl -s -c cookies.txt -H 'content-type: application/json' --data-binary @- ${base}/login\n\n` +
    `The answer holds a csrf_token: send it as 'x-csrf-token' with every POST, PATCH or DELETE\n` +
    `under the session (curl -b cookies.txt …). For scripts, create an API token instead:\n` +
    `POST ${base}/tokens {"name":"ci"}. See docs/accounts.md.\n`;
}

function list(
  users: UserRecord[],
  json: boolean,
  io: CommandIo,
  db: string,
): number {
  if (json) {
    io.stdout(JSON.stringify(users.map(userJson), null, 2) + "\n");
    return EXIT.OK;
  }
  if (users.length === 0) {
    io.stdout(
      `No users in ${db}. Create the first admin with: flow-proxy users create --name admin --role admin\n`,
    );
    return EXIT.OK;
  }
  const time = (t: number) =>
    new Date(t).toISOString().slice(0, 16).replace("T", " ") + "Z";
  const rows = users.map((
    u,
  ) => [
    u.name,
    u.role,
    u.team ?? "-",
    u.disabledAt === null ? "active" : "disabled",
    time(u.createdAt),
  ]);
  io.stdout(
    formatTable([["NAME", "ROLE", "TEAM", "STATUS", "CREATED"], ...rows]),
  );
  return EXIT.OK;
}
