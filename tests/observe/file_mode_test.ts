/** Files flow-proxy creates are private (0600): the database, its -wal and -shm, and the log file. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { openRequestLog } from "../../src/request_log/sqlite_store.ts";
import { openKeyStore } from "../../src/access/key_store.ts";
import { closeLogging, getLog, setupLogging } from "../../src/base/logging.ts";

function mode(path: string): string {
  return (Deno.statSync(path).mode! & 0o777).toString(8);
}

Deno.test("openRequestLog() creates the database, -wal and -shm with mode 0600", async () => {
  const dir = Deno.makeTempDirSync();
  const path = join(dir, "flow-proxy.db");
  const store = openRequestLog(path);
  try {
    await store.write([]);
    store.database.exec(
      "CREATE TABLE IF NOT EXISTS t (x); INSERT INTO t VALUES (1)",
    );
    for (const file of [path, `${path}-wal`, `${path}-shm`]) {
      assert.equal(mode(file), "600", file);
    }
  } finally {
    await store.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("openKeyStore() creates the database, -wal and -shm with mode 0600", () => {
  const dir = Deno.makeTempDirSync();
  const path = join(dir, "keys.db");
  try {
    using store = openKeyStore(path);
    store.create({ name: "ci" });
    for (const file of [path, `${path}-wal`, `${path}-shm`]) {
      assert.equal(mode(file), "600", file);
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("setupLogging() creates the --log-file with mode 0600", () => {
  const dir = Deno.makeTempDirSync();
  const file = join(dir, "flow-proxy.log");
  try {
    setupLogging({ level: "INFO", thread: "t", file, write: () => {} });
    getLog("test").info("hello");
    closeLogging();
    assert.match(Deno.readTextFileSync(file), /hello/);
    assert.equal(mode(file), "600");
  } finally {
    closeLogging();
    Deno.removeSync(dir, { recursive: true });
  }
});
