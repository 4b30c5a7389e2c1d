/**
 * Accounts rows as instances behind one Redis exchange them (src/cluster/
 * account_sync.ts): teams, users, sessions and API tokens, each under a
 * field that names it the same on every instance (`user:<name>`,
 * `session:<hash>`, ...), since row ids differ from one database to the
 * next. A session and a token travel as their SHA-256, never their value;
 * a user with the password's scrypt hash, so a login works anywhere.
 *
 * Login failures, lockouts and the audit trail stay per instance, as do
 * last-used times of tokens. A session's last use travels rounded down to
 * {@linkcode SEEN_GRAIN_MS} (so not every admin request is news) and is
 * merged by taking the later one.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";

/** A session's last use is exchanged in steps of this many ms. */
export const SEEN_GRAIN_MS = 30_000;

/** One row as exchanged: `row` null means it was deleted. */
export interface AccountReplica {
  field: string;
  row: Record<string, unknown> | null;
}

/** What the accounts bridge uses of this instance's tables (through the store worker). */
export interface AccountReplicaStore {
  /** Every row, as `field` → JSON text (the same rows give the same text). */
  rows(): Promise<[string, string][]>;
  /** Applies rows of other instances; resolves with the fields applied (others wait for what they need). */
  merge(rows: AccountReplica[]): Promise<string[]>;
}

const KIND_ORDER = ["team", "user", "session", "token"];
/** SQLite's extended code for a UNIQUE constraint violation. */
const SQLITE_CONSTRAINT_UNIQUE = 2067;

/** The columns of `table` that travel as they are (ids are local). */
function columns(db: DatabaseSync, table: string): string[] {
  return (db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[])
    .map((c) => c.name).filter((n) => n !== "id" && n !== "team_id");
}

/** Every accounts row of `db` as `field` → JSON text, fields sorted. */
export function accountRows(db: DatabaseSync): [string, string][] {
  const out: [string, string][] = [];
  const teamCols = columns(db, "teams");
  for (
    const r of db.prepare(
      `SELECT ${teamCols.join(", ")} FROM teams ORDER BY name`,
    ).all()
  ) {
    out.push([`team:${String(r.name).toLowerCase()}`, JSON.stringify(r)]);
  }
  const userCols = columns(db, "users");
  for (
    const r of db.prepare(
      `SELECT ${
        userCols.map((c) => `u.${c}`).join(", ")
      }, t.name AS team FROM users u LEFT JOIN teams t ON t.id = u.team_id ORDER BY u.name`,
    ).all()
  ) {
    out.push([`user:${String(r.name).toLowerCase()}`, JSON.stringify(r)]);
  }
  for (
    const r of db.prepare(
      `SELECT s.hash, u.name AS user, s.csrf, s.created_at, s.last_seen_at
       FROM sessions s JOIN users u ON u.id = s.user_id ORDER BY s.hash`,
    ).all()
  ) {
    const seen = Number(r.last_seen_at);
    const row = { ...r, "last_seen_at": seen - seen % SEEN_GRAIN_MS };
    out.push([`session:${r.hash}`, JSON.stringify(row)]);
  }
  for (
    const r of db.prepare(
      `SELECT k.hash, u.name AS user, k.name, k.prefix, k.created_at, k.expires_at, k.revoked_at
       FROM api_tokens k JOIN users u ON u.id = k.user_id ORDER BY k.hash`,
    ).all()
  ) {
    out.push([`token:${r.hash}`, JSON.stringify(r)]);
  }
  return out;
}

/**
 * Applies `rows` (teams first, then users, sessions, tokens); returns the
 * fields applied. A row that needs what this instance lacks (a session of
 * an unknown user) is left out, to be applied at a later sync.
 */
export function mergeAccountRows(
  db: DatabaseSync,
  rows: readonly AccountReplica[],
  now: number,
): string[] {
  const sorted = [...rows].sort((a, b) =>
    KIND_ORDER.indexOf(kind(a.field)) - KIND_ORDER.indexOf(kind(b.field))
  );
  const applied: string[] = [];
  for (const r of sorted) {
    try {
      if (applyOne(db, r, now)) applied.push(r.field);
    } catch (err) {
      // A clash (a name taken here by another row) or a malformed row: left out.
      if (
        !(err instanceof TypeError) &&
        (err as { errcode?: number }).errcode !== SQLITE_CONSTRAINT_UNIQUE
      ) throw err;
    }
  }
  return applied;
}

