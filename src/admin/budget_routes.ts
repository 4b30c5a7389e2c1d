/**
 * The budget routes of the admin API:
 *
 * ```
 * PUT keys/<name>/budget   {"budget": {period?, tokens?, spend?, max_parallel?} | null}   budgets.write
 * PUT users/<name>/budget  the same body                                                   users.write
 * PUT teams/<name>/budget  the same body                                                   teams.write
 * ```
 * An operator may set any key's budget; a user's or a team's is the
 * admin's; a member sets none (budgets are set for it, not by it). `null`
 * removes the budget. Every change is audited as `key.set_budget`,
 * `user.set_budget` or `team.set_budget` with the new budget.
 *
 * @module
 */
import { type Budget, validateBudget } from "../access/budget.ts";
import {
  budgetJson,
  type KeyRecord,
  keyStatus,
} from "../access/client_keys.ts";
import type { AccountsClient } from "../accounts/calls.ts";
import type { Action } from "../accounts/permissions.ts";
import { authorize, type Denial } from "./authorize.ts";
import {
  answer,
  fail,
  json,
  methodNotAllowed,
  pathName,
  readJsonObject,
  unknownField,
} from "./http.ts";
import { actorOf } from "./principal.ts";

/** The paths {@linkcode serveBudgetRoute} serves. */
export const BUDGET_ROUTE = /^(keys|users|teams)\/[^/]+\/budget$/;

/** The key operations a budget route needs (key_routes.ts `AdminKeys`). */
export interface BudgetKeys {
  list(): KeyRecord[] | Promise<KeyRecord[]>;
  /** Sets (null: removes) the budget of the active key `name`; false when there is none. */
  setBudget(name: string, budget: Budget | null): boolean | Promise<boolean>;
}

/** What a budget route is given. */
export interface BudgetRoute extends Denial {
  /** Client keys; null without a database. */
  keys: BudgetKeys | null;
  /** Users and teams; null without accounts. */
  users: AccountsClient | null;
  now: number;
  /** Called after a key's budget changed. */
  onKeysChanged?: () => void;
}

const NEEDS: Record<string, Action> = {
  keys: "budgets.write",
  users: "users.write",
  teams: "teams.write",
};

/** Serves `PUT <keys|users|teams>/<name>/budget`. */
export async function serveBudgetRoute(r: BudgetRoute): Promise<Response> {
  const [head] = r.rest.split("/");
  if (r.req.method !== "PUT") return methodNotAllowed("PUT");
  const scope = await authorize(r, NEEDS[head]);
  if (scope instanceof Response) return scope;
  const name = pathName(r.rest.slice(0, -"/budget".length), `${head}/`);
  if (name === null) return fail("bad_request", "Malformed name in the path");
  const body = await readJsonObject(r.req);
  if (typeof body === "string") return fail("bad_request", body);
  const bad = unknownField(body, ["budget"]);
  if (bad !== null) return fail("bad_request", bad);
  let budget: Budget | null;
  try {
    budget = parseBudgetJson(body.budget);
  } catch (err) {
    return fail("bad_request", (err as Error).message);
  }
  if (head === "keys") return await keyBudget(r, name, budget);
  if (r.users === null) {
    return fail(
      "not_found",
      "User and team budgets need the database, and this server runs without one",
    );
  }
  return answer(
    await r.users({
      call: "budgets.set",
      holder: head === "users" ? "user" : "team",
      name,
      budget: budget as Record<string, unknown> | null,
      actor: actorOf(r.principal, r.address),
    }),
    (set) => ({ name: set.name, budget: budgetJson(budget) }),
  );
}

/**
 * A budget as the admin API takes it (`spend` in currency units,
 * `max_parallel`), checked; null removes it. Throws naming what is wrong.
 */
export function parseBudgetJson(value: unknown): Budget | null {
  if (value === null) return null;
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new TypeError(
      `"budget" must be an object {period?, tokens?, spend?, max_parallel?} or null`,
    );
  }
  const fields = value as Record<string, unknown>;
  const bad = unknownField(fields, [
    "period",
    "tokens",
    "spend",
    "max_parallel",
  ]);
  if (bad !== null) throw new TypeError(`${bad} in "budget"`);
  return validateBudget({
    period: fields.period,
    tokens: fields.tokens,
    spend: fields.spend,
    maxParallel: fields.max_parallel,
  });
}

async function keyBudget(
  r: BudgetRoute,
  name: string,
  budget: Budget | null,
): Promise<Response> {
  if (r.keys === null) {
    return fail(
      "not_found",
      "Client keys need the database, and this server runs without one (--no-db)",
    );
  }
  const active = (await r.keys.list()).find((k) =>
    k.name === name && keyStatus(k, r.now) !== "revoked"
  );
  if (active === undefined || !(await r.keys.setBudget(name, budget))) {
    return fail("not_found", `No active key named "${name}"`);
  }
  r.onKeysChanged?.();
  await auditBudget(r, "key.set_budget", name, budget);
  return json(200, { name, budget: budgetJson(budget) });
}

/** Appends the audit record of a key's budget change (`detail`: the budget's fields, or `cleared`). */
export async function auditBudget(
  r: Denial,
  action: string,
  target: string,
  budget: Budget | null,
): Promise<void> {
  await r.accounts({
    call: "audit.append",
    entry: {
      actor: actorOf(r.principal, r.address),
      action,
      target,
      outcome: "ok",
      detail: budget === null ? { cleared: true } : { ...budget },
    },
  });
}
