/**
 * Logins and what proves one later: checking a password against the login
 * guard (login_guard.ts), starting, checking and ending sessions, and
 * checking API tokens. Part of {@linkcode Accounts}, which delegates here.
 *
 * @module
 */
import type { Actor, AuditLog } from "./audit.ts";
import type { ApiTokenTable } from "./api_tokens.ts";
import type { GuardScope, LoginGuard } from "./login_guard.ts";
import {
  hashPassword,
  type ScryptParams,
  storedParams,
  verifyPassword,
} from "./passwords.ts";
import { randomSecret } from "./secrets.ts";
import {
  sessionExpiry,
  type SessionPolicy,
  type SessionTable,
} from "./sessions.ts";
import type { UserRecord, UserTable } from "./users.ts";

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

/** The tables and settings {@linkcode Logins} works on. */
export interface LoginsOptions {
  users: UserTable;
  sessions: SessionTable;
  tokens: ApiTokenTable;
  guard: LoginGuard;
  audit: AuditLog;
  now: () => number;
  scrypt: ScryptParams;
  policy: SessionPolicy;
}

/** Logins, sessions and token checks over one connection's tables. */
export class Logins {
  #users: UserTable;
  #sessions: SessionTable;
  #tokens: ApiTokenTable;
  #guard: LoginGuard;
  #audit: AuditLog;
  #now: () => number;
  #scrypt: ScryptParams;
  #policy: SessionPolicy;
  #decoy: Promise<string> | null = null;

  /** Works on the tables of `options`. */
  constructor(options: LoginsOptions) {
    this.#users = options.users;
    this.#sessions = options.sessions;
    this.#tokens = options.tokens;
    this.#guard = options.guard;
    this.#audit = options.audit;
    this.#now = options.now;
    this.#scrypt = options.scrypt;
    this.#policy = options.policy;
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

  /** The enabled user an API token belongs to, or null. */
  tokenUser(token: string): UserRecord | null {
    if (typeof token !== "string") return null;
    const found = this.#tokens.verify(token, this.#now());
    if (found === null) return null;
    const user = this.#users.byId(found.userId);
    return user === null || user.disabledAt !== null ? null : user;
  }

  #decoyHash(): Promise<string> {
    this.#decoy ??= hashPassword(randomSecret(""), this.#scrypt);
    return this.#decoy;
  }
}
