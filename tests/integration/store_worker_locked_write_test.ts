/**
 * The store worker waits out a lock held by another process for a batch of
 * request records, instead of dropping the batch after one busy timeout.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { getLog } from "../../src/base/logging.ts";
import type { RequestRecord } from "../../src/request_log/record.ts";
import { StoreClient } from "../../src/server/store_client.ts";

/** Longer than the request log's 2 s busy timeout. */
const LOCK_SECONDS = 4;

function record(id: string): RequestRecord {
  return {
    id,
    ts: Date.now(),
    client: null,
    credential: "primary",
    method: "POST",
    path: "/v1/chat/completions",
    model: "gpt-4o",
    status: 200,
    durationMs: 1,
    ttftMs: null,
    bytesIn: 1,
    bytesOut: 1,
    tokensIn: null,
    tokensOut: null,
    cacheReadTokens: null,
    cacheWriteTokens: null,
    error: null,
    attempts: 1,
    stream: false,
  };
}

function isWriteLocked(db: string): boolean {
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

Deno.test("StoreClient.requestLog.write() waits for a lock held by sqlite3 longer than the busy timeout, then writes", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "flow-proxy-store-" });
  const db = join(dir, "flow-proxy.db");
  const store = await StoreClient.start({
    path: db,
    logLevel: "ERROR",
    logFile: null,
    logger: getLog("test"),
  });
  try {
    const locker = new Deno.Command("sqlite3", {
      // Its own busy timeout: the store worker may be writing when it starts.
      args: [
        "-cmd",
        ".timeout 5000",
        db,
        "BEGIN EXCLUSIVE;",
        `.system sleep ${LOCK_SECONDS}`,
        "COMMIT;",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    let locked = false;
    for (let i = 0; i < 200 && !locked; i++) {
      locked = isWriteLocked(db);
      if (!locked) await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(locked, "sqlite3 holds the write lock");

    await store.requestLog.write([record("a"), record("b")]);
    assert.ok((await locker.status).success);

    const conn = new DatabaseSync(db, { readOnly: true });
    try {
      const ids = conn.prepare("SELECT id FROM requests ORDER BY id").all()
        .map((r) => r.id);
      assert.deepEqual(ids, ["a", "b"]);
    } finally {
      conn.close();
    }
  } finally {
    await store.close();
    Deno.removeSync(dir, { recursive: true });
  }
});
