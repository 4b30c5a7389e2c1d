/**
 * What every SQLite connection of flow-proxy does the same way: one opener
 * with one set of pragmas, the database file created private (it holds key
 * hashes and who called what), and a failed transaction that keeps its own
 * error.
 *
 * The pragmas of {@linkcode openDatabase}, and why:
 * - `busy_timeout`: the file is shared by the store worker's two connections
 *   (client keys, request log), `flow-proxy keys` and whatever an operator
 *   runs (`sqlite3`, a retention `DELETE`); a statement that meets another
 *   connection's lock waits this long before failing with "database is
 *   locked" instead of failing at once. Each caller states its own wait
 *   ({@linkcode OpenDatabaseOptions.busyTimeoutMs}).
 * - `journal_mode = WAL`: readers never block the writer nor it them, so a
 *   usage query or a key listing does not stall the request log. The mode is
 *   stored in the file; setting it again is a no-op.
 * - `synchronous = NORMAL`: with WAL, a commit survives a process crash; an
 *   OS crash or power loss may lose the last transactions, never corrupt the
 *   file. The request log's batches are not worth an fsync each.
 */
import { DatabaseSync } from "node:sqlite";
import { describe } from "./describe.ts";

/** Mode of a database file flow-proxy creates; SQLite gives its -wal and -shm files the same. */
export const DB_FILE_MODE = 0o600;

/**
 * Creates `path` empty with mode 0600 when it does not exist yet, so that
 * SQLite (which would create it 0644 under the usual umask) opens a private
 * file. An existing file keeps its mode; special names (`:memory:`, `file:`
 * URIs) are left to SQLite.
 */
export function createPrivateFile(path: string): void {
  if (path === "" || path === ":memory:" || path.startsWith("file:")) return;
  try {
    Deno.openSync(path, { createNew: true, write: true, mode: DB_FILE_MODE })
      .close();
  } catch {
    // Exists already (it keeps its mode), or cannot be created: SQLite's open says why.
  }
}

/**
 * Rolls back after `err` ended a transaction early, and returns the error to
 * throw: `err` itself. SQLite rolls some failures back on its own (a full
 * disk, SQLITE_FULL, at COMMIT); an unconditional ROLLBACK then fails with
 * "cannot rollback - no transaction is active", which used to replace the
 * real cause. A ROLLBACK that fails for another reason is attached as the
 * error's `rollbackError` rather than thrown.
 */
export function rollbackAfter(db: DatabaseSync, err: unknown): unknown {
  if (!db.isOpen || !db.isTransaction) return err;
  try {
    db.exec("ROLLBACK");
  } catch (rollbackError) {
    if (err instanceof Error) {
      Object.defineProperty(err, "rollbackError", {
        value: rollbackError,
        enumerable: false,
      });
    }
  }
  return err;
}

/** Device and inode of a file, to notice it was deleted or replaced; null when it is missing. */
export interface FileIdentity {
  dev: number;
  ino: number;
}

/** The {@linkcode FileIdentity} of `path` now; null when nothing is there. */
export function fileIdentity(path: string): FileIdentity | null {
  try {
    const info = Deno.statSync(path);
    return { dev: info.dev, ino: info.ino ?? 0 };
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
}

/**
 * Options of {@linkcode openDatabase}: a connection that writes states how
 * long it waits for a lock; a read-only one (`flow-proxy usage`) creates
 * nothing and sets no pragma, since it changes nothing in the file.
 */
export type OpenDatabaseOptions =
  | {
    /** How long a statement waits for another connection's lock before "database is locked". */
    busyTimeoutMs: number;
    readOnly?: false;
  }
  | {
    /** Open an existing file for reading only. */
    readOnly: true;
  };

/**
 * Why {@linkcode openDatabase} failed: `stage` is `"open"` when the file could
 * not be opened (missing directory, permissions) and `"configure"` when it
 * opened but its pragmas failed (not a database, locked); `cause` is SQLite's
 * error and `message` its message.
 */
export class SqliteOpenError extends Error {
  /** Which step failed. */
  readonly stage: "open" | "configure";

  /** An error of `stage` caused by `cause`. */
  constructor(stage: "open" | "configure", cause: unknown) {
    super(describe(cause), { cause });
    this.name = "SqliteOpenError";
    this.stage = stage;
  }
}

/**
 * Opens (creating it private when missing) the database at `path` read-write
 * with flow-proxy's pragmas (see the module's doc), or read-only. Throws
 * {@linkcode SqliteOpenError}; a database that opened is closed again when a
 * pragma fails.
 */
export function openDatabase(
  path: string,
  options: OpenDatabaseOptions,
): DatabaseSync {
  let db: DatabaseSync;
  try {
    if (options.readOnly) return new DatabaseSync(path, { readOnly: true });
    createPrivateFile(path);
    db = new DatabaseSync(path);
  } catch (err) {
    throw new SqliteOpenError("open", err);
  }
  try {
    db.exec(
      `PRAGMA busy_timeout = ${Math.max(0, Math.trunc(options.busyTimeoutMs))}`,
    );
    db.exec("PRAGMA journal_mode = WAL");
    db.exec("PRAGMA synchronous = NORMAL");
    return db;
  } catch (err) {
    db.close();
    throw new SqliteOpenError("configure", err);
  }
}
