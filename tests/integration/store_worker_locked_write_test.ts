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
import { holdWriteLock } from "../support/sqlite_lock.ts";
import { makeRecord } from "../observe/metrics_records.ts";

/** Longer than the request log's 2 s busy timeout. */
const LOCK_SECONDS = 4;

function record(id: string): RequestRecord {
  return makeRecord({
    id,
    ts: Date.now(),
    credential: "primary",
    model: "gpt-4o",
    durationMs: 1,
    bytesIn: 1,
    bytesOut: 1,
  });
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
    const { released } = await holdWriteLock(db, LOCK_SECONDS);

    await store.requestLog.write([record("a"), record("b")]);
    const { success, stderr } = await released;
    assert.ok(success, `sqlite3 committed and exited: ${stderr}`);

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
