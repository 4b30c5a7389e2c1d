/**
 * Another process holding a database's write lock, as an operator's `sqlite3`
 * shell or a retention job would: a real `sqlite3` in `BEGIN EXCLUSIVE` for a
 * bounded time.
 */
import { DatabaseSync } from "node:sqlite";

/** Whether some connection holds `db`'s write lock right now. */
export function isWriteLocked(db: string): boolean {
  const conn = new DatabaseSync(db);
  try {
    conn.exec("PRAGMA busy_timeout = 0");
    conn.exec("BEGIN IMMEDIATE");
    conn.exec("ROLLBACK");
    return false;
  } catch (err) {
    return /database is locked/.test((err as Error).message);
  } finally {
    conn.close();
  }
}

/** A lock held by {@linkcode holdWriteLock}. */
export interface HeldLock {
  /** `performance.now()` when the lock was seen held. */
  lockedAt: number;
  /** Settles when sqlite3 has committed and exited. */
  released: Promise<{ success: boolean; stderr: string }>;
}

/**
 * Starts `sqlite3` holding `db`'s write lock for `seconds`, and resolves once
 * the lock is held (within 2 s, else it throws).
 */
export async function holdWriteLock(
  db: string,
  seconds: number,
): Promise<HeldLock> {
  const locker = new Deno.Command("sqlite3", {
    // Its own busy timeout: the store worker may be writing when it starts.
    args: [
      "-cmd",
      ".timeout 5000",
      db,
      "BEGIN EXCLUSIVE;",
      `.system sleep ${seconds}`,
      "COMMIT;",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const released = (async () => {
    const stderr = await new Response(locker.stderr).text();
    return { success: (await locker.status).success, stderr };
  })();
  // sqlite3 buffers its output in a pipe: watch for the lock itself (bounded).
  for (let i = 0; i < 200; i++) {
    if (isWriteLocked(db)) return { lockedAt: performance.now(), released };
    await new Promise((r) => setTimeout(r, 10));
  }
  await released;
  throw new Error(`sqlite3 did not take the write lock of ${db} within 2 s`);
}