function kind(field: string): string {
  return field.slice(0, field.indexOf(":"));
}

function applyOne(db: DatabaseSync, r: AccountReplica, now: number): boolean {
  const key = r.field.slice(r.field.indexOf(":") + 1);
  const row = r.row;
  switch (kind(r.field)) {
    case "team":
      if (row === null) {
        db.prepare(
          `DELETE FROM teams WHERE name = ? AND NOT EXISTS
           (SELECT 1 FROM users WHERE team_id = teams.id)`,
        ).run(key);
        return true;
      }
      return upsertNamed(db, "teams", row, null);
    case "user":
      if (row === null) {
        const user = db.prepare("SELECT id FROM users WHERE name = ?").get(key);
        if (user === undefined) return true;
        db.prepare("DELETE FROM sessions WHERE user_id = ?").run(user.id);
        db.prepare(
          "UPDATE api_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL",
        ).run(now, user.id);
        db.prepare("DELETE FROM users WHERE id = ?").run(user.id);
        return true;
      }
      return upsertNamed(db, "users", row, row.team ?? null);
    case "session":
      if (row === null) {
        db.prepare("DELETE FROM sessions WHERE hash = ?").run(key);
        return true;
      }
      return Number(
            db.prepare(
              `INSERT INTO sessions (hash, user_id, csrf, created_at, last_seen_at)
           SELECT ?, id, ?, ?, ? FROM users WHERE name = ?
           ON CONFLICT (hash) DO UPDATE SET last_seen_at = max(last_seen_at, excluded.last_seen_at)`,
            ).run(
              key,
              text(row.csrf),
              num(row.created_at),
              num(row.last_seen_at),
              text(row.user),
            ).changes,
          ) > 0 || exists(db, "sessions", key);
    case "token":
      if (row === null) return true;
      return Number(
            db.prepare(
              `INSERT INTO api_tokens (user_id, name, prefix, hash, created_at, expires_at, revoked_at)
           SELECT id, ?, ?, ?, ?, ?, ? FROM users WHERE name = ?
           ON CONFLICT (hash) DO UPDATE SET revoked_at =
             coalesce(min(revoked_at, excluded.revoked_at), revoked_at, excluded.revoked_at)`,
            ).run(
              text(row.name),
              text(row.prefix),
              key,
              num(row.created_at),
              row.expires_at === null ? null : num(row.expires_at),
              row.revoked_at === null ? null : num(row.revoked_at),
              text(row.user),
            ).changes,
          ) > 0 || exists(db, "api_tokens", key);
  }
  return false;
}

/** Inserts or updates a team or user by name, with the columns both sides have. */
function upsertNamed(
  db: DatabaseSync,
  table: "teams" | "users",
  row: Record<string, unknown>,
  team: unknown,
): boolean {
  const cols = columns(db, table).filter((c) => c in row);
  if (!cols.includes("name")) return false;
  const values = cols.map((c) => row[c] as string | number | null);
  let teamSql = "";
  if (table === "users") {
    if (team !== null) {
      const found = db.prepare("SELECT id FROM teams WHERE name = ?").get(
        text(team),
      );
      if (found === undefined) return false;
      values.push(Number(found.id));
    } else values.push(null);
    teamSql = ", team_id";
  }
  const updates = [
    ...cols.filter((c) => c !== "name"),
    ...(teamSql ? ["team_id"] : []),
  ]
    .map((c) => `${c} = excluded.${c}`).join(", ");
  db.prepare(
    `INSERT INTO ${table} (${cols.join(", ")}${teamSql})
     VALUES (${[...values].map(() => "?").join(", ")})
     ON CONFLICT (name) DO UPDATE SET ${updates}`,
  ).run(...values);
  return true;
}

function exists(db: DatabaseSync, table: string, hash: string): boolean {
  return db.prepare(`SELECT 1 FROM ${table} WHERE hash = ?`).get(hash) !==
    undefined;
}

function text(v: unknown): string {
  if (typeof v !== "string") throw new TypeError("Malformed accounts row");
  return v;
}

function num(v: unknown): number {
  if (typeof v !== "number" || !Number.isFinite(v)) {
    throw new TypeError("Malformed accounts row");
  }
  return v;
}
