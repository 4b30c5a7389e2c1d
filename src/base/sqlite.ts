/**
 * What every SQLite connection of flow-proxy does the same way: the database
 * file is created private (it holds key hashes and who called what), and a
 * failed transaction keeps its own error.
 */
import type { DatabaseSync } from "node:sqlite";

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
