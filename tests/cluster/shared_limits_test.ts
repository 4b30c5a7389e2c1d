/**
 * The access check with limits in Redis (src/cluster/shared_limits.ts), in
 * process: two "instances" (each its own shared memory, limiter and budget
 * table, and its own link) against one real redis-server. Exact limits over
 * parallel requests of both, the fallback and its one WARNING when Redis is
 * killed, the buffered spend arriving once after the restart, fail closed.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type AccessResult,
  createAccessControl,
} from "../../src/access/access.ts";
import { KeyVerifier } from "../../src/access/client_keys.ts";
import { openKeyStore } from "../../src/access/key_store.ts";
import { BudgetTable } from "../../src/access/budget_table.ts";
import { RateLimiter } from "../../src/access/rate_limit.ts";
import { createSharedState } from "../../src/base/shared_state.ts";
import { openRedisLink, type RedisLink } from "../../src/cluster/redis_link.ts";
import {
  shareLimits,
  type ThreadLimits,
} from "../../src/cluster/shared_limits.ts";
import { parseRedisUrl } from "../../src/config/redis_url.ts";
import { instanceRedisLogger, redisUp } from "../../src/server/redis_state.ts";
import { startRedis } from "../support/redis.ts";
import { eventually } from "./three_instances.ts";

const INFO = {
  remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 50000 },
} as unknown as Deno.ServeHandlerInfo;
const SIZE = {
  bodyBytes: 0,
  inputNanosPerToken: null,
  outputNanosPerToken: null,
};
const PREFIX = "fp-limits:";

function request(key: string): Request {
  return new Request("http://127.0.0.1:8899/v1/chat/completions", {
    method: "POST",
    headers: { authorization: `Bearer ${key}` },
  });
}

interface Instance {
  check(key: string): Promise<AccessResult>;
  settle(result: AccessResult, tokens: number): void;
  limits: ThreadLimits;
  links: RedisLink[];
  control: Int32Array;
}

Deno.test("limits in Redis hold exactly across instances, fall back while Redis is away, and count buffered spend once", async (t) => {
  const redis = await startRedis();
  const dir = await Deno.makeTempDir({ prefix: "flow-proxy-limits-" });
  const warnings: string[] = [];
  const infos: string[] = [];
  const instances: Instance[] = [];
  try {
    using store = openKeyStore(join(dir, "k.db"));
    const keys = {
      rate: store.create({ name: "rate", rpm: 60, burst: 5 }).key,
      rate2: store.create({ name: "rate2", rpm: 60, burst: 2 }).key,
      parallel: store.create({
        name: "parallel",
        budget: {
          period: "day",
          tokens: null,
          spendNanos: null,
          maxParallel: 2,
        },
      }).key,
      tokens: store.create({
        name: "tokens",
        budget: {
          period: "day",
          tokens: 3000,
          spendNanos: null,
          maxParallel: null,
        },
      }).key,
      spend: store.create({
        name: "spend",
        budget: {
          period: "day",
          tokens: 1_000_000,
          spendNanos: null,
          maxParallel: null,
        },
      }).key,
    };
    const snapshot = store.snapshot();

    const instance = async (
      failClosed: boolean,
      threads = 1,
    ): Promise<Instance> => {
      const state = createSharedState();
      const logger = instanceRedisLogger(state.control, {
        warn: (m) => void warnings.push(m),
        info: (m) => void infos.push(m),
      }, { limitsFail: failClosed ? "closed" : "open" });
      const links: RedisLink[] = [];
      for (let i = 0; i < threads; i++) {
        links.push(
          await openRedisLink({
            url: parseRedisUrl(redis.url(), "--redis-url"),
            prefix: PREFIX,
            timeoutMs: 1_000,
            name: `flow-proxy-limits-test-${i}`,
            logger,
          }),
        );
      }
      const limits = shareLimits({
        link: links[0],
        failClosed,
        logger: { error: () => {} },
        leaseMs: 60_000,
      });
      const access = createAccessControl({
        keys: new KeyVerifier(snapshot),
        requireKey: true,
        limiter: new RateLimiter(state.limits),
        defaultRpm: 0,
        defaultBurst: 0,
        ipFilter: null,
        budgets: new BudgetTable(state.budgets),
        shared: limits,
      });
      const made: Instance = {
        check: async (key) =>
          await access(request(key), INFO, "gpt-4o", null, SIZE),
        settle(result, tokens) {
          if (result.ok && result.lease) {
            access.settle(result.lease, { tokens, nanos: null });
          }
        },
        limits,
        links,
        control: state.control,
      };
      instances.push(made);
      return made;
    };

    const a = await instance(false, 2);
    const b = await instance(false);

    await t.step(
      "a rate limit holds exactly over parallel requests of both instances",
      async () => {
        const results = await Promise.all(
          Array.from(
            { length: 20 },
            (_, i) => (i % 2 ? a : b).check(keys.rate),
          ),
        );
        assert.equal(results.filter((r) => r.ok).length, 5);
        const refused = results.find((r) => !r.ok);
        assert.ok(refused && !refused.ok);
        assert.equal(refused.type, "rate_limited");
        assert.ok(refused.headers.some(([h]) => h === "retry-after"));
        // Both instances now refuse it: one of them from its local fast path.
        assert.equal((await a.check(keys.rate)).ok, false);
        assert.equal((await b.check(keys.rate)).ok, false);
      },
    );

    await t.step(
      "a concurrency limit holds exactly, and a settled request frees its place",
      async () => {
        const results = await Promise.all(
          Array.from(
            { length: 8 },
            (_, i) => (i % 2 ? a : b).check(keys.parallel),
          ),
        );
        const allowed = results.filter((r) => r.ok);
        assert.equal(allowed.length, 2);
        const refused = results.find((r) => !r.ok);
        assert.ok(refused && !refused.ok && refused.type === "budget_exceeded");
        assert.match(refused.message, /2 requests in flight/);
        a.settle(allowed[0], 0);
        await eventually(10_000, "a place is free again", async () => {
          const again = await b.check(keys.parallel);
          if (again.ok) b.settle(again, 0);
          return again.ok;
        });
      },
    );

    await t.step(
      "a token budget holds exactly, and each charge counts once",
      async () => {
        // Each request reserves 1024 tokens: three fit under 3000 (0 + 2048 < 3000).
        const results = await Promise.all(
          Array.from(
            { length: 6 },
            (_, i) => (i % 2 ? a : b).check(keys.tokens),
          ),
        );
        const allowed = results.filter((r) => r.ok);
        assert.equal(allowed.length, 3);
        for (const [i, r] of allowed.entries()) {
          const by = i % 2 ? a : b;
          by.settle(r, 1000);
          // The same request settled twice (a retry) is not charged twice.
          by.settle(r, 1000);
        }
        await eventually(
          10_000,
          "the charges are in Redis",
          async () =>
            (await redis.cli("HGET", `${PREFIX}bg:{tokens}`, "tokens")) ===
              "3000" &&
            (await redis.cli("HGET", `${PREFIX}bg:{tokens}`, "rt")) === "0",
        );
        const after = await a.check(keys.tokens);
        assert.ok(!after.ok && after.type === "budget_exceeded");
        assert.match(after.message, /3000 of its 3000 tokens/);
      },
    );

    await t.step(
      "seeding from the request log never adds to what Redis counts",
      async () => {
        // An instance (re)starting reads the same 3000 tokens from its log.
        const period = Number(
          await redis.cli("HGET", `${PREFIX}bg:{tokens}`, "period"),
        );
        b.limits.seed("tokens", period, { tokens: 3000, nanos: 0 });
        // A counter Redis does not have yet is seeded.
        b.limits.seed("fresh", period, { tokens: 42, nanos: 7 });
        await eventually(
          10_000,
          "the fresh counter is seeded",
          async () =>
            (await redis.cli("HGET", `${PREFIX}bg:{fresh}`, "tokens")) === "42",
        );
        assert.equal(
          await redis.cli("HGET", `${PREFIX}bg:{tokens}`, "tokens"),
          "3000",
        );
      },
    );

    await t.step(
      "Redis killed: requests go on with per-instance limits, one WARNING per instance, spend buffered",
      async () => {
        // A request in flight while Redis goes away, settled after.
        const inFlight = await a.check(keys.spend);
        assert.ok(inFlight.ok && inFlight.lease?.id !== undefined);
        await redis.kill();
        await eventually(
          10_000,
          "both instances see Redis down",
          () =>
            !redisUp(a.control) && !redisUp(b.control) &&
            a.links.every((l) => !l.up) && !b.links[0].up,
        );
        // a has two links and b one: one WARNING each.
        assert.equal(warnings.length, 2, warnings.join("\n"));
        assert.match(warnings[0], /counted per instance/);
        assert.doesNotMatch(warnings.join(""), /limits_unavailable/);
        // The fallback answers at once (no promise), from this instance's limiter.
        const checks = [];
        for (let i = 0; i < 4; i++) checks.push(await a.check(keys.rate2));
        assert.deepEqual(checks.map((r) => r.ok), [true, true, false, false]);
        const local = await a.check(keys.spend);
        assert.ok(
          local.ok && local.lease !== undefined && local.lease.id === undefined,
        );
        a.settle(inFlight, 700);
        a.settle(local, 300);
        assert.equal(a.limits.buffered, 2);
      },
    );

    await t.step(
      "fail closed: limited keys are refused with 503 limits_unavailable while Redis is away",
      async () => {
        const closed = await instance(true);
        await eventually(
          10_000,
          "the new link gives up",
          () => !closed.links[0].up,
        );
        const refused = await closed.check(keys.rate);
        assert.ok(!refused.ok);
        assert.equal(refused.type, "limits_unavailable");
        assert.equal(refused.reason, "limits_unavailable");
        assert.match(warnings.at(-1)!, /limits_unavailable/);
      },
    );

    await t.step(
      "Redis back: the buffered spend arrives once, and limits are shared again",
      async () => {
        await redis.restart();
        await eventually(
          20_000,
          "the buffer is flushed",
          () => a.limits.buffered === 0 && a.links[0].up && b.links[0].up,
        );
        await a.limits.flush();
        // The restarted Redis kept nothing: it holds exactly the two buffered charges.
        assert.equal(
          await redis.cli("HGET", `${PREFIX}bg:{spend}`, "tokens"),
          "1000",
        );
        await eventually(
          10_000,
          "INFO once per instance back",
          () => infos.length >= 2,
        );
        assert.ok(redisUp(a.control));
        const results = await Promise.all(
          Array.from(
            { length: 10 },
            (_, i) => (i % 2 ? a : b).check(keys.rate2),
          ),
        );
        // rate2 was only counted locally while Redis was away; in the fresh
        // Redis its burst of 2 holds for both instances together again.
        assert.equal(results.filter((r) => r.ok).length, 2);
      },
    );
  } finally {
    for (const one of instances) {
      await one.limits.close();
      for (const link of one.links) await link.close();
    }
    await redis.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
