/**
 * `flow-proxy tokens create|list|revoke`: users' API tokens for the admin
 * API (`Authorization: Bearer fpu_…`), from the host. A new token is printed
 * once; only its hash is kept. Every change is audited as `cli:<login>`.
 */
import { parseArgs } from "node:util";
import { ArgumentError, cleanParseArgsMessage } from "../config/arguments.ts";
import { openAccounts } from "../accounts/accounts.ts";
import { parseExpiry } from "../access/client_keys.ts";
import { tokenJson } from "../admin/account_json.ts";
import {
  argumentError,
  type CommandIo,
  DATABASE_OPTIONS,
  DATABASE_OPTIONS_HELP,
  EXIT,
  formatTable,
  settle,
} from "./command.ts";
import { cliActor } from "./cli_actor.ts";
import { databasePath } from "./keys.ts";

const USAGE =
  `Usage: flow-proxy tokens create --user USER --name NAME [--expires 90d] [--json]
       flow-proxy tokens list [--user USER] [--json]
       flow-proxy tokens revoke --user USER NAME [--json]`;

/** Help text of `tokens`. */
export const TOKENS_HELP = `${USAGE}

Personal API tokens of users for the admin API, used as
'Authorization: Bearer <token>' instead of a session (no CSRF token needed).
A token acts with its user's role; it is printed once and only its hash is kept.

Options:
  --user <name>          The token's user
  --name <name>          The token's name (1 to 64 letters, digits, '.', '_', '@', '-')
  --expires <when>       A duration (90d, 12h) or a date (2026-12-31); default: never
${DATABASE_OPTIONS_HELP}`;

const OPTIONS = {
  ...DATABASE_OPTIONS,
  "user": { type: "string" },
  "name": { type: "string" },
  "expires": { type: "string" },
} as const;

/** Options of {@linkcode tokensCommand} beyond its I/O. */
export interface TokensCommandOptions {
  /** Clock, epoch ms. */
  now?: () => number;
}

/** Runs `tokens`; resolves to the exit code. */
export function tokensCommand(
  args: string[],
  io: CommandIo,
  options: TokensCommandOptions = {},
): Promise<number> {
  return settle(() => runTokens(args, io, options.now ?? Date.now));
}

interface TokensRequest {
  sub: "create" | "list" | "revoke";
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
  db: string;
}

function runTokens(args: string[], io: CommandIo, now: () => number): number {
  const usage = `${USAGE}\nRun "flow-proxy tokens --help" for details.\n`;
  if (args[0] === "-h" || args[0] === "--help" || args[0] === "help") {
    io.stdout(TOKENS_HELP);
    return EXIT.OK;
  }
  let request: TokensRequest;
  try {
    request = parseTokens(args, io);
  } catch (err) {
    if (err instanceof ArgumentError) {
      return argumentError(io, err.message, usage);
    }
    throw err;
  }
  if (request.values.help) {
    io.stdout(TOKENS_HELP);
    return EXIT.OK;
  }
  const { sub, values, positionals, db } = request;
  const json = values.json === true;
  try {
    using accounts = openAccounts(db, { now });
    const user = values.user as string | undefined;
    if (sub === "create") {
      const expiresAt = values.expires === undefined
        ? null
        : parseExpiry(values.expires as string, now());
      const { token, record } = accounts.createToken(user!, {
        name: values.name as string,
        expiresAt,
      }, cliActor(io.env));
      io.stdout(
        json
          ? JSON.stringify({ token, ...tokenJson(record, now()) }, null, 2) +
            "\n"
          : `Created API token "${record.name}" for user "${record.user}":\n\n    ${token}\n\n` +
            `This is the only time it is shown: store it now. Only its hash is kept.\n` +
            `Use it as 'Authorization: Bearer <token>' on /_flow-proxy/admin/; it acts with the user's role.\n`,
      );
    } else if (sub === "revoke") {
      const record = accounts.revokeToken(
        user!,
        positionals[0],
        cliActor(io.env),
      );
      io.stdout(
        json
          ? JSON.stringify(tokenJson(record, now())) + "\n"
          : `Revoked API token "${record.name}" of "${record.user}".\n`,
      );
    } else {
      const records = accounts.listTokens(user ?? null);
      if (json) {
        io.stdout(
          JSON.stringify(records.map((r) => tokenJson(r, now())), null, 2) +
            "\n",
        );
      } else if (records.length === 0) {
        io.stdout(
          "No API tokens. Create one with: flow-proxy tokens create --user USER --name NAME\n",
        );
      } else {
        const rows = records.map((r) => {
          const j = tokenJson(r, now());
          return [
            r.user,
            r.name,
            `${r.prefix}…`,
            String(j.status),
            String(j.created_at).slice(0, 16),
            String(j.expires_at ?? "never").slice(0, 16),
          ];
        });
        io.stdout(
          formatTable([[
            "USER",
            "NAME",
            "PREFIX",
            "STATUS",
            "CREATED",
            "EXPIRES",
          ], ...rows]),
        );
      }
    }
    return EXIT.OK;
  } catch (err) {
    io.stderr(`error: ${(err as Error).message}\n`);
    return EXIT.FAILURE;
  }
}

function parseTokens(args: string[], io: CommandIo): TokensRequest {
  const [sub, ...rest] = args;
  if (sub !== "create" && sub !== "list" && sub !== "revoke") {
    throw new ArgumentError(
      sub === undefined
        ? "No tokens command given: create, list or revoke"
        : `Unknown tokens command '${sub}': use create, list or revoke`,
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
  if (!values.help) {
    if (sub !== "list" && values.user === undefined) {
      throw new ArgumentError(`tokens ${sub} needs --user USER`);
    }
    if (sub === "create" && values.name === undefined) {
      throw new ArgumentError("tokens create needs --name NAME");
    }
    if (
      sub !== "create" &&
      (values.name !== undefined || values.expires !== undefined)
    ) {
      throw new ArgumentError(
        `tokens ${sub} does not take --${
          values.name !== undefined ? "name" : "expires"
        }`,
      );
    }
    if (typeof values.expires === "string") {
      try {
        parseExpiry(values.expires, Date.now());
      } catch (err) {
        throw new ArgumentError(`--expires: ${(err as Error).message}`);
      }
    }
    const wanted = sub === "revoke" ? 1 : 0;
    if (parsed.positionals.length !== wanted) {
      throw new ArgumentError(
        wanted === 1
          ? "tokens revoke takes exactly one token name"
          : `tokens ${sub} takes no arguments`,
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
