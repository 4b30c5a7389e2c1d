/**
 * The users-and-sessions bridge against a real redis-server, over tables
 * kept in memory: rows travel both ways, every instance ends on the last
 * write Redis numbered (a late, older message changes nothing), deletions
 * travel, and rows changed while Redis was down are pushed, not lost.
 */
import assert from "node:assert/strict";
import { openRedisLink, type RedisLink } from "../../src/cluster/redis_link.ts";
import {
  type AccountSync,
  shareAccounts,
} from "../../src/cluster/account_sync.ts";
import type { AccountReplica } from "../../src/accounts/replica.ts";
import { parseRedisUrl } from "../../src/config/redis_url.ts";
import { type RedisServer, startRedis } from "../support/redis.ts";

/** Accounts rows in memory, as the store worker would keep them. */
class MemoryTables {
  rows = new Map<string, string>();
  merges: AccountReplica[][] = [];
  rowsNow(): Promise<[string, string][]> {
    return Promise.resolve([...this.rows].sort(([a], [b]) => a < b ? -1 : 1));
  }
  merge(rows: AccountReplica[]): Promise<string[]> {
    this.merges.push(rows);
    const applied: string[] = [];
    for (const r of rows) {
      // As the real tables: a session needs its user.
      if (
        r.field.startsWith("session:") && r.row !== null &&
        !this.rows.has(`user:${r.row.user}`)
      ) continue;
      if (r.row === null) this.rows.delete(r.field);
      else this.rows.set(r.field, JSON.stringify(r.row));
      applied.push(r.field);
    }
    return Promise.resolve(applied);
  }
}

interface Instance {
  tables: MemoryTables;
  link: RedisLink;
  bridge: AccountSync;
  close(): Promise<void>;
}

async function instance(redis: RedisServer, name: string): Promise<Instance> {
  const tables = new MemoryTables();
  const link = await openRedisLink({
    url: parseRedisUrl(redis.url(), "--redis-url"),
    prefix: "fp-acc:",
    timeoutMs: 200,
    name,
    logger: { warn() {}, info() {} },
  });
  const bridge = shareAccounts({
    link,
    store: { rows: () => tables.rowsNow(), merge: (r) => tables.merge(r) },
    instance: name,
    logger: { warn() {}, info() {} },
  });
  return {
    tables,
    link,
    bridge,
    async close() {
      await bridge.close();
      await link.close();
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

const user = (role: string) => JSON.stringify({ name: "alice", role });

Deno.test("account sync: rows and deletions travel both ways; all end on the last write", async () => {
  await using redis = await startRedis();
  const a = await instance(redis, "a");
  const b = await instance(redis, "b");
  try {
    a.tables.rows.set("user:alice", user("member"));
    await until(
      "alice on b",
      () => b.tables.rows.get("user:alice") === user("member"),
    );
    b.tables.rows.set("user:alice", user("admin"));
    await until(
      "the role change on a",
      () => a.tables.rows.get("user:alice") === user("admin"),
    );
    b.tables.rows.set("session:abc", JSON.stringify({ user: "alice" }));
    await until("the session on a", () => a.tables.rows.has("session:abc"));
    a.tables.rows.delete("session:abc");
    await until("the logout on b", () => !b.tables.rows.has("session:abc"));

    // A late copy of an older write changes nothing: its number is lower.
    const merges = a.tables.merges.length;
    const old = JSON.stringify({
      seq: 1,
      by: "c",
      field: "user:alice",
      row: { name: "alice", role: "member" },
    });
    await redis.cli("PUBLISH", "fp-acc:accounts", old);
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(a.tables.rows.get("user:alice"), user("admin"));
    assert.equal(a.tables.merges.length, merges);
    // What Redis holds for it is the last write, numbered above the first.
    const entry = JSON.parse(
      await redis.cli("HGET", "fp-acc:{accounts}", "user:alice"),
    );
    assert.equal(entry.row.role, "admin");
    assert.ok(entry.seq > 1);
  } finally {
    await a.close();
    await b.close();
  }
});

Deno.test("account sync: a row changed while Redis was down is pushed after it is back, and Redis seeds a new instance", async () => {
  const redis = await startRedis();
  try {
    const a = await instance(redis, "a");
    const b = await instance(redis, "b");
    try {
      a.tables.rows.set("user:alice", user("member"));
      await until("alice on b", () => b.tables.rows.has("user:alice"));
      await redis.kill();
      await until("a to notice", () => !a.link.up);
      a.tables.rows.set(
        "user:alice",
        JSON.stringify({ name: "alice", role: "member", disabled: 1 }),
      );
      await new Promise((r) => setTimeout(r, 400));
      await redis.restart();
      await until(
        "the disabled user on b",
        () =>
          b.tables.rows.get("user:alice")?.includes('"disabled":1') === true,
        8_000,
      );
      // A new instance with empty tables gets everything from Redis.
      const c = await instance(redis, "c");
      try {
        await until(
          "alice on c",
          () =>
            c.tables.rows.get("user:alice") === a.tables.rows.get("user:alice"),
        );
      } finally {
        await c.close();
      }
    } finally {
      await a.close();
      await b.close();
    }
  } finally {
    await redis.stop();
  }
});

Deno.test("account sync: a session that arrives before its user waits for it, and is applied as soon as the user is", async () => {
  await using redis = await startRedis();
  const a = await instance(redis, "a");
  try {
    // Another instance's two writes, the session's message first.
    const entry = (seq: number, field: string, row: unknown) =>
      JSON.stringify({ seq, by: "other", field, row });
    await redis.cli(
      "PUBLISH",
      "fp-acc:accounts",
      entry(2, "session:abc", { user: "carol" }),
    );
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(a.tables.rows.has("session:abc"), false);
    await redis.cli(
      "PUBLISH",
      "fp-acc:accounts",
      entry(1, "user:carol", { name: "carol" }),
    );
    await until(
      "the session after its user",
      () => a.tables.rows.has("session:abc"),
      1_000,
    );
  } finally {
    await a.close();
  }
});

Deno.test("account sync: a deletion older than a week is pruned from Redis, a recent one kept", async () => {
  await using redis = await startRedis();
  const old = JSON.stringify({
    seq: 1,
    at: Date.now() - 8 * 24 * 3_600_000,
    by: "other",
    field: "session:old",
    row: null,
  });
  const recent = JSON.stringify({
    seq: 2,
    at: Date.now() - 3_600_000,
    by: "other",
    field: "session:recent",
    row: null,
  });
  await redis.cli(
    "HSET",
    "fp-acc:{accounts}",
    "session:old",
    old,
    "session:recent",
    recent,
  );
  const a = await instance(redis, "a");
  try {
    for (let i = 0; i < 50; i++) {
      if (
        (await redis.cli("HEXISTS", "fp-acc:{accounts}", "session:old")) === "0"
      ) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(
      await redis.cli("HEXISTS", "fp-acc:{accounts}", "session:old"),
      "0",
    );
    assert.equal(
      await redis.cli("HEXISTS", "fp-acc:{accounts}", "session:recent"),
      "1",
    );
    // A write numbers its entry with Redis's clock.
    a.tables.rows.set("user:dave", JSON.stringify({ name: "dave" }));
    for (let i = 0; i < 50; i++) {
      if (
        (await redis.cli("HEXISTS", "fp-acc:{accounts}", "user:dave")) === "1"
      ) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const entry = JSON.parse(
      await redis.cli("HGET", "fp-acc:{accounts}", "user:dave"),
    );
    assert.ok(Math.abs(entry.at - Date.now()) < 5_000);
  } finally {
    await a.close();
  }
});
