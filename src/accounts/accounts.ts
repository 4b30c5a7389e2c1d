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
  storedParams,
  verifyPassword,
} from "./passwords.ts";
import { parseRole, type Role } from "./permissions.ts";
import {
  DEFAULT_SESSION_POLICY,
  sessionExpiry,
  type SessionPolicy,
  SessionTable,
} from "./sessions.ts";
import { type ApiTokenRecord, ApiTokenTable } from "./api_tokens.ts";
import {
  DEFAULT_LOGIN_GUARD,
  type GuardScope,
  LoginGuard,
  type LoginGuardPolicy,
} from "./login_guard.ts";
import { type TeamRecord, type UserRecord, UserTable } from "./users.ts";
import { randomSecret } from "./secrets.ts";

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

/** The outcome of a login attempt; a refusal never says whether the user exists. */
export type LoginResult =
  | {
    ok: true;
    sessionId: string;
    csrf: string;
    user: UserRecord;
    expiresAt: number;
  }
  | { ok: false; locked: boolean; retryAfterMs: number };

/** A valid session: its user and CSRF token. */
export interface SessionAuth {
  user: UserRecord;
  csrf: string;
}

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
  #decoy: Promise<string> | null = null;

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
  }

  /** The session policy in force (the admin API sets the cookie by it). */
  get sessionPolicy(): SessionPolicy {
    return this.#policy;
  }

  /** Creates a user; the password is hashed and never kept. */
  async createUser(input: CreateUserInput, actor: Actor): Promise<UserRecord> {
    const target = typeof input.name === "string" ? input.name : null;
    const checked = await this.#refusing(
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
    return this.#change(actor, "user.create", checked.name, () => {
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
      ? await this.#refusing(
        actor,
        action,
        name,
        () => hashOf(change.password, this.#scrypt),
      )
      : null;
    return this.#change(actor, action, name, () => {
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
    return this.#change(actor, "user.delete", name, () => {
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
    return this.#change(actor, "team.create", name, () => ({
      value: this.#users.insertTeam(checkName(name, "team"), this.#now()),
    }));
  }

  /** Every team with its member count. */
  listTeams(): TeamRecord[] {
    return this.#users.teams();
  }

  /** Deletes an empty team. */
  deleteTeam(name: string, actor: Actor): TeamRecord {
    return this.#change(
      actor,
      "team.delete",
      name,
      () => ({ value: this.#users.deleteTeam(name) }),
    );
  }

  /**
   * Checks a login and starts a session. A locked user or address is refused
   * before the password is checked; an unknown user costs the same scrypt
   * work as a known one. Every attempt is audited.
   */
  async login(
    name: string,
    password: string,
    address: string,
  ): Promise<LoginResult> {
    const subject = typeof name === "string"
      ? name.toLowerCase().slice(0, 64)
      : "";
    const subjects: [GuardScope, string][] = [["user", subject], [
      "ip",
      address,
    ]];
    const actor: Actor = { name: subject || "(none)", role: null, address };
    const locked = this.#guard.lockedFor(subjects, this.#now());
    if (locked > 0) {
      this.#audit.append({
        actor,
        action: "login",
        target: subject,
        outcome: "failed",
        detail: { reason: "locked" },
      }, this.#now());
      return { ok: false, locked: true, retryAfterMs: locked };
    }
    const row = typeof name === "string" && name.length <= 64
      ? this.#users.row(name)
      : null;
    const hash = row?.passwordHash ?? await this.#decoyHash();
    const matches = typeof password === "string" &&
      await verifyPassword(password, hash);
    const now = this.#now();
    if (row === null || !matches || row.disabledAt !== null) {
      const reason = row === null
        ? "unknown_user"
        : !matches
        ? "bad_password"
        : "disabled";
      const wait = this.#guard.fail(subjects, now);
      this.#audit.append({
        actor,
        action: "login",
        target: subject,
        outcome: "failed",
        detail: { reason },
      }, now);
      return { ok: false, locked: wait > 0, retryAfterMs: wait };
    }
    if ((storedParams(row.passwordHash)?.logN ?? 0) < this.#scrypt.logN) {
      // Parameters were raised since this hash was made: upgrade it now that the password is known.
      this.#users.update(row.id, {
        hash: await hashPassword(password, this.#scrypt),
        at: row.passwordChangedAt,
      });
    }
    this.#guard.forget("user", subject);
    this.#sessions.prune(now, this.#policy);
    const { id, csrf } = this.#sessions.create(row.id, now);
    const { passwordHash: _hash, ...user } = row;
    this.#audit.append({
      actor: { ...actor, name: user.name, role: user.role },
      action: "login",
      target: user.name,
      outcome: "ok",
    }, now);
    return {
      ok: true,
      sessionId: id,
      csrf,
      user,
      expiresAt: now + this.#policy.absoluteMs,
    };
  }

  /** The user and CSRF token of a live session id (restarting its idle time), or null. */
  session(id: string): SessionAuth | null {
    if (typeof id !== "string") return null;
    const row = this.#sessions.find(id);
    if (row === null) return null;
    const now = this.#now();
    const user = this.#users.byId(row.userId);
    if (
      sessionExpiry(row, now, this.#policy) !== null || user === null ||
      user.disabledAt !== null
    ) {
      this.#sessions.delete(row.hash);
      return null;
    }
    this.#sessions.touch(row.hash, now);
    return { user, csrf: row.csrf };
  }

  /** Ends the session `id`; true if it was live. */
  logout(id: string, actor: Actor): boolean {
    const row = typeof id === "string" ? this.#sessions.find(id) : null;
    if (row === null) return false;
    this.#sessions.delete(row.hash);
    this.#audit.append({
      actor,
      action: "logout",
      target: actor.name,
      outcome: "ok",
    }, this.#now());
    return true;
  }

  /** Creates an API token for `user`; the returned token is the only copy. */
  createToken(
    user: string,
    input: { name: string; expiresAt: number | null },
    actor: Actor,
  ): { token: string; record: ApiTokenRecord } {
    return this.#change(actor, "token.create", `${user}/${input.name}`, () => {
      const owner = this.#existing(user);
      const created = this.#tokens.create(owner.id, {
        name: checkName(input.name, "token"),
        expiresAt: input.expiresAt,
      }, this.#now());
      return { value: created, detail: { prefix: created.record.prefix } };
    });
  }

  /** API tokens of `user`, or everyone's when null. */
  listTokens(user: string | null): ApiTokenRecord[] {
    if (user === null) return this.#tokens.list(null);
    const owner = this.#users.get(user);
    return owner === null ? [] : this.#tokens.list(owner.id);
  }

  /** Revokes the active token `name` of `user`. */
  revokeToken(user: string, name: string, actor: Actor): ApiTokenRecord {
    return this.#change(actor, "token.revoke", `${user}/${name}`, () => {
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
    if (typeof token !== "string") return null;
    const found = this.#tokens.verify(token, this.#now());
    if (found === null) return null;
    const user = this.#users.byId(found.userId);
    return user === null || user.disabledAt !== null ? null : user;
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

  /** Runs a check that may refuse; a refusal is audited as failed. */
  async #refusing<T>(
    actor: Actor,
    action: string,
    target: string | null,
    fn: () => T | Promise<T>,
  ): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      this.#auditFailure(actor, action, target, err);
      throw err;
    }
  }

  /** Runs `fn` and its audit record in one transaction; a refusal rolls back and is audited as failed. */
  #change<T>(
    actor: Actor,
    action: string,
    target: string | null,
    fn: () => { value: T; detail?: AuditEntry["detail"] },
  ): T {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      const { value, detail } = fn();
      this.#audit.append(
        { actor, action, target, outcome: "ok", detail },
        this.#now(),
      );
      this.#db.exec("COMMIT");
      return value;
    } catch (err) {
      rollbackAfter(this.#db, err);
      this.#auditFailure(actor, action, target, err);
      throw err;
    }
  }

  #auditFailure(
    actor: Actor,
    action: string,
    target: string | null,
    err: unknown,
  ): void {
    if (!(err instanceof AccountsError)) return;
    this.#audit.append({
      actor,
      action,
      target,
      outcome: "failed",
      detail: { reason: err.message },
    }, this.#now());
  }

  #decoyHash(): Promise<string> {
    this.#decoy ??= hashPassword(randomSecret(""), this.#scrypt);
    return this.#decoy;
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
