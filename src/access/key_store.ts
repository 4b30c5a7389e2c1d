/**
 * The `client_keys` table of the embedded SQLite database: creating,
 * revoking and listing keys, their last-used times, and the change stamp
 * other processes poll. Opened by the store worker and `flow-proxy keys`
 * only; serving threads verify keys in memory (client_keys.ts) and never
 * load `node:sqlite`.
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import {
  openDatabase,
  rollbackAfter,
  type SqliteOpenError,
} from "../base/sqlite.ts";
import {
  type CreateKeyInput,
  generateKey,
  hashKey,
  KEY_PREFIX,
  type KeyChanges,
  type KeyRecord,
  type KeyVerifier,
  type StoredKey,
  validateKeyInput,
} from "./client_keys.ts";
import type { Budget } from "./budget.ts";
import {
  type KeyReplica,
  mergeReplicas,
  type MergeResult,
  replicaRows,
} from "./key_replica.ts";

/** Characters after the `fpk_` prefix kept for display (short enough to stay non-secret). */
const DISPLAY_CHARS = 6;

/** Options of {@linkcode openKeyStore}. */
export interface KeyStoreOptions {
  /** Clock, epoch ms; injectable for tests. */
  now?: () => number;
  /** Write buffered last-used times at most this often, from {@linkcode KeyStore.touch}. Default 1000 ms. */
  touchFlushMs?: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS client_keys (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  prefix TEXT NOT NULL,
  hash TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  rpm INTEGER,
  burst INTEGER,
  models TEXT,
  revoked_at INTEGER,
  last_used_at INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS client_keys_hash ON client_keys (hash);
CREATE UNIQUE INDEX IF NOT EXISTS client_keys_active_name ON client_keys (name) WHERE revoked_at IS NULL;
`;

/** Columns added after the first release: added to an older table when it is opened. */
const ADDED_COLUMNS: readonly [string, string][] = [
  // A budget as JSON (src/access/budget.ts), null for none.
  ["budget", "TEXT"],
  // Bumped by every change of a key's fields, so the change stamp moves.
  ["revision", "INTEGER NOT NULL DEFAULT 0"],
  // The user (accounts) the key belongs to; null: nobody's.
  ["owner", "TEXT"],
];

const COLUMNS =
  `id, name, prefix, hash, created_at AS createdAt, expires_at AS expiresAt, rpm, burst,
  models, revoked_at AS revokedAt, last_used_at AS lastUsedAt, budget, owner`;

/** SQLite's extended code for a UNIQUE constraint violation. */
const SQLITE_CONSTRAINT_UNIQUE = 2067;

/** Client keys in the SQLite database; one instance per thread (the connection is not shareable). */
export class KeyStore {
  #db: DatabaseSync;
  #now: () => number;
  #touchFlushMs: number;
  #pendingTouches = new Map<string, number>();
  #lastFlush = 0;
  #insert: StatementSync;
  #selectAll: StatementSync;
  #stamp: StatementSync;
  #touchStatement: StatementSync;
  #closed = false;

  /** Use {@linkcode openKeyStore}. */
  constructor(db: DatabaseSync, options: KeyStoreOptions = {}) {
    this.#db = db;
    this.#now = options.now ?? Date.now;
    this.#touchFlushMs = options.touchFlushMs ?? 1000;
    this.#insert = db.prepare(
      `INSERT INTO client_keys (name, prefix, hash, created_at, expires_at, rpm, burst, models, budget, owner)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#selectAll = db.prepare(
      `SELECT ${COLUMNS} FROM client_keys ORDER BY id`,
    );
    // Changes on every create (max id), revoke (revoked count) and budget
    // change (revisions), not on last-used updates.
    this.#stamp = db.prepare(
      `SELECT count(*) || ':' || coalesce(max(id), 0) || ':' || count(revoked_at) || ':' || coalesce(sum(revision), 0) AS stamp FROM client_keys`,
    );
    this.#touchStatement = db.prepare(
      `UPDATE client_keys SET last_used_at = max(coalesce(last_used_at, 0), ?)
       WHERE name = ? AND revoked_at IS NULL`,
    );
  }

  /** Creates a key; the returned `key` is the only copy there will ever be. */
  create(input: CreateKeyInput): { key: string; record: KeyRecord } {
    validateKeyInput(input);
    const key = generateKey();
    const prefix = key.slice(0, KEY_PREFIX.length + DISPLAY_CHARS);
    const models = input.models ? JSON.stringify(input.models) : null;
    let id: number;
    try {
      const result = this.#insert.run(
        input.name,
        prefix,
        hashKey(key),
        this.#now(),
        input.expiresAt ?? null,
        input.rpm ?? null,
        input.burst ?? null,
        models,
        input.budget ? JSON.stringify(input.budget) : null,
        input.owner ?? null,
      );
      id = Number(result.lastInsertRowid);
    } catch (err) {
      if ((err as { errcode?: number }).errcode === SQLITE_CONSTRAINT_UNIQUE) {
        throw new Error(
          `A key named "${input.name}" already exists: revoke it first or choose another name`,
          {
            cause: err,
          },
        );
      }
      throw err;
    }
    const row = this.#db.prepare(
      `SELECT ${COLUMNS} FROM client_keys WHERE id = ?`,
    ).get(id);
    const { hash: _hash, ...record } = toRecord(row as unknown as Row);
    return { key, record };
  }

  /** Every key, oldest first, revoked and expired ones included; never the keys themselves. */
  list(): KeyRecord[] {
    return this.snapshot().map(({ hash: _hash, ...record }) => record);
  }

  /** Revokes the active key called `name`; false when there is none. */
  revoke(name: string): boolean {
    this.flush();
    const result = this.#db.prepare(
      "UPDATE client_keys SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
    ).run(this.#now(), name);
    return Number(result.changes) > 0;
  }

  /**
   * Sets (or with null, removes) the budget of the active key called
   * `name`; false when there is none. Workers see it at their next poll.
   */
  setBudget(name: string, budget: Budget | null): boolean {
    const result = this.#db.prepare(
      "UPDATE client_keys SET budget = ?, revision = revision + 1 WHERE name = ? AND revoked_at IS NULL",
    ).run(budget === null ? null : JSON.stringify(budget), name);
    return Number(result.changes) > 0;
  }

  /**
   * Changes the limits and model rules of the active key called `name`
   * (a field absent is kept, null resets it: the default RPM or burst, any
   * model, no expiry); its record after, or null when there is none. Throws
   * naming a bad field. Bumps the revision, so other instances take it.
   */
  update(name: string, changes: KeyChanges): KeyRecord | null {
    validateKeyInput({ name, ...changes });
    const sets: string[] = [];
    const values: (string | number | null)[] = [];
    const column = {
      rpm: "rpm",
      burst: "burst",
      models: "models",
      expiresAt: "expires_at",
    } as const;
    for (const field of ["rpm", "burst", "models", "expiresAt"] as const) {
      const value = changes[field];
      if (value === undefined) continue;
      sets.push(`${column[field]} = ?`);
      values.push(
        field === "models" && value !== null
          ? JSON.stringify(value)
          : value as number | null,
      );
    }
    const result = this.#db.prepare(
      `UPDATE client_keys SET ${[...sets, "revision = revision + 1"].join(", ")}
       WHERE name = ? AND revoked_at IS NULL`,
    ).run(...values, name);
    if (Number(result.changes) === 0) return null;
    return this.list().findLast((k) =>
      k.name === name && k.revokedAt === null
    ) ?? null;
  }

  /** Revokes every active key owned by user `owner` (any case); the names of those revoked. */
  revokeOwnedBy(owner: string): string[] {
    this.flush();
    const rows = this.#db.prepare(
      `UPDATE client_keys SET revoked_at = ? WHERE owner = ? COLLATE NOCASE AND revoked_at IS NULL
       RETURNING name`,
    ).all(this.#now(), owner);
    return rows.map((r) => String(r.name));
  }

  /** Number of keys ever created and still in the table (enforcement is on once there is one). */
  count(): number {
    const row = this.#db.prepare("SELECT count(*) AS n FROM client_keys")
      .get() as { n: number };
    return Number(row.n);
  }

  /** Records a use of key `name`; written in batches (see {@linkcode KeyStoreOptions.touchFlushMs}). */
  touch(name: string, when: number): void {
    const previous = this.#pendingTouches.get(name);
    if (previous === undefined || previous < when) {
      this.#pendingTouches.set(name, when);
    }
    if (this.#now() - this.#lastFlush >= this.#touchFlushMs) this.flush();
  }

  /**
   * Writes the buffered last-used times now. When the write fails (a locked
   * or full database) the times stay buffered for the next flush and the
   * error thrown is SQLite's own, never a failed ROLLBACK's.
   */
  flush(): void {
    this.#lastFlush = this.#now();
    if (this.#pendingTouches.size === 0 || this.#closed) return;
    const pending = [...this.#pendingTouches];
    this.#pendingTouches.clear();
    try {
      this.#db.exec("BEGIN IMMEDIATE");
      try {
        for (const [name, when] of pending) {
          this.#touchStatement.run(when, name);
        }
        this.#db.exec("COMMIT");
      } catch (err) {
        throw rollbackAfter(this.#db, err);
      }
    } catch (err) {
      for (const [name, when] of pending) {
        const newer = this.#pendingTouches.get(name);
        if (newer === undefined || newer < when) {
          this.#pendingTouches.set(name, when);
        }
      }
      throw new Error(
        `Cannot write the last-used times of ${pending.length} client keys: ${
          (err as Error).message
        }`,
        { cause: err },
      );
    }
  }

  /** Last-used times buffered and not written yet. */
  get pendingTouches(): number {
    return this.#pendingTouches.size;
  }

  /** Every key with its hash, for {@linkcode KeyVerifier.load}. */
  snapshot(): StoredKey[] {
    return (this.#selectAll.all() as unknown as Row[]).map(toRecord);
  }

  /** Every row as instances exchange it (key_replica.ts). */
  replicaRows(): KeyReplica[] {
    return replicaRows(this.#db);
  }

  /** Merges rows from other instances (key_replica.ts). */
  mergeReplicas(rows: readonly KeyReplica[]): MergeResult {
    this.flush();
    return mergeReplicas(this.#db, rows);
  }

  /** A cheap value that changes whenever a key is created or revoked, by any process. */
  changeStamp(): string {
    return String((this.#stamp.get() as { stamp: string }).stamp);
  }

  /** Flushes last-used times and closes the connection. */
  close(): void {
    if (this.#closed) return;
    try {
      this.flush();
    } finally {
      this.#closed = true;
      this.#db.close();
    }
  }

  /** Same as {@linkcode close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}

interface Row {
  id: number | bigint;
  name: string;
  prefix: string;
  hash: string;
  createdAt: number;
  expiresAt: number | null;
  rpm: number | null;
  burst: number | null;
  models: string | null;
  revokedAt: number | null;
  lastUsedAt: number | null;
  budget: string | null;
  owner: string | null;
}

function toRecord(row: Row): StoredKey {
  const num = (v: number | bigint | null) => v === null ? null : Number(v);
  return {
    id: Number(row.id),
    name: row.name,
    prefix: row.prefix,
    hash: row.hash,
    createdAt: Number(row.createdAt),
    expiresAt: num(row.expiresAt),
    rpm: num(row.rpm),
    burst: num(row.burst),
    models: row.models === null ? null : JSON.parse(row.models) as string[],
    revokedAt: num(row.revokedAt),
    lastUsedAt: num(row.lastUsedAt),
    budget: row.budget === null ? null : JSON.parse(row.budget) as Budget,
    ...(row.owner === null ? {} : { owner: row.owner }),
  };
}

/**
 * How long a key statement waits for another connection's lock: `flow-proxy
 * keys` and the admin API make one statement per command, and a person can
 * wait five seconds for a `sqlite3` shell's transaction to end.
 */
const KEY_BUSY_TIMEOUT_MS = 5000;

/**
 * Opens (creating if needed) the database at `path` and its `client_keys`
 * table. WAL and a busy timeout let the request log, workers and the `keys`
 * command share the file.
 */
export function openKeyStore(
  path: string,
  options: KeyStoreOptions = {},
): KeyStore {
  let db: DatabaseSync;
  try {
    db = openDatabase(path, { busyTimeoutMs: KEY_BUSY_TIMEOUT_MS });
  } catch (err) {
    const { stage, message, cause } = err as SqliteOpenError;
    throw new Error(
      `Cannot ${
        stage === "open" ? "open" : "use"
      } key database "${path}": ${message}`,
      { cause },
    );
  }
  try {
    db.exec(SCHEMA);
    addMissingColumns(db);
    return new KeyStore(db, options);
  } catch (err) {
    db.close();
    throw new Error(
      `Cannot use key database "${path}": ${(err as Error).message}`,
      { cause: err },
    );
  }
}

/** What {@linkcode watchKeys} uses of a {@linkcode KeyStore}. */
export type WatchedStore = Pick<KeyStore, "changeStamp" | "snapshot" | "flush">;

/** Options of {@linkcode watchKeys}. */
export interface WatchKeysOptions {
  /** How often to look for changes; default 1000 ms. */
  intervalMs?: number;
  /** Called after the verifier was reloaded, with the number of keys. */
  onReload?: (count: number) => void;
  /** Called with the first error of a run of failed polls (a locked or missing database). */
  onError?: (err: unknown) => void;
}

/** A running {@linkcode watchKeys}; close it on shutdown. */
export interface KeyWatch extends Disposable {
  /** Reloads now if the store changed (e.g. right after the admin API changed a key); true if it did. */
  check(): boolean;
  /** Stops polling (and flushes last-used times); the poll timer keeps the event loop alive until then. */
  close(): void;
}

/**
 * Keeps `verifier` in step with `store`: loads it now, then polls the store's
 * change stamp, so keys created or revoked by any process (`flow-proxy keys`,
 * the admin API in another worker) take effect within one interval. Each
 * poll also writes the store's buffered last-used times.
 */
export function watchKeys(
  store: WatchedStore,
  verifier: KeyVerifier,
  options: WatchKeysOptions = {},
): KeyWatch {
  let stamp = store.changeStamp();
  verifier.load(store.snapshot());
  let failing = false;

  function check(): boolean {
    const current = store.changeStamp();
    if (current === stamp) return false;
    const snapshot = store.snapshot();
    stamp = current;
    verifier.load(snapshot);
    options.onReload?.(snapshot.length);
    return true;
  }

  function poll(): void {
    try {
      store.flush();
      check();
      failing = false;
    } catch (err) {
      if (!failing) options.onError?.(err);
      failing = true;
    }
  }

  const timer = setInterval(poll, options.intervalMs ?? 1000);
  let closed = false;
  function close(): void {
    if (closed) return;
    closed = true;
    clearInterval(timer);
    try {
      store.flush();
    } catch (err) {
      options.onError?.(err);
    }
  }
  return { check, close, [Symbol.dispose]: close };
}

/** Adds the columns of {@linkcode ADDED_COLUMNS} a table made by an older flow-proxy lacks. */
function addMissingColumns(db: DatabaseSync): void {
  const have = new Set(
    (db.prepare("PRAGMA table_info(client_keys)").all() as { name: string }[])
      .map((c) => c.name),
  );
  for (const [name, type] of ADDED_COLUMNS) {
    if (have.has(name)) continue;
    try {
      db.exec(`ALTER TABLE client_keys ADD COLUMN ${name} ${type}`);
    } catch (err) {
      // Another process added it a moment ago.
      if (!/duplicate column/.test((err as Error).message)) throw err;
    }
  }
}
