/** What every SQLite connection of flow-proxy does the same way: a failed transaction keeps its own error. */
import type { DatabaseSync } from "node:sqlite";

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
