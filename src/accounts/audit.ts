/**
 * The audit trail: who did what, when, from which address, with what
 * outcome. Appended to `audit_log` (append-only: schema.ts's triggers refuse
 * UPDATE and DELETE), read by `flow-proxy audit` and `GET
 * /_flow-proxy/admin/audit`. `detail` holds non-secret facts only (a role,
 * a key's name), never a password, token, session id or key.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";

/** Who acted: a user, the shared admin token, or the command line. */
export interface Actor {
  /** A user name, `admin-token`, or `cli:<login>`. */
  name: string;
  /** The actor's role, when it has one. */
  role: string | null;
  /** The client address, or null (command line). */
  address: string | null;
}

/** What the caller says happened; {@linkcode AuditLog.append} adds the time. */
export interface AuditEntry {
  actor: Actor;
  /** What was done, as `<object>.<verb>`: `user.create`, `login`, `key.revoke`, `admin_token.use`… */
  action: string;
  /** What it was done to (a user, key or token name), or null. */
  target: string | null;
  /** `ok`, `failed` (refused by the data: bad password, duplicate) or `denied` (refused by the matrix). */
  outcome: "ok" | "failed" | "denied";
  /** Extra non-secret facts. */
  detail?: Record<string, string | number | boolean | null>;
}

/** One stored audit record. */
export interface AuditRecord {
  id: number;
  at: number;
  actor: string;
  actorRole: string | null;
  action: string;
  target: string | null;
  address: string | null;
  outcome: string;
  detail: Record<string, unknown> | null;
}

/** Filters of {@linkcode AuditLog.list}. */
export interface AuditFilter {
  /** Only records at or after this time, epoch ms. */
  since?: number;
  /** Only records whose actor or target is this user, or about a key the user owned. */
  user?: string;
  /** Only this action, or actions under `<prefix>.` when it ends with `.*`. */
  action?: string;
  /** At most this many, newest first; default 1000. */
  limit?: number;
}

/** The audit table of one connection. */
export class AuditLog {
  #db: DatabaseSync;

  /** Records in `db`, whose accounts schema exists. */
  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /** Appends `entry` at `now`. */
  append(entry: AuditEntry, now: number): void {
    this.#db.prepare(
      `INSERT INTO audit_log (at, actor, actor_role, action, target, address, outcome, detail)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      now,
      entry.actor.name,
      entry.actor.role,
      entry.action,
      entry.target,
      entry.actor.address,
      entry.outcome,
      entry.detail ? JSON.stringify(entry.detail) : null,
    );
  }

  /** Records matching `filter`, newest first. */
  list(filter: AuditFilter = {}): AuditRecord[] {
    const where: string[] = [];
    const values: (string | number)[] = [];
    if (filter.since !== undefined) {
      where.push("at >= ?");
      values.push(filter.since);
    }
    if (filter.user !== undefined) {
      where.push(
        `(actor = ? COLLATE NOCASE OR target = ? COLLATE NOCASE
          OR json_extract(detail, '$.owner') = ? COLLATE NOCASE)`,
      );
      values.push(filter.user, filter.user, filter.user);
    }
    if (filter.action !== undefined) {
      if (filter.action.endsWith(".*")) {
        where.push("substr(action, 1, ?) = ?");
        const prefix = filter.action.slice(0, -1);
        values.push(prefix.length, prefix);
      } else {
        where.push("action = ?");
        values.push(filter.action);
      }
    }
    const limit = Math.max(1, Math.min(filter.limit ?? 1000, 100_000));
    const sql =
      `SELECT id, at, actor, actor_role AS actorRole, action, target, address, outcome, detail
      FROM audit_log ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
      ORDER BY id DESC LIMIT ${limit}`;
    return this.#db.prepare(sql).all(...values).map((r) => ({
      id: Number(r.id),
      at: Number(r.at),
      actor: String(r.actor),
      actorRole: r.actorRole === null ? null : String(r.actorRole),
      action: String(r.action),
      target: r.target === null ? null : String(r.target),
      address: r.address === null ? null : String(r.address),
      outcome: String(r.outcome),
      detail: r.detail === null ? null : JSON.parse(String(r.detail)),
    }));
  }
}

/** An audit record as JSON: times as ISO strings. */
export function auditRecordJson(record: AuditRecord): Record<string, unknown> {
  return { ...record, at: new Date(record.at).toISOString() };
}
