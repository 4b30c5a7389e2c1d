/**
 * Client keys as instances behind one Redis exchange them (src/cluster/
 * key_sync.ts): each instance keeps its own `client_keys` table, which its
 * request path already reads, and merges the rows the others send. A row
 * carries the key's SHA-256, never the key.
 *
 * Merging is order-free, so instances converge whatever order rows arrive
 * in: a revocation is never undone (the earliest time wins), a change of
 * budget, limits, models or expiry (`PATCH keys/<name>`) wins by its
 * revision, and the other fields are fixed at creation.
 * Last-used times stay per instance.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";

/** One key row as instances exchange it. */
export interface KeyReplica {
  /** SHA-256 (hex) of the key: the row's identity across instances. */
  hash: string;
  name: string;
  prefix: string;
  createdAt: number;
  expiresAt: number | null;
  rpm: number | null;
  burst: number | null;
  /** The models allowed, as stored (JSON text), or null. */
  models: string | null;
  revokedAt: number | null;
  /** The budget, as stored (JSON text), or null. */
  budget: string | null;
  owner: string | null;
  /** Bumped by each change of budget, limits, models or expiry. */
  revision: number;
}

/** What the key-sync bridge uses of this instance's key table (through the store worker). */
export interface KeyReplicaStore {
  /** Every row, revoked ones included. */
  rows(): Promise<KeyReplica[]>;
  /** Merges rows from other instances; the serving threads see the result at once. */
  merge(rows: KeyReplica[]): Promise<MergeResult>;
  /** Calls `listener` after the keys changed here (created, revoked, merged). */
  onChange(listener: () => void): void;
}

/** What {@linkcode mergeReplicas} did. */
export interface MergeResult {
  /** Rows that changed the table. */
  changed: number;
  /** Names of rows refused: an active key of that name with another hash exists here. */
  clashes: string[];
}

/** SQLite's extended code for a UNIQUE constraint violation. */
const SQLITE_CONSTRAINT_UNIQUE = 2067;

/** Every row of `client_keys` as {@linkcode KeyReplica}s, oldest first. */
export function replicaRows(db: DatabaseSync): KeyReplica[] {
  const rows = db.prepare(
    `SELECT hash, name, prefix, created_at AS createdAt, expires_at AS expiresAt,
      rpm, burst, models, revoked_at AS revokedAt, budget, owner, revision
     FROM client_keys ORDER BY id`,
  ).all() as Record<string, unknown>[];
  const num = (v: unknown) => v === null ? null : Number(v);
  return rows.map((r) => ({
    hash: String(r.hash),
    name: String(r.name),
    prefix: String(r.prefix),
    createdAt: Number(r.createdAt),
    expiresAt: num(r.expiresAt),
    rpm: num(r.rpm),
    burst: num(r.burst),
    models: r.models === null ? null : String(r.models),
    revokedAt: num(r.revokedAt),
    budget: r.budget === null ? null : String(r.budget),
    owner: r.owner === null ? null : String(r.owner),
    revision: Number(r.revision),
  }));
}

/** Merges `rows` into `client_keys` (see the module doc for the rules). */
export function mergeReplicas(
  db: DatabaseSync,
  rows: readonly KeyReplica[],
): MergeResult {
  const upsert = db.prepare(
    `INSERT INTO client_keys (hash, name, prefix, created_at, expires_at, rpm, burst,
       models, revoked_at, budget, owner, revision)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (hash) DO UPDATE SET
       revoked_at = coalesce(min(revoked_at, excluded.revoked_at), revoked_at, excluded.revoked_at),
       budget = CASE WHEN excluded.revision > revision THEN excluded.budget ELSE budget END,
       rpm = CASE WHEN excluded.revision > revision THEN excluded.rpm ELSE rpm END,
       burst = CASE WHEN excluded.revision > revision THEN excluded.burst ELSE burst END,
       models = CASE WHEN excluded.revision > revision THEN excluded.models ELSE models END,
       expires_at = CASE WHEN excluded.revision > revision THEN excluded.expires_at ELSE expires_at END,
       revision = max(revision, excluded.revision)
     WHERE (revoked_at IS NULL AND excluded.revoked_at IS NOT NULL)
       OR excluded.revoked_at < revoked_at OR excluded.revision > revision`,
  );
  const result: MergeResult = { changed: 0, clashes: [] };
  for (const r of rows) {
    try {
      const run = upsert.run(
        r.hash,
        r.name,
        r.prefix,
        r.createdAt,
        r.expiresAt,
        r.rpm,
        r.burst,
        r.models,
        r.revokedAt,
        r.budget,
        r.owner,
        r.revision,
      );
      result.changed += Number(run.changes);
    } catch (err) {
      if ((err as { errcode?: number }).errcode !== SQLITE_CONSTRAINT_UNIQUE) {
        throw err;
      }
      result.clashes.push(r.name);
    }
  }
  return result;
}

/** Whether `value` has the shape of a {@linkcode KeyReplica} (what another instance sent). */
export function isKeyReplica(value: unknown): value is KeyReplica {
  const r = value as Record<string, unknown>;
  const numOrNull = (v: unknown) => v === null || Number.isFinite(v);
  const textOrNull = (v: unknown) => v === null || typeof v === "string";
  return typeof r === "object" && r !== null &&
    typeof r.hash === "string" && /^[0-9a-f]{64}$/.test(r.hash) &&
    typeof r.name === "string" && typeof r.prefix === "string" &&
    Number.isFinite(r.createdAt) && numOrNull(r.expiresAt) &&
    numOrNull(r.rpm) && numOrNull(r.burst) && textOrNull(r.models) &&
    numOrNull(r.revokedAt) && textOrNull(r.budget) && textOrNull(r.owner) &&
    Number.isInteger(r.revision);
}
