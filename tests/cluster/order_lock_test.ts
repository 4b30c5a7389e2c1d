/**
 * The lock across instances (the ACME order's) against a real redis-server:
 * one holder at a time, renewed while the work runs, released after; a
 * holder that dies lets it expire; with Redis down the work runs anyway.
 */
import assert from "node:assert/strict";
import { openRedisLink, type RedisLink } from "../../src/cluster/redis_link.ts";
import { redisLock } from "../../src/cluster/order_lock.ts";
import { parseRedisUrl } from "../../src/config/redis_url.ts";
import { type RedisServer, startRedis } from "../support/redis.ts";

function recorder() {
  const lines: string[] = [];
  return {
    lines,
    logger: {
      warn: (m: string) => void lines.push(`WARN ${m}`),
      info: (m: string) => void lines.push(`INFO ${m}`),
    },
  };
}

function link(redis: RedisServer, name: string): Promise<RedisLink> {
  return openRedisLink({
    url: parseRedisUrl(redis.url(), "--redis-url"),
    prefix: "fp-lock:",
    timeoutMs: 200,
    name,
    logger: { warn() {}, info() {} },
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("redisLock(): two instances never run the work at once; the lock is renewed while it runs and released after", async () => {
  await using redis = await startRedis();
  await using a = await link(redis, "a");
  await using b = await link(redis, "b");
  const logA = recorder();
  const logB = recorder();
  const lockA = redisLock({
    link: a,
    logger: logA.logger,
    ttlMs: 300,
    pollMs: 20,
  });
  const lockB = redisLock({
    link: b,
    logger: logB.logger,
    ttlMs: 300,
    pollMs: 20,
  });
  const events: string[] = [];
  const work = (who: string) => async () => {
    events.push(`${who} start`);
    // Longer than the lock's lifetime: only renewal keeps the other out.
    await sleep(700);
    events.push(`${who} end`);
    return who;
  };
  const first = lockA.hold("acme:example.test", work("a"));
  await sleep(50);
  const second = lockB.hold("acme:example.test", work("b"));
  assert.deepEqual(await Promise.all([first, second]), ["a", "b"]);
  assert.deepEqual(events, ["a start", "a end", "b start", "b end"]);
  assert.deepEqual(logB.lines, [
    'INFO Another instance holds the lock "acme:example.test": waiting for it',
  ]);
  assert.equal(
    await redis.cli("EXISTS", "fp-lock:lock:acme:example.test"),
    "0",
  );
  // Another name is another lock.
  const both = await Promise.all([
    lockA.hold("acme:one.test", () => sleep(100).then(() => Date.now())),
    lockB.hold("acme:two.test", () => sleep(100).then(() => Date.now())),
  ]);
  assert.ok(Math.abs(both[0] - both[1]) < 100);
});

Deno.test("redisLock(): a holder that dies lets the lock expire; with Redis down the work runs without it", async () => {
  await using redis = await startRedis();
  await using b = await link(redis, "b");
  // A holder gone without a word: its key with a short life and no renewal.
  await redis.cli("SET", "fp-lock:lock:acme:x.test", "dead", "PX", "300");
  const log = recorder();
  const lock = redisLock({
    link: b,
    logger: log.logger,
    ttlMs: 300,
    pollMs: 20,
  });
  const started = Date.now();
  assert.equal(await lock.hold("acme:x.test", () => Promise.resolve(1)), 1);
  assert.ok(Date.now() - started >= 200);

  await redis.kill();
  assert.equal(await lock.hold("acme:x.test", () => Promise.resolve(2)), 2);
  assert.match(
    log.lines.at(-1)!,
    /^WARN Cannot take the lock "acme:x.test" in Redis .*: going on without it$/,
  );
});
