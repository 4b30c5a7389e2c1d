/**
 * The client-key bridge against a real redis-server, over two real key
 * tables: a key made on one is merged into the other, a revocation
 * follows, and a Redis restarted empty is seeded again.
 */
import assert from "node:assert/strict";
import { openRedisLink, type RedisLink } from "../../src/cluster/redis_link.ts";
import { type KeySync, shareKeys } from "../../src/cluster/key_sync.ts";
import { type KeyStore, openKeyStore } from "../../src/access/key_store.ts";
import { hashKey } from "../../src/access/client_keys.ts";
import { parseRedisUrl } from "../../src/config/redis_url.ts";
import { type RedisServer, startRedis } from "../support/redis.ts";

interface Instance {
  keys: KeyStore;
  link: RedisLink;
  bridge: KeySync;
  /** Tells the bridge the table changed, as the store worker's keys message does. */
  changed(): void;
  close(): Promise<void>;
}

async function instance(redis: RedisServer, name: string): Promise<Instance> {
  const dir = Deno.makeTempDirSync({ prefix: "flow-proxy-keysync-" });
  const keys = openKeyStore(`${dir}/keys.db`);
  const listeners: (() => void)[] = [];
  const link = await openRedisLink({
    url: parseRedisUrl(redis.url(), "--redis-url"),
    prefix: "fp-keys:",
    timeoutMs: 200,
    name,
    logger: { warn() {}, info() {} },
  });
  const bridge = shareKeys({
    link,
    store: {
      rows: () => Promise.resolve(keys.replicaRows()),
      merge: (rows) => Promise.resolve(keys.mergeReplicas(rows)),
      onChange: (l) => void listeners.push(l),
    },
    instance: name,
    logger: { warn() {}, info() {} },
  });
  return {
    keys,
    link,
    bridge,
    changed: () => listeners.forEach((l) => l()),
    async close() {
      await bridge.close();
      await link.close();
      keys.close();
      Deno.removeSync(dir, { recursive: true });
    },
  };
}

async function until(what: string, check: () => boolean, ms = 3_000) {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

Deno.test("key sync: a key made on one table is merged into the other, its revocation follows, nothing but its hash travels", async () => {
  await using redis = await startRedis();
  const a = await instance(redis, "a");
  const b = await instance(redis, "b");
  try {
    await a.bridge.settled();
    await b.bridge.settled();
    const { key } = a.keys.create({ name: "ci" });
    a.changed();
    await until("the key in b", () => b.keys.snapshot().length === 1);
    assert.equal(b.keys.snapshot()[0].hash, hashKey(key));
    assert.ok(!(await redis.cli("HVALS", "fp-keys:keys")).includes(key));
    b.keys.revoke("ci");
    b.changed();
    await until(
      "the revocation in a",
      () => a.keys.snapshot()[0].revokedAt !== null,
    );
    // A damaged entry in the hash is ignored.
    await redis.cli("HSET", "fp-keys:keys", "0".repeat(64), "not json");
    await a.bridge.settled();
    assert.equal(a.keys.snapshot().length, 1);
  } finally {
    await a.close();
    await b.close();
  }
});

Deno.test("key sync: a Redis restarted empty is seeded again, and a key made meanwhile arrives", async () => {
  const redis = await startRedis();
  try {
    const a = await instance(redis, "a");
    const b = await instance(redis, "b");
    try {
      a.keys.create({ name: "first" });
      a.changed();
      await until("first in b", () => b.keys.snapshot().length === 1);
      await redis.kill();
      await until("b to notice", () => !b.link.up);
      b.keys.create({ name: "offline" });
      b.changed();
      await redis.restart();
      await until("offline in a", () => a.keys.snapshot().length === 2, 10_000);
      assert.equal(await redis.cli("HLEN", "fp-keys:keys"), "2");
    } finally {
      await a.close();
      await b.close();
    }
  } finally {
    await redis.stop();
  }
});
