/**
 * `flow-proxy users set-budget NAME …` and `flow-proxy teams set-budget
 * NAME …`: the budget a user's keys (or a team's members' keys) share, with
 * the same options as `keys budget`. Audited as `user.set_budget` /
 * `team.set_budget`; a running server enforces it within a few seconds.
 */
import { parseArgs } from "node:util";
import { ArgumentError, cleanParseArgsMessage } from "../config/arguments.ts";
import { openAccounts } from "../accounts/accounts.ts";
import type { BudgetHolder } from "../accounts/budgets.ts";
import type { Budget } from "../access/budget.ts";
import { budgetJson } from "../access/client_keys.ts";
import { cliActor } from "./cli_actor.ts";
import { argumentError, type CommandIo, EXIT } from "./command.ts";
import { budgetInput, databasePath, describeBudget } from "./keys.ts";

/** The usage line of `users set-budget` or `teams set-budget`. */
export function setBudgetUsage(holder: BudgetHolder): string {
  return `flow-proxy ${holder}s set-budget NAME (budget options | --clear) [--json]`;
}

/** The help lines of the budget options, shared by `users` and `teams`. */
export const SET_BUDGET_OPTIONS =
  `Budget options (set-budget; over calendar periods in serve's --budget-time-zone):
  --budget-period <p>    day, week or month (default: month)
  --budget-tokens <n>    Tokens per period (input + output, as Flow reports them)
  --budget-spend <x>     Spend per period, in the models file's currency (priced models only)
  --max-parallel <n>     Requests in flight at once
  --clear                Remove the budget
`;

const OPTIONS = {
  "db": { type: "string" },
  "json": { type: "boolean" },
  "env-file": { type: "string" },
  "help": { type: "boolean", short: "h" },
  "budget-period": { type: "string" },
  "budget-tokens": { type: "string" },
  "budget-spend": { type: "string" },
  "max-parallel": { type: "string" },
  "clear": { type: "boolean" },
} as const;

/** Runs `set-budget` of `users` or `teams` with `args` (after `set-budget`); returns the exit code. */
export function setBudgetCommand(
  holder: BudgetHolder,
  args: string[],
  io: CommandIo,
  help: string,
): number {
  const usage = `Usage: ${
    setBudgetUsage(holder)
  }\nRun "flow-proxy ${holder}s --help" for details.\n`;
  let name: string;
  let budget: Budget | null;
  let db: string;
  let json: boolean;
  try {
    let parsed;
    try {
      parsed = parseArgs({
        args,
        options: OPTIONS,
        strict: true,
        allowPositionals: true,
      });
    } catch (err) {
      throw new ArgumentError(cleanParseArgsMessage(err));
    }
    const values = parsed.values as Record<
      string,
      string | boolean | undefined
    >;
    if (values.help) {
      io.stdout(help);
      return EXIT.OK;
    }
    if (parsed.positionals.length !== 1) {
      throw new ArgumentError(
        `${holder}s set-budget takes exactly one ${holder} name`,
      );
    }
    name = parsed.positionals[0];
    const given = budgetInput(values);
    if (given !== null && values.clear) {
      throw new ArgumentError(
        `${holder}s set-budget takes budget options or --clear, not both`,
      );
    }
    if (given === null && !values.clear) {
      throw new ArgumentError(
        `${holder}s set-budget needs --budget-tokens, --budget-spend or --max-parallel (or --clear)`,
      );
    }
    budget = given;
    json = values.json === true;
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
  try {
    using accounts = openAccounts(db);
    const set = accounts.setBudget(
      holder,
      name,
      budget as Record<string, unknown> | null,
      cliActor(io.env),
    );
    io.stdout(
      json
        ? JSON.stringify({ name: set.name, budget: budgetJson(budget) }) + "\n"
        : budget === null
        ? `Removed the budget of ${holder} "${set.name}". A running flow-proxy stops enforcing it within a few seconds.\n`
        : `Set the budget of ${holder} "${set.name}": ${
          describeBudget(budget)
        }, shared by ${
          holder === "user" ? "every key they own" : "every key its members own"
        }. A running flow-proxy enforces it within a few seconds.\n`,
    );
    return EXIT.OK;
  } catch (err) {
    io.stderr(`error: ${(err as Error).message}\n`);
    return EXIT.FAILURE;
  }
}
