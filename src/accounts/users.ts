/**
 * The `users` and `teams` tables: rows in, records out. Passwords arrive
 * here already hashed (passwords.ts); a {@linkcode UserRecord} never carries
 * the hash, a {@linkcode UserRow} (for login only) does.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { type Role, ROLES } from "./permissions.ts";
import { AccountsError } from "./names.ts";

/** A user as every API shows it: never the password hash. */
export interface UserRecord {
  id: number;
  name: string;
  role: Role;
  /** The team's name, or null. */
  team: string | null;
  createdAt: number;
  passwordChangedAt: number;
  disabledAt: number | null;
}

/** A user with the password hash, for checking a login. */
export interface UserRow extends UserRecord {
  passwordHash: string;
}

/** A team and how many users are in it. */
export interface TeamRecord {
  id: number;
  name: string;
  createdAt: number;
  members: number;
}

const USER_COLUMNS =
  `u.id, u.name, u.role, t.name AS team, u.created_at AS createdAt,
  u.password_changed_at AS passwordChangedAt, u.disabled_at AS disabledAt,
  u.password_hash AS passwordHash`;
const USER_FROM = "users u LEFT JOIN teams t ON t.id = u.team_id";

/** SQLite's extended code for a UNIQUE constraint violation. */
const SQLITE_CONSTRAINT_UNIQUE = 2067;

/** The users and teams of one connection. */
export class UserTable {
  #db: DatabaseSync;

