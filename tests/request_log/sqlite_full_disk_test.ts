/**
 * A full database (SQLITE_FULL) keeps its own error. `PRAGMA max_page_count`
 * makes SQLite fail exactly as on a full disk — "database or disk is full",
 * the transaction rolled back by SQLite itself — without a file system that
 * only root could make full.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import type { RequestRecord } from "../../src/request_log/record.ts";
import { openRequestLog } from "../../src/request_log/sqlite_store.ts";
import { RecordQueue } from "../../src/request_log/record_queue.ts";
import { KeyStore, openKeyStore } from "../../src/access/key_store.ts";
import { makeRecord } from "../observe/metrics_records.ts";

/** SQLite's primary result code for a full database or disk. */
const SQLITE_FULL = 13;

function record(i: number): RequestRecord {
  return makeRecord({
    id: `req-${i}-${"x".repeat(200)}`,
    ts: 1_700_000_000_000 + i,
    credential: "primary",
    path: `/v1/chat/completions/${"p".repeat(300)}`,
    model: "gpt-4o",
    durationMs: 1,
    bytesIn: 1,
    bytesOut: 1,
  });
}

/** Caps `db` at the pages it has now: the next page it needs fails as a full disk would. */
function fillUp(db: DatabaseSync): void {
  const { page_count: pages } = db.prepare("PRAGMA page_count").get() as {
    page_count: number;
  };
  db.exec(`PRAGMA max_page_count = ${pages}`);
}

Deno.test("SqliteStore.write() on a full database rejects with SQLite's own error, not a failed ROLLBACK", async () => {
  const dir = Deno.makeTempDirSync();
  const store = openRequestLog(join(dir, "full.db"));
  try {
    fillUp(store.database);
    const batch = Array.from({ length: 200 }, (_, i) => record(i));
    const err = await store.write(batch).then(
      () => assert.fail("the write should fail"),
      (e) => e as Error,
    );
    assert.match(err.message, /database or disk is full/);
    assert.doesNotMatch(err.message, /rollback/i);
    assert.equal((err.cause as { errcode?: number }).errcode, SQLITE_FULL);

    // Nothing half-written, and the store works once there is room again.
    store.database.exec("PRAGMA max_page_count = 1073741823");
    await store.write(batch.slice(0, 3));
    const { n } = store.database.prepare("SELECT count(*) AS n FROM requests")
      .get() as { n: number };
    assert.equal(n, 3);
  } finally {
    await store.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("RecordQueue logs the full-disk cause of a failed SQLite write", async () => {
  const dir = Deno.makeTempDirSync();
  const store = openRequestLog(join(dir, "full.db"));
  const errors: string[] = [];
  const queue = new RecordQueue([store], {
    capacity: 1000,
    flushIntervalMs: 1,
    logger: { warn: () => {}, error: (msg) => errors.push(msg) },
  });
  try {
    fillUp(store.database);
    queue.push(Array.from({ length: 200 }, (_, i) => record(i)));
    await queue.flush();
    assert.equal(queue.failed, 1);
    assert.equal(errors.length, 1);
    assert.match(errors[0], /database or disk is full/);
    assert.doesNotMatch(errors[0], /rollback/i);
  } finally {
    await queue.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("KeyStore.flush() on a full database throws SQLite's own error and keeps the last-used times for later", () => {
  const dir = Deno.makeTempDirSync();
  const path = join(dir, "keys.db");
  const names = Array.from({ length: 300 }, (_, i) => `key-${i}`);
  {
    using setup = openKeyStore(path);
    for (const name of names) setup.create({ name });
  }
  const db = new DatabaseSync(path);
  db.exec("VACUUM");
  fillUp(db);
  const store = new KeyStore(db, { touchFlushMs: Infinity });
  try {
    for (const name of names) store.touch(name, 1_800_000_000_000);
    let thrown: Error | null = null;
    try {
      store.flush();
    } catch (e) {
      thrown = e as Error;
    }
    assert.ok(thrown, "the flush should fail while the database is full");
    assert.match(thrown.message, /database or disk is full/);
    assert.doesNotMatch(thrown.message, /rollback/i);
    assert.equal(
      (thrown.cause as { errcode?: number }).errcode,
      SQLITE_FULL,
    );
    assert.equal(store.pendingTouches, names.length);

    db.exec("PRAGMA max_page_count = 1073741823");
    store.flush();
    assert.equal(store.pendingTouches, 0);
    assert.ok(
      store.list().every((r) => r.lastUsedAt === 1_800_000_000_000),
      "every last-used time is written once there is room",
    );
  } finally {
    store.close();
    Deno.removeSync(dir, { recursive: true });
  }
});
