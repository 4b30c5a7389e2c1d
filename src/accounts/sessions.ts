/**
 * Login sessions: a random id (256 bits) that only the client holds, stored
 * as its SHA-256; a CSRF token per session that every mutating request under
 * the session must echo in `x-csrf-token`; an idle and an absolute expiry.
 * The cookie is `HttpOnly; SameSite=Strict; Path=/_flow-proxy/`, plus
 * `Secure` when {@linkcode SessionPolicy.secureCookie} is on.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { randomSecret, secretHash } from "./secrets.ts";

/** Name of the session cookie. */
export const SESSION_COOKIE = "flow_proxy_session";
/** Header that carries the CSRF token on a mutating request under a session. */
export const CSRF_HEADER = "x-csrf-token";
/** Prefix of session ids. */
export const SESSION_PREFIX = "fps_";

/** How long sessions live and how their cookie is set. */
export interface SessionPolicy {
  /** A session not used for this long ends, ms. */
  idleMs: number;
  /** A session ends this long after login whatever its use, ms. */
  absoluteMs: number;
  /** Add `Secure` to the cookie (turn on behind TLS). */
  secureCookie: boolean;
}

/** Defaults: 30 minutes idle, 12 hours at most, no `Secure` (plain HTTP). */
export const DEFAULT_SESSION_POLICY: Readonly<SessionPolicy> = {
  idleMs: 30 * 60_000,
  absoluteMs: 12 * 3_600_000,
  secureCookie: false,
};

/**
 * The policy of `serve`'s settings (`--session-idle`, `--session-max-age`,
 * `--secure-cookies`): the cookie is `Secure` when asked, and always when
 * flow-proxy serves HTTPS itself (`--tls-cert`).
 */
export function sessionPolicyFrom(settings: {
  sessionIdle: number;
  sessionMaxAge: number;
  secureCookies: boolean;
  tlsCert?: string | null;
}): SessionPolicy {
  return {
    idleMs: settings.sessionIdle,
    absoluteMs: settings.sessionMaxAge,
    secureCookie: settings.secureCookies ||
      (settings.tlsCert !== undefined && settings.tlsCert !== null),
  };
}

/** A session as stored: never its id. */
export interface SessionRow {
  hash: string;
  userId: number;
  csrf: string;
  createdAt: number;
  lastSeenAt: number;
}

/** The `Set-Cookie` value that starts a session with id `id`. */
export function sessionCookie(id: string, policy: SessionPolicy): string {
  const maxAge = Math.floor(policy.absoluteMs / 1000);
  return `${SESSION_COOKIE}=${id}; Path=/_flow-proxy/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${
    policy.secureCookie ? "; Secure" : ""
  }`;
}

/** The `Set-Cookie` value that ends the session in the browser. */
export function clearedSessionCookie(policy: SessionPolicy): string {
  return `${SESSION_COOKIE}=; Path=/_flow-proxy/; HttpOnly; SameSite=Strict; Max-Age=0${
    policy.secureCookie ? "; Secure" : ""
  }`;
}

/** The session id of a `Cookie` header, or null. */
export function sessionIdFromCookie(header: string | null): string | null {
  if (header === null) return null;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq === -1) continue;
    if (part.slice(0, eq).trim() !== SESSION_COOKIE) continue;
    const value = part.slice(eq + 1).trim();
    return value.startsWith(SESSION_PREFIX) ? value : null;
  }
  return null;
}

/** Why a stored session is no longer valid at `now`, or null while it is. */
export function sessionExpiry(
  row: Pick<SessionRow, "createdAt" | "lastSeenAt">,
  now: number,
  policy: SessionPolicy,
): "idle" | "absolute" | null {
  if (now - row.createdAt >= policy.absoluteMs) return "absolute";
  if (now - row.lastSeenAt >= policy.idleMs) return "idle";
  return null;
}

/** The `sessions` table of one connection. */
export class SessionTable {
  #db: DatabaseSync;

  /** Rows of `db`, whose accounts schema exists. */
  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /** Starts a session for `userId`; returns its id (the only copy) and CSRF token. */
  create(userId: number, now: number): { id: string; csrf: string } {
    const id = randomSecret(SESSION_PREFIX);
    const csrf = randomSecret("");
    this.#db.prepare(
      "INSERT INTO sessions (hash, user_id, csrf, created_at, last_seen_at) VALUES (?, ?, ?, ?, ?)",
    ).run(secretHash(id), userId, csrf, now, now);
    return { id, csrf };
  }

  /** The session whose id is `id`, or null. */
  find(id: string): SessionRow | null {
    const row = this.#db.prepare(
      `SELECT hash, user_id AS userId, csrf, created_at AS createdAt, last_seen_at AS lastSeenAt
       FROM sessions WHERE hash = ?`,
    ).get(secretHash(id));
    if (row === undefined) return null;
    return {
      hash: String(row.hash),
      userId: Number(row.userId),
      csrf: String(row.csrf),
      createdAt: Number(row.createdAt),
      lastSeenAt: Number(row.lastSeenAt),
    };
  }

  /** Marks a session used at `now` (restarts its idle time). */
  touch(hash: string, now: number): void {
    this.#db.prepare("UPDATE sessions SET last_seen_at = ? WHERE hash = ?").run(
      now,
      hash,
    );
  }

  /** Ends one session; true if it existed. */
  delete(hash: string): boolean {
    return Number(
      this.#db.prepare("DELETE FROM sessions WHERE hash = ?").run(hash).changes,
    ) > 0;
  }

  /** Ends every session of `userId`; returns how many there were. */
  deleteForUser(userId: number): number {
    return Number(
      this.#db.prepare("DELETE FROM sessions WHERE user_id = ?").run(userId)
        .changes,
    );
  }

  /** Removes sessions that expired before `now` (housekeeping). */
  prune(now: number, policy: SessionPolicy): void {
    this.#db.prepare(
      "DELETE FROM sessions WHERE created_at <= ? OR last_seen_at <= ?",
    ).run(now - policy.absoluteMs, now - policy.idleMs);
  }
}
