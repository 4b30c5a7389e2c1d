/**
 * Budgets of users and teams, kept as JSON in a `budget` column of the
 * `users` and `teams` tables. This module stores them as the caller gives
 * them: the budget rules are the access layer's (src/access/budget.ts), and
 * whoever sets a budget (the `users`/`teams` commands, the admin API)
 * checks it with `validateBudget` first.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { AccountsError } from "./names.ts";

/** Whose budget: a user's (every key they own) or a team's (every key its members own). */
export type BudgetHolder = "user" | "team";

/** The budgets that apply to a key owner: their own and their team's. */
export interface OwnerBudgets {
  /** The user's name as stored. */
  user: string;
  /** The user's budget, or null. */
  userBudget: unknown;
  /** The user's team, or null. */
  team: string | null;
  /** The team's budget, or null. */
  teamBudget: unknown;
}

/** Adds the `budget` columns to `users` and `teams` of an older file. */
export function addBudgetColumns(db: DatabaseSync): void {
  for (const table of ["users", "teams"]) {
    const have = (db.prepare(`PRAGMA table_info(${table})`).all() as {
      name: string;
    }[]).some((c) => c.name === "budget");
    if (have) continue;
    try {
      db.exec(`ALTER TABLE ${table} ADD COLUMN budget TEXT`);
    } catch (err) {
      // Another process added it a moment ago.
      if (!/duplicate column/.test((err as Error).message)) throw err;
    }
  }
}

/**
 * Sets (or with null, removes) the budget of the user or team called
 * `name`; throws {@linkcode AccountsError} when there is none. Returns the
 * name as stored.
 */
export function writeBudget(
  db: DatabaseSync,
  holder: BudgetHolder,
  name: string,
  budget: unknown,
): string {
  const table = holder === "user" ? "users" : "teams";
  const row = db.prepare(
    `SELECT name FROM ${table} WHERE name = ? COLLATE NOCASE`,
  ).get(name) as { name: string } | undefined;
  if (row === undefined) {
    throw new AccountsError("not_found", `No ${holder} named "${name}"`);
  }
  db.prepare(`UPDATE ${table} SET budget = ? WHERE name = ?`).run(
    budget === null ? null : JSON.stringify(budget),
    row.name,
  );
  return String(row.name);
}

/** The budget of the user or team called `name` (null: none); undefined when there is no such one. */
export function readBudget(
  db: DatabaseSync,
  holder: BudgetHolder,
  name: string,
): unknown {
  const table = holder === "user" ? "users" : "teams";
  const row = db.prepare(
    `SELECT budget FROM ${table} WHERE name = ? COLLATE NOCASE`,
  ).get(name) as { budget: string | null } | undefined;
  if (row === undefined) return undefined;
  return row.budget === null ? null : JSON.parse(row.budget);
}

/**
 * Every user with a budget of their own or of their team, keyed by the
 * user's name in lower case (key owners are matched without case).
 */
export function ownerBudgets(db: DatabaseSync): Map<string, OwnerBudgets> {
  const rows = db.prepare(
    `SELECT u.name AS user, u.budget AS userBudget, t.name AS team, t.budget AS teamBudget
     FROM users u LEFT JOIN teams t ON t.id = u.team_id
     WHERE u.budget IS NOT NULL OR t.budget IS NOT NULL`,
  ).all() as {
    user: string;
    userBudget: string | null;
    team: string | null;
    teamBudget: string | null;
  }[];
  const out = new Map<string, OwnerBudgets>();
  for (const row of rows) {
    out.set(String(row.user).toLowerCase(), {
      user: String(row.user),
      userBudget: row.userBudget === null ? null : JSON.parse(row.userBudget),
      team: row.team === null ? null : String(row.team),
      teamBudget: row.teamBudget === null ? null : JSON.parse(row.teamBudget),
    });
  }
  return out;
}

/** The members of every team, keyed by the team's name in lower case. */
export function teamMembers(db: DatabaseSync): Map<string, string[]> {
  const rows = db.prepare(
    `SELECT t.name AS team, u.name AS user FROM users u JOIN teams t ON t.id = u.team_id`,
  ).all() as { team: string; user: string }[];
  const out = new Map<string, string[]>();
  for (const { team, user } of rows) {
    const key = String(team).toLowerCase();
    const list = out.get(key) ?? [];
    list.push(String(user));
    out.set(key, list);
  }
  return out;
}

/**
 * A text that changes whenever a budget, a user's team or the set of users
 * changes: the store worker republishes the keys when it moves.
 */
export function budgetStamp(db: DatabaseSync): string {
  const row = db.prepare(
    `SELECT coalesce((SELECT group_concat(u.name || '=' || coalesce(u.team_id, '') || '=' || coalesce(u.budget, ''), ';') FROM users u WHERE u.budget IS NOT NULL OR u.team_id IN (SELECT id FROM teams WHERE budget IS NOT NULL)), '')
      || '|' || (SELECT coalesce(group_concat(id || '=' || budget, ';'), '') FROM teams WHERE budget IS NOT NULL) AS stamp`,
  ).get() as { stamp: string | null };
  return String(row.stamp ?? "");
}

/** A budget as an audit record's detail: its plain fields, or `cleared`. */
export function budgetDetail(
  budget: Record<string, unknown> | null,
): Record<string, string | number | boolean | null> {
  if (budget === null) return { cleared: true };
  const detail: Record<string, string | number | boolean | null> = {};
  for (const [field, value] of Object.entries(budget)) {
    if (
      value === null || ["string", "number", "boolean"].includes(typeof value)
    ) {
      detail[field] = value as string | number | boolean | null;
    }
  }
  return detail;
}
