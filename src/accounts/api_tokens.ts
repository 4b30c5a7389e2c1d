/**
 * Per-user API tokens for the admin API (`Authorization: Bearer fpu_…`), the
 * scriptable alternative to a session and to the shared admin token. A token
 * is shown once when created; only its SHA-256 and a short display prefix
 * are stored.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { randomSecret, secretHash } from "./secrets.ts";
import { AccountsError } from "./names.ts";

/** Prefix of API tokens (client keys are `fpk_`, session ids `fps_`). */
export const API_TOKEN_PREFIX = "fpu_";
/** Characters after the prefix kept for display. */
const DISPLAY_CHARS = 6;
/** SQLite's extended code for a UNIQUE constraint violation. */
const SQLITE_CONSTRAINT_UNIQUE = 2067;

/** An API token as every API shows it: never the token. */
export interface ApiTokenRecord {
  id: number;
  /** The owner's user name. */
  user: string;
  name: string;
  prefix: string;
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
  lastUsedAt: number | null;
}

const COLUMNS =
  `a.id, u.name AS user, a.name, a.prefix, a.created_at AS createdAt,
  a.expires_at AS expiresAt, a.revoked_at AS revokedAt, a.last_used_at AS lastUsedAt`;
const FROM = "api_tokens a JOIN users u ON u.id = a.user_id";

/** The `api_tokens` table of one connection. */
export class ApiTokenTable {
  #db: DatabaseSync;

  /** Rows of `db`, whose accounts schema exists. */
  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /** Creates a token for `userId`; the returned `token` is the only copy. */
  create(
    userId: number,
    input: { name: string; expiresAt: number | null },
    now: number,
  ): { token: string; record: ApiTokenRecord } {
    const token = randomSecret(API_TOKEN_PREFIX);
    let id: number;
    try {
      id = Number(
        this.#db.prepare(
          `INSERT INTO api_tokens (user_id, name, prefix, hash, created_at, expires_at)
           VALUES (?, ?, ?, ?, ?, ?)`,
        ).run(
          userId,
          input.name,
          token.slice(0, API_TOKEN_PREFIX.length + DISPLAY_CHARS),
          secretHash(token),
          now,
          input.expiresAt,
        ).lastInsertRowid,
      );
    } catch (err) {
      if ((err as { errcode?: number }).errcode === SQLITE_CONSTRAINT_UNIQUE) {
        throw new AccountsError(
          "bad_request",
          `An active token named "${input.name}" already exists: revoke it first or choose another name`,
        );
      }
      throw err;
    }
    return { token, record: this.#byId(id)! };
  }

  /** Tokens of `userId`, or of everyone when null; oldest first. */
  list(userId: number | null): ApiTokenRecord[] {
    const rows = userId === null
      ? this.#db.prepare(`SELECT ${COLUMNS} FROM ${FROM} ORDER BY a.id`).all()
      : this.#db.prepare(
        `SELECT ${COLUMNS} FROM ${FROM} WHERE a.user_id = ? ORDER BY a.id`,
      ).all(userId);
    return rows.map(toRecord);
  }

  /** The owner of an active, unexpired `token`, and the token's id; null otherwise. */
  verify(token: string, now: number): { userId: number; id: number } | null {
    const row = this.#db.prepare(
      `SELECT id, user_id AS userId, expires_at AS expiresAt FROM api_tokens
       WHERE hash = ? AND revoked_at IS NULL`,
    ).get(secretHash(token));
    if (row === undefined) return null;
    if (row.expiresAt !== null && Number(row.expiresAt) <= now) return null;
    this.#db.prepare("UPDATE api_tokens SET last_used_at = ? WHERE id = ?").run(
      now,
      Number(row.id),
    );
    return { userId: Number(row.userId), id: Number(row.id) };
  }

  /** Revokes the active token `name` of `userId`; the record, or null when there is none. */
  revoke(userId: number, name: string, now: number): ApiTokenRecord | null {
    const row = this.#db.prepare(
      "SELECT id FROM api_tokens WHERE user_id = ? AND name = ? AND revoked_at IS NULL",
    ).get(userId, name);
    if (row === undefined) return null;
    this.#db.prepare("UPDATE api_tokens SET revoked_at = ? WHERE id = ?").run(
      now,
      Number(row.id),
    );
    return this.#byId(Number(row.id));
  }

  /** Revokes every active token of `userId`; returns how many. */
  revokeAll(userId: number, now: number): number {
    return Number(
      this.#db.prepare(
        "UPDATE api_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL",
      ).run(now, userId).changes,
    );
  }

  #byId(id: number): ApiTokenRecord | null {
    const row = this.#db.prepare(
      `SELECT ${COLUMNS} FROM ${FROM} WHERE a.id = ?`,
    )
      .get(id);
    return row === undefined ? null : toRecord(row);
  }
}

function toRecord(row: Record<string, unknown>): ApiTokenRecord {
  const num = (v: unknown) => v === null ? null : Number(v);
  return {
    id: Number(row.id),
    user: String(row.user),
    name: String(row.name),
    prefix: String(row.prefix),
    createdAt: Number(row.createdAt),
    expiresAt: num(row.expiresAt),
    revokedAt: num(row.revokedAt),
    lastUsedAt: num(row.lastUsedAt),
  };
}
