import assert from "node:assert/strict";
import { openRedisLink } from "../../src/cluster/redis_link.ts";
import { parseRedisUrl, redisWhere } from "../../src/config/redis_url.ts";
import { startRedis } from "../support/redis.ts";

const PASSWORD = "redis-test-secret-7d1e";

function recorder() {
  const lines: { level: string; msg: string }[] = [];
  return {
    lines,
    logger: {
      warn: (msg: string) => void lines.push({ level: "warn", msg }),
      info: (msg: string) => void lines.push({ level: "info", msg }),
    },
  };
}

async function until(what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

Deno.test("openRedisLink() connects with password and database, and prefixes keys", async () => {
  await using redis = await startRedis({ password: PASSWORD });
  const log = recorder();
  await using link = await openRedisLink({
    url: parseRedisUrl(redis.url(3), "--redis-url"),
    prefix: "fp-test:",
    timeoutMs: 200,
    name: "flow-proxy-test",
    logger: log.logger,
  });
  assert.equal(link.up, true);
  await link.client.set("answer", "42");
  assert.equal(await redis.cli("-n", "3", "GET", "fp-test:answer"), "42");
  assert.equal(await redis.cli("-n", "0", "EXISTS", "fp-test:answer"), "0");
  assert.equal(link.where, `redis://:***@127.0.0.1:${redis.port}/3`);
  assert.deepEqual(log.lines, []);
});

Deno.test("openRedisLink() serves on without Redis: one WARNING, commands fail fast, back up after a restart", async () => {
  const redis = await startRedis({ password: PASSWORD });
  try {
    const log = recorder();
    const states: boolean[] = [];
    await using link = await openRedisLink({
      url: parseRedisUrl(redis.url(), "--redis-url"),
      prefix: "fp-test:",
      timeoutMs: 100,
      name: "flow-proxy-test",
      logger: log.logger,
      onState: (up) => states.push(up),
    });
    assert.equal(link.up, true);
    await redis.kill();
    await until("the link to notice", () => !link.up);
    const started = Date.now();
    await assert.rejects(link.client.get("x"));
    assert.ok(
      Date.now() - started < 2_000,
      "a command while down must not wait for the reconnect",
    );
    await new Promise((r) => setTimeout(r, 400)); // several reconnect attempts fail meanwhile
    assert.equal(
      log.lines.filter((l) => l.level === "warn").length,
      1,
      JSON.stringify(log.lines),
    );
    await redis.restart();
    await until("the link to reconnect", () => link.up);
    assert.equal(await link.client.set("x", "1"), "OK");
    assert.deepEqual(states, [true, false, true]);
    assert.equal(log.lines.at(-1)?.level, "info");
    for (const line of log.lines) {
      assert.ok(!line.msg.includes(PASSWORD), line.msg);
    }
  } finally {
    await redis.stop();
  }
});

Deno.test("openRedisLink() resolves with up=false when Redis is not there at start", async () => {
  const log = recorder();
  const redis = await startRedis();
  const url = parseRedisUrl(redis.url(), "--redis-url");
  await redis.kill();
  await using link = await openRedisLink({
    url,
    prefix: "fp-test:",
    timeoutMs: 100,
    name: "flow-proxy-test",
    logger: log.logger,
  });
  assert.equal(link.up, false);
  assert.equal(log.lines.length, 1);
  assert.match(log.lines[0].msg, /unreachable/);
});

Deno.test("parseRedisUrl() refuses what is not a Redis URL, never quoting a password", async (t) => {
  const cases: [string, RegExp][] = [
    ["http://h:6379", /must be a redis:\/\/ or rediss:\/\/ URL/],
    ["redis://:hunter2@h:6379/x", /only have a database number/],
    ["redis://:hunter2@h:6379/0?db=1", /query or fragment/],
    ["not a url", /must be a redis:\/\/ or rediss:\/\/ URL/],
  ];
  for (const [value, message] of cases) {
    await t.step(value, () => {
      assert.throws(() => parseRedisUrl(value, "--redis-url"), (err: Error) => {
        assert.match(err.message, message);
        assert.ok(!err.message.includes("hunter2"), err.message);
        assert.match(err.message, /^--redis-url/);
        return true;
      });
    });
  }
  assert.equal(
    redisWhere(parseRedisUrl("rediss://app:pw@cache.internal:6380/2", "x")),
    "rediss://app:***@cache.internal:6380/2",
  );
  assert.equal(redisWhere(parseRedisUrl("redis://h", "x")), "redis://h");
});