  /** Rows of `db`, whose accounts schema exists. */
  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /** Adds a user; throws {@linkcode AccountsError} when the name is taken or the team unknown. */
  insert(
    input: { name: string; role: Role; team: string | null; hash: string },
    now: number,
  ): UserRecord {
    const teamId = input.team === null ? null : this.#teamId(input.team);
    try {
      this.#db.prepare(
        `INSERT INTO users (name, role, team_id, password_hash, created_at, password_changed_at)
         VALUES (?, ?, ?, ?, ?, ?)`,
      ).run(input.name, input.role, teamId, input.hash, now, now);
    } catch (err) {
      if (isUnique(err)) {
        throw new AccountsError(
          "bad_request",
          `A user named "${input.name}" already exists`,
        );
      }
      throw err;
    }
    return this.get(input.name)!;
  }

  /** The user called `name` (any case), or null. */
  get(name: string): UserRecord | null {
    const row = this.row(name);
    if (row === null) return null;
    const { passwordHash: _hash, ...record } = row;
    return record;
  }

  /** The user with its password hash, or null. */
  row(name: string): UserRow | null {
    const row = this.#db.prepare(
      `SELECT ${USER_COLUMNS} FROM ${USER_FROM} WHERE u.name = ? COLLATE NOCASE`,
    ).get(name);
    return row === undefined ? null : toUser(row);
  }

  /** The user with id `id`, or null. */
  byId(id: number): UserRecord | null {
    const row = this.#db.prepare(
      `SELECT ${USER_COLUMNS} FROM ${USER_FROM} WHERE u.id = ?`,
    ).get(id);
    if (row === undefined) return null;
    const { passwordHash: _hash, ...record } = toUser(row);
    return record;
  }

  /** Every user, oldest first. */
  list(): UserRecord[] {
    return this.#db.prepare(
      `SELECT ${USER_COLUMNS} FROM ${USER_FROM} ORDER BY u.id`,
    )
      .all().map((row) => {
        const { passwordHash: _hash, ...record } = toUser(row);
        return record;
      });
  }

  /** Sets one column of user `id` (`role`, `team`, `password_hash`, `disabled_at`). */
  update(
    id: number,
    change:
      | { role: Role }
      | { team: string | null }
      | { hash: string; at: number }
      | { disabledAt: number | null },
  ): void {
    if ("role" in change) {
      this.#run("UPDATE users SET role = ? WHERE id = ?", change.role, id);
    } else if ("team" in change) {
      const teamId = change.team === null ? null : this.#teamId(change.team);
      this.#run("UPDATE users SET team_id = ? WHERE id = ?", teamId, id);
    } else if ("hash" in change) {
      this.#run(
        "UPDATE users SET password_hash = ?, password_changed_at = ? WHERE id = ?",
        change.hash,
        change.at,
        id,
      );
    } else {
      this.#run(
        "UPDATE users SET disabled_at = ? WHERE id = ?",
        change.disabledAt,
        id,
      );
    }
  }

  /** Removes user `id` for good. */
  delete(id: number): void {
    this.#run("DELETE FROM users WHERE id = ?", id);
  }

  /** How many enabled admins there are (the last one may not be demoted, disabled or deleted). */
  activeAdmins(): number {
    const row = this.#db.prepare(
      "SELECT count(*) AS n FROM users WHERE role = 'admin' AND disabled_at IS NULL",
    ).get() as { n: number };
    return Number(row.n);
  }

  /** Adds a team; throws {@linkcode AccountsError} when the name is taken. */
  insertTeam(name: string, now: number): TeamRecord {
    try {
      this.#run(
        "INSERT INTO teams (name, created_at) VALUES (?, ?)",
        name,
        now,
      );
    } catch (err) {
      if (isUnique(err)) {
        throw new AccountsError(
          "bad_request",
          `A team named "${name}" already exists`,
        );
      }
      throw err;
    }
    return this.teams().find((t) =>
      t.name.toLowerCase() === name.toLowerCase()
    )!;
  }

  /** Every team with its member count, oldest first. */
  teams(): TeamRecord[] {
    return this.#db.prepare(
      `SELECT t.id, t.name, t.created_at AS createdAt, count(u.id) AS members
       FROM teams t LEFT JOIN users u ON u.team_id = t.id GROUP BY t.id ORDER BY t.id`,
    ).all().map((r) => ({
      id: Number(r.id),
      name: String(r.name),
      createdAt: Number(r.createdAt),
      members: Number(r.members),
    }));
  }

  /** Removes an empty team; throws {@linkcode AccountsError} when unknown or not empty. */
  deleteTeam(name: string): TeamRecord {
    const team = this.teams().find((t) =>
      t.name.toLowerCase() === name.toLowerCase()
    );
    if (team === undefined) {
      throw new AccountsError("not_found", `No team named "${name}"`);
    }
    if (team.members > 0) {
      throw new AccountsError(
        "bad_request",
        `Team "${team.name}" still has ${team.members} user(s): move or delete them first`,
      );
    }
    this.#run("DELETE FROM teams WHERE id = ?", team.id);
    return team;
  }

  #teamId(name: string): number {
    const row = this.#db.prepare(
      "SELECT id FROM teams WHERE name = ? COLLATE NOCASE",
    )
      .get(name) as { id: number } | undefined;
    if (row === undefined) {
      throw new AccountsError(
        "bad_request",
        `No team named "${name}": create it first (flow-proxy teams create ${name})`,
      );
    }
    return Number(row.id);
  }

  #run(sql: string, ...values: (string | number | null)[]): void {
    this.#db.prepare(sql).run(...values);
  }
}

function isUnique(err: unknown): boolean {
  return (err as { errcode?: number }).errcode === SQLITE_CONSTRAINT_UNIQUE;
}

function toUser(row: Record<string, unknown>): UserRow {
  const role = String(row.role);
  return {
    id: Number(row.id),
    name: String(row.name),
    role: (ROLES as readonly string[]).includes(role) ? role as Role : "viewer",
    team: row.team === null ? null : String(row.team),
    createdAt: Number(row.createdAt),
    passwordChangedAt: Number(row.passwordChangedAt),
    disabledAt: row.disabledAt === null ? null : Number(row.disabledAt),
    passwordHash: String(row.passwordHash),
  };
}
