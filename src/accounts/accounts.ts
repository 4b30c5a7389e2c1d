/**
 * The accounts service: users, teams, logins, sessions, API tokens and the
 * audit trail over one SQLite connection. Run by the store worker (for the
 * admin API, by message) and by the `users`, `teams` and `audit` commands;
 * never on a serving thread. Every change is written in one transaction with
 * its audit record; a change refused for bad input is audited as `failed`
 * and changes nothing else.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import {
  openDatabase,
  rollbackAfter,
  type SqliteOpenError,
} from "../base/sqlite.ts";
import { createAccountsSchema } from "./schema.ts";
import {
  type Actor,
  type AuditEntry,
  type AuditFilter,
  AuditLog,
  type AuditRecord,
} from "./audit.ts";
import { AccountsError, checkName } from "./names.ts";
import {
  checkPasswordStrength,
  DEFAULT_SCRYPT,
  hashPassword,
  type ScryptParams,
} from "./passwords.ts";
import { parseRole, type Role } from "./permissions.ts";
import {
  DEFAULT_SESSION_POLICY,
  type SessionPolicy,
  SessionTable,
} from "./sessions.ts";
import { type ApiTokenRecord, ApiTokenTable } from "./api_tokens.ts";
import {
  DEFAULT_LOGIN_GUARD,
  LoginGuard,
  type LoginGuardPolicy,
} from "./login_guard.ts";
import { type TeamRecord, type UserRecord, UserTable } from "./users.ts";
import { type LoginResult, Logins, type SessionAuth } from "./logins.ts";
import { AuditedChanges } from "./changes.ts";
import {
  type AccountReplica,
  accountRows,
  mergeAccountRows,
} from "./replica.ts";
import {
  budgetDetail,
  type BudgetHolder,
  budgetStamp,
  type OwnerBudgets,
  ownerBudgets,
  readBudget,
  teamMembers,
  writeBudget,
} from "./budgets.ts";

/** Options of {@linkcode Accounts} and {@linkcode openAccounts}. */
export interface AccountsOptions {
  /** Clock, epoch ms; injectable for tests. */
  now?: () => number;
  /** scrypt parameters of new password hashes; default {@linkcode DEFAULT_SCRYPT}. */
  scrypt?: ScryptParams;
  /** Session lifetimes; default {@linkcode DEFAULT_SESSION_POLICY}. */
  sessions?: SessionPolicy;
  /** Lockout thresholds; default {@linkcode DEFAULT_LOGIN_GUARD}. */
  loginGuard?: LoginGuardPolicy;
}

/** A new user's fields. */
export interface CreateUserInput {
  name: string;
  role: string;
  team?: string | null;
  password: string;
}

/** One change of a user. */
export type UserChange =
  | { role: string }
  | { team: string | null }
  | { password: string }
  | { disabled: boolean };

export type { LoginResult, SessionAuth } from "./logins.ts";

/** Users, sessions, tokens and audit of one database. */
export class Accounts {
  #db: DatabaseSync;
  #now: () => number;
  #scrypt: ScryptParams;
  #policy: SessionPolicy;
  #users: UserTable;
  #sessions: SessionTable;
  #tokens: ApiTokenTable;
  #guard: LoginGuard;
  #audit: AuditLog;
  #logins: Logins;
  #changes: AuditedChanges;

