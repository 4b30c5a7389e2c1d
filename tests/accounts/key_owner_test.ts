import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { openKeyStore } from "../../src/access/key_store.ts";
import { keyRecordJson } from "../../src/access/client_keys.ts";

Deno.test("openKeyStore() adds the owner column to a key table made before it, keeping the keys", async () => {
  const dir = await Deno.makeTempDir({ prefix: "flow-proxy-key-owner-" });
  try {
    const path = join(dir, "flow-proxy.db");
    const old = new DatabaseSync(path);
    old.exec(`CREATE TABLE client_keys (
      id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, prefix TEXT NOT NULL, hash TEXT NOT NULL,
      created_at INTEGER NOT NULL, expires_at INTEGER, rpm INTEGER, burst INTEGER, models TEXT,
      revoked_at INTEGER, last_used_at INTEGER)`);
    old.exec(
      "INSERT INTO client_keys (name, prefix, hash, created_at) VALUES ('old', 'fpk_abcdef', 'h', 1)",
    );
    old.close();
    {
      using store = openKeyStore(path);
      const created = store.create({ name: "ana-laptop", owner: "ana" });
      assert.equal(created.record.owner, "ana");
      assert.deepEqual(store.list().map((k) => [k.name, k.owner ?? null]), [[
        "old",
        null,
      ], ["ana-laptop", "ana"]]);
      assert.equal(keyRecordJson(store.list()[0], 2).owner, null);
    }
    using again = openKeyStore(path);
    assert.equal(again.list()[1].owner, "ana", "opening twice is fine");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
