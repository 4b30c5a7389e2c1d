/**
 * Usage by key owner and by the owner's team: the request log joined with
 * client_keys.owner and the accounts tables (users, teams) of the same
 * database, for `flow-proxy usage --by user|team` and the admin API.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";

/**
 * The owner of a request's key and the owner's team, as SQL on a row of
 * `requests`: the newest key of that name (a name is reused only after its
 * key was revoked), the user matched without case (a deleted user's keys
 * keep the owner's name, without a team). NULL when the tables are missing.
 */
function ownerColumns(db: DatabaseSync): { user: string; team: string } {
  const tables = new Set(
    (db.prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('client_keys', 'users', 'teams')",
    ).all() as { name: string }[]).map((t) => t.name),
  );
  const hasOwner = tables.has("client_keys") &&
    (db.prepare("PRAGMA table_info(client_keys)").all() as { name: string }[])
      .some((c) => c.name === "owner");
  if (!hasOwner) return { user: "NULL", team: "NULL" };
  const key =
    "FROM client_keys k WHERE k.name = requests.client ORDER BY k.id DESC LIMIT 1";
  if (!tables.has("users") || !tables.has("teams")) {
    return { user: `(SELECT k.owner ${key})`, team: "NULL" };
  }
  return {
    user: `(SELECT coalesce(
      (SELECT u.name FROM users u WHERE u.name = k.owner COLLATE NOCASE), k.owner) ${key})`,
    team: `(SELECT (SELECT t.name FROM users u JOIN teams t ON t.id = u.team_id
      WHERE u.name = k.owner COLLATE NOCASE) ${key})`,
  };
}

/**
 * `byUser` and `byTeam` of a usage summary (empty unless `wanted`):
 * `grouped` runs the summary's grouped query on an SQL key, `totals` reads
 * a row's sums.
 */
export function byOwner<T>(
  db: DatabaseSync,
  wanted: boolean,
  grouped: (key: string, order: string) => Record<string, unknown>[],
  totals: (row: Record<string, unknown>) => T,
): {
  byUser: (T & { user: string | null })[];
  byTeam: (T & { team: string | null })[];
} {
  if (!wanted) return { byUser: [], byTeam: [] };
  const { user, team } = ownerColumns(db);
  const order = "requests DESC, key IS NULL, key";
  return {
    byUser: grouped(user, order).map((row) => ({
      user: row.key as string | null,
      ...totals(row),
    })),
    byTeam: grouped(team, order).map((row) => ({
      team: row.key as string | null,
      ...totals(row),
    })),
  };
}

/**
 * The owner and team of each of the key names `keys`, by the same rules as
 * `byOwner` (the newest key of a name, the user matched without case): for
 * usage read elsewhere (ClickHouse) and summed by owner here.
 */
export function keyOwners(
  db: DatabaseSync,
  keys: readonly string[],
): Map<string, { user: string | null; team: string | null }> {
  const out = new Map<string, { user: string | null; team: string | null }>();
  if (keys.length === 0) return out;
  const { user, team } = ownerColumns(db);
  // Named `requests` with a `client` column, so the owner SQL reads it as it reads the log.
  const rows = db.prepare(
    `SELECT requests.client AS client, ${user} AS user, ${team} AS team
    FROM (SELECT value AS client FROM json_each(?)) AS requests`,
  ).all(JSON.stringify(keys)) as {
    client: string;
    user: string | null;
    team: string | null;
  }[];
  for (const row of rows) {
    out.set(row.client, { user: row.user, team: row.team });
  }
  return out;
}