  /** Use {@linkcode openAccounts}, or pass a connection whose schema exists. */
  constructor(db: DatabaseSync, options: AccountsOptions = {}) {
    this.#db = db;
    this.#now = options.now ?? Date.now;
    this.#scrypt = options.scrypt ?? DEFAULT_SCRYPT;
    this.#policy = options.sessions ?? DEFAULT_SESSION_POLICY;
    this.#users = new UserTable(db);
    this.#sessions = new SessionTable(db);
    this.#tokens = new ApiTokenTable(db);
    this.#guard = new LoginGuard(db, options.loginGuard ?? DEFAULT_LOGIN_GUARD);
    this.#audit = new AuditLog(db);
    this.#changes = new AuditedChanges(db, this.#audit, this.#now);
    this.#logins = new Logins({
      users: this.#users,
      sessions: this.#sessions,
      tokens: this.#tokens,
      guard: this.#guard,
      audit: this.#audit,
      now: this.#now,
      scrypt: this.#scrypt,
      policy: this.#policy,
    });
  }

  /** The session policy in force (the admin API sets the cookie by it). */
  get sessionPolicy(): SessionPolicy {
    return this.#policy;
  }

  /** Creates a user; the password is hashed and never kept. */
  async createUser(input: CreateUserInput, actor: Actor): Promise<UserRecord> {
    const target = typeof input.name === "string" ? input.name : null;
    const checked = await this.#changes.refusing(
      actor,
      "user.create",
      target,
      async () => {
        const name = checkName(input.name, "user");
        const role = roleOf(input.role);
        const team = input.team === undefined || input.team === null
          ? null
          : checkName(input.team, "team");
        return {
          name,
          role,
          team,
          hash: await hashOf(input.password, this.#scrypt),
        };
      },
    );
    return this.#changes.run(actor, "user.create", checked.name, () => {
      const user = this.#users.insert(checked, this.#now());
      return { value: user, detail: { role: user.role, team: user.team } };
    });
  }

  /** Every user, oldest first. */
  listUsers(): UserRecord[] {
    return this.#users.list();
  }

  /** The user called `name`, or null. */
  getUser(name: string): UserRecord | null {
    return this.#users.get(name);
  }

  /** Changes a user's role, team, password or enabled state; a new password or disabling ends their sessions. */
  async updateUser(
    name: string,
    change: UserChange,
    actor: Actor,
  ): Promise<UserRecord> {
    const action = "role" in change
      ? "user.set_role"
      : "team" in change
      ? "user.set_team"
      : "password" in change
      ? "user.reset_password"
      : change.disabled
      ? "user.disable"
      : "user.enable";
    const hash = "password" in change
      ? await this.#changes.refusing(
        actor,
        action,
        name,
        () => hashOf(change.password, this.#scrypt),
      )
      : null;
    return this.#changes.run(actor, action, name, () => {
      const user = this.#existing(name);
      const now = this.#now();
      let ended = 0;
      if ("role" in change) {
        const role = roleOf(change.role);
        if (role !== "admin") this.#keepAnAdmin(user);
        this.#users.update(user.id, { role });
      } else if ("team" in change) {
        const team = change.team === null
          ? null
          : checkName(change.team, "team");
        this.#users.update(user.id, { team });
      } else if (hash !== null) {
        this.#users.update(user.id, { hash, at: now });
        ended = this.#sessions.deleteForUser(user.id);
      } else if ("disabled" in change) {
        if (change.disabled) this.#keepAnAdmin(user);
        this.#users.update(user.id, {
          disabledAt: change.disabled ? now : null,
        });
        if (change.disabled) ended = this.#sessions.deleteForUser(user.id);
      }
      const after = this.#users.byId(user.id)!;
      const detail: Record<string, string | number | null> = {
        "sessions_ended": ended,
      };
      if ("role" in change) detail.role = after.role;
      if ("team" in change) detail.team = after.team;
      return { value: after, detail };
    });
  }

  /** Deletes a user with their sessions and API tokens (audit records stay). */
  deleteUser(name: string, actor: Actor): UserRecord {
    return this.#changes.run(actor, "user.delete", name, () => {
      const user = this.#existing(name);
      this.#keepAnAdmin(user);
      const ended = this.#sessions.deleteForUser(user.id);
      const revoked = this.#tokens.revokeAll(user.id, this.#now());
      this.#users.delete(user.id);
      return {
        value: user,
        detail: { "sessions_ended": ended, "tokens_revoked": revoked },
      };
    });
  }

  /** Creates a team. */
  createTeam(name: string, actor: Actor): TeamRecord {
    return this.#changes.run(actor, "team.create", name, () => ({
      value: this.#users.insertTeam(checkName(name, "team"), this.#now()),
    }));
  }

  /** Every team with its member count. */
  listTeams(): TeamRecord[] {
    return this.#users.teams();
  }

  /** Deletes an empty team. */
  deleteTeam(name: string, actor: Actor): TeamRecord {
    return this.#changes.run(
      actor,
      "team.delete",
      name,
      () => ({ value: this.#users.deleteTeam(name) }),
    );
  }

  /**
   * Sets (or with null, removes) the budget of a user or a team, audited as
   * `user.set_budget` / `team.set_budget` with the budget as detail. The
   * budget comes checked (src/access/budget.ts `validateBudget`).
   */
  setBudget(
    holder: BudgetHolder,
    name: string,
    budget: Record<string, unknown> | null,
    actor: Actor,
  ): { name: string; budget: Record<string, unknown> | null } {
    return this.#changes.run(actor, `${holder}.set_budget`, name, () => {
      const stored = writeBudget(this.#db, holder, name, budget);
      return {
        value: { name: stored, budget },
        detail: budgetDetail(budget),
      };
    });
  }

  /** The budget of a user or team (null: none); undefined when there is no such one. */
  budgetOf(holder: BudgetHolder, name: string): unknown {
    return readBudget(this.#db, holder, name);
  }

  /** Users with a budget of their own or their team's, by lower-case name; and every team's members. */
  ownerBudgets(): {
    owners: Map<string, OwnerBudgets>;
    members: Map<string, string[]>;
  } {
    return { owners: ownerBudgets(this.#db), members: teamMembers(this.#db) };
  }

  /** Moves whenever a user or team budget (or a budgeted team's membership) changes. */
  budgetStamp(): string {
    return budgetStamp(this.#db);
  }

  /**
   * Checks a login and starts a session (see {@linkcode Logins.login}).
   */
  login(name: string, password: string, address: string): Promise<LoginResult> {
    return this.#logins.login(name, password, address);
  }

  /** The user and CSRF token of a live session id (restarting its idle time), or null. */
  session(id: string): SessionAuth | null {
    return this.#logins.session(id);
  }

  /** Ends the session `id`; true if it was live. */
  logout(id: string, actor: Actor): boolean {
    return this.#logins.logout(id, actor);
  }

  /** Every team, user, session and token row as instances exchange them (replica.ts). */
  replicaRows(): [string, string][] {
    return accountRows(this.#db);
  }

  /** Applies other instances' rows in one transaction; the fields applied (replica.ts). */
  mergeReplicas(rows: readonly AccountReplica[]): string[] {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      const applied = mergeAccountRows(this.#db, rows, this.#now());
      this.#db.exec("COMMIT");
      return applied;
    } catch (err) {
      throw rollbackAfter(this.#db, err);
    }
  }

  /** Creates an API token for `user`; the returned token is the only copy. */
  createToken(
    user: string,
    input: { name: string; expiresAt: number | null },
    actor: Actor,
  ): { token: string; record: ApiTokenRecord } {
    return this.#changes.run(
      actor,
      "token.create",
      `${user}/${input.name}`,
      () => {
        const owner = this.#existing(user);
        const created = this.#tokens.create(owner.id, {
          name: checkName(input.name, "token"),
          expiresAt: input.expiresAt,
        }, this.#now());
        return { value: created, detail: { prefix: created.record.prefix } };
      },
    );
  }

  /** API tokens of `user`, or everyone's when null. */
  listTokens(user: string | null): ApiTokenRecord[] {
    if (user === null) return this.#tokens.list(null);
    const owner = this.#users.get(user);
    return owner === null ? [] : this.#tokens.list(owner.id);
  }

  /** Revokes the active token `name` of `user`. */
  revokeToken(user: string, name: string, actor: Actor): ApiTokenRecord {
    return this.#changes.run(actor, "token.revoke", `${user}/${name}`, () => {
      const owner = this.#users.get(user);
      const record = owner === null
        ? null
        : this.#tokens.revoke(owner.id, name, this.#now());
      if (record === null) {
        throw new AccountsError("not_found", `No active token named "${name}"`);
      }
      return { value: record };
    });
  }

  /** The enabled user an API token belongs to, or null. */
  tokenUser(token: string): UserRecord | null {
    return this.#logins.tokenUser(token);
  }

  /** Appends an audit record (key changes and admin-token uses, reported by the admin API). */
  audit(entry: AuditEntry): void {
    this.#audit.append(entry, this.#now());
  }

  /** Audit records, newest first. */
  listAudit(filter: AuditFilter = {}): AuditRecord[] {
    return this.#audit.list(filter);
  }

  /** Closes the connection. */
  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }

  /** Same as {@linkcode close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  #existing(name: string): UserRecord {
    const user = typeof name === "string" ? this.#users.get(name) : null;
    if (user === null) {
      throw new AccountsError("not_found", `No user named "${name}"`);
    }
    return user;
  }

  #keepAnAdmin(user: UserRecord): void {
    if (
      user.role === "admin" && user.disabledAt === null &&
      this.#users.activeAdmins() <= 1
    ) {
      throw new AccountsError(
        "bad_request",
        `"${user.name}" is the last enabled admin: make another user admin first`,
      );
    }
  }
}

function roleOf(text: string): Role {
  try {
    return parseRole(text);
  } catch (err) {
    throw new AccountsError("bad_request", (err as Error).message);
  }
}

async function hashOf(
  password: unknown,
  params: ScryptParams,
): Promise<string> {
  if (typeof password !== "string") {
    throw new AccountsError("bad_request", "A password is required");
  }
  try {
    checkPasswordStrength(password);
  } catch (err) {
    throw new AccountsError("bad_request", (err as Error).message);
  }
  return await hashPassword(password, params);
}

/** How long an accounts statement waits for another connection's lock. */
const ACCOUNTS_BUSY_TIMEOUT_MS = 5000;

/** Opens (creating if needed) the accounts tables of the database at `path`. */
export function openAccounts(
  path: string,
  options: AccountsOptions = {},
): Accounts {
  let db: DatabaseSync;
  try {
    db = openDatabase(path, { busyTimeoutMs: ACCOUNTS_BUSY_TIMEOUT_MS });
  } catch (err) {
    const { message, cause } = err as SqliteOpenError;
    throw new Error(`Cannot open accounts database "${path}": ${message}`, {
      cause,
    });
  }
  try {
    createAccountsSchema(db);
    return new Accounts(db, options);
  } catch (err) {
    db.close();
    throw new Error(
      `Cannot use accounts database "${path}": ${(err as Error).message}`,
      { cause: err },
    );
  }
}
