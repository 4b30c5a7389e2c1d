/**
 * `flow-proxy teams create|list|delete|set-budget`: the teams users belong to (`users
 * create --team`, `users set-team`). A team must be empty to be deleted.
 */
import { parseArgs } from "node:util";
import { ArgumentError, cleanParseArgsMessage } from "../config/arguments.ts";
import { openAccounts } from "../accounts/accounts.ts";
import { cliActor } from "./cli_actor.ts";
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
import {
  SET_BUDGET_OPTIONS,
  setBudgetCommand,
  setBudgetUsage,
} from "./set_budget.ts";

const USAGE = `Usage: flow-proxy teams create NAME [--json]
       flow-proxy teams list [--json]
       flow-proxy teams delete NAME [--json]
       ${setBudgetUsage("team")}`;

/** Help text of `teams`. */
export const TEAMS_HELP = `${USAGE}

Teams group users (flow-proxy users create --team NAME, users set-team).
set-budget sets (or with --clear, removes) the budget every key of the
team's members shares (see docs/budgets.md).

${SET_BUDGET_OPTIONS}
Options:
${DATABASE_OPTIONS_HELP}`;

const OPTIONS = {
  ...DATABASE_OPTIONS,
} as const;

/** Runs `teams` with `args` (after the command name); resolves to the exit code. */
export function teamsCommand(args: string[], io: CommandIo): Promise<number> {
  return settle(() => runTeams(args, io));
}

function runTeams(args: string[], io: CommandIo): number {
  const usage = `${USAGE}\nRun "flow-proxy teams --help" for details.\n`;
  const [sub, ...rest] = args;
  if (sub === "-h" || sub === "--help" || sub === "help") {
    io.stdout(TEAMS_HELP);
    return EXIT.OK;
  }
  if (sub === "set-budget") {
    return setBudgetCommand("team", rest, io, TEAMS_HELP);
  }
  if (sub !== "create" && sub !== "list" && sub !== "delete") {
    return argumentError(
      io,
      sub === undefined
        ? "No teams command given: create, list, delete or set-budget"
        : `Unknown teams command '${sub}': use create, list, delete or set-budget`,
      usage,
    );
  }
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  let db: string;
  try {
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
    values = parsed.values;
    positionals = parsed.positionals;
    if (values.help) {
      io.stdout(TEAMS_HELP);
      return EXIT.OK;
    }
    const wanted = sub === "list" ? 0 : 1;
    if (positionals.length !== wanted) {
      throw new ArgumentError(
        wanted === 0
          ? "teams list takes no arguments"
          : `teams ${sub} takes exactly one team name`,
      );
    }
    db = databasePath(
      values.db as string | undefined,
      values["env-file"] as string | undefined,
      io,
    );
  } catch (err) {
    if (err instanceof ArgumentError) {
      return argumentError(io, err.message, usage);
    }
    throw err;
  }
  const json = values.json === true;
  const actor = cliActor(io.env);
  try {
    using accounts = openAccounts(db);
    if (sub === "create") {
      const team = accounts.createTeam(positionals[0], actor);
      io.stdout(
        json
          ? JSON.stringify({ name: team.name, members: 0 }) + "\n"
          : `Created team "${team.name}".\n`,
      );
    } else if (sub === "delete") {
      const team = accounts.deleteTeam(positionals[0], actor);
      io.stdout(
        json
          ? JSON.stringify({ name: team.name, deleted: true }) + "\n"
          : `Deleted team "${team.name}".\n`,
      );
    } else {
      const teams = accounts.listTeams();
      if (json) {
        io.stdout(
          JSON.stringify(
            teams.map((t) => ({
              name: t.name,
              members: t.members,
              created_at: new Date(t.createdAt).toISOString(),
            })),
            null,
            2,
          ) + "\n",
        );
      } else if (teams.length === 0) {
        io.stdout(
          `No teams in ${db}. Create one with: flow-proxy teams create NAME\n`,
        );
      } else {
        io.stdout(
          formatTable([
            ["NAME", "MEMBERS"],
            ...teams.map((t) => [t.name, String(t.members)]),
          ], { rightAlignFrom: 1 }),
        );
      }
    }
    return EXIT.OK;
  } catch (err) {
    io.stderr(`error: ${(err as Error).message}\n`);
    return EXIT.FAILURE;
  }
}
