import assert from "node:assert/strict";
import { openRedisLink, type RedisLink } from "../../src/cluster/redis_link.ts";
import {
  budgetKeys,
  defineLimitScripts,
  type LimitClient,
  rateKey,
} from "../../src/cluster/limit_scripts.ts";
import { parseRedisUrl } from "../../src/config/redis_url.ts";
import { startRedis } from "../support/redis.ts";

const quiet = { warn() {}, info() {} };

async function link(url: string): Promise<RedisLink> {
  return await openRedisLink({
    url: parseRedisUrl(url, "--redis-url"),
    prefix: "fp-scripts:",
    timeoutMs: 2_000,
    name: "flow-proxy-scripts-test",
    logger: quiet,
  });
}

/** fpAdmit's arguments: period, lease, tokens, nanos, parallel, token limit, spend limit, lease ms. */
function admit(
  client: LimitClient,
  slot: string,
  lease: string,
  limits: {
    parallel?: number;
    tokens?: number;
    spend?: number;
    leaseMs?: number;
  },
  estimate = { tokens: 10, nanos: 100 },
  period = 1000,
) {
  return client.fpAdmit(
    ...budgetKeys(slot),
    period,
    lease,
    estimate.tokens,
    estimate.nanos,
    limits.parallel ?? -1,
    limits.tokens ?? -1,
    limits.spend ?? -1,
    limits.leaseMs ?? 60_000,
  );
}

function settle(
  client: LimitClient,
  slot: string,
  lease: string,
  use: { tokens: number; nanos: number },
  limits: { tokens?: number; spend?: number } = {},
  period = 1000,
) {
  return client.fpSettle(
    ...budgetKeys(slot),
    lease,
    period,
    use.tokens,
    use.nanos,
    limits.tokens ?? -1,
    limits.spend ?? -1,
    86_400_000,
  );
}

Deno.test("limit scripts against a real redis-server", async (t) => {
  await using redis = await startRedis();
  await using l = await link(redis.url());
  const client = defineLimitScripts(l.client);

  await t.step(
    "fpRate allows a burst, then refuses with the wait until one more fits",
    async () => {
      // 60 rpm = one per second, burst 3.
      const interval = 1_000_000;
      const results = [];
      for (let i = 0; i < 4; i++) {
        results.push(
          await client.fpRate(rateKey("k1"), interval, 3 * interval),
        );
      }
      assert.deepEqual(results.map((r) => r[0]), [1, 1, 1, 0]);
      const refused = results[3];
      assert.ok(
        refused[2] > 0 && refused[2] <= interval,
        `retry in ${refused[2]} µs`,
      );
      assert.ok(refused[1] > 2 * interval && refused[1] <= 3 * interval);
      // Another key has its own bucket, under the same hash tag scheme.
      assert.equal(
        (await client.fpRate(rateKey("k2"), interval, interval))[0],
        1,
      );
      const ttl = Number(await redis.cli("PTTL", "fp-scripts:rl:{k1}"));
      assert.ok(ttl > 0 && ttl <= 4_000, `PTTL ${ttl}`);
    },
  );

  await t.step(
    "fpRate lets a request through again once its interval passed",
    async () => {
      const interval = 200_000; // 300 rpm
      assert.equal(
        (await client.fpRate(rateKey("k3"), interval, interval))[0],
        1,
      );
      assert.equal(
        (await client.fpRate(rateKey("k3"), interval, interval))[0],
        0,
      );
      const deadline = Date.now() + 10_000;
      let allowed = 0;
      while (allowed === 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        allowed = (await client.fpRate(rateKey("k3"), interval, interval))[0];
      }
      assert.equal(allowed, 1);
    },
  );

  await t.step(
    "fpAdmit holds a lease per request up to max parallel; fpRelease frees one",
    async () => {
      assert.deepEqual(await admit(client, "p", "a", { parallel: 2 }), [1]);
      assert.deepEqual(await admit(client, "p", "b", { parallel: 2 }), [1]);
      assert.deepEqual(await admit(client, "p", "c", { parallel: 2 }), [
        0,
        "parallel",
        2,
        2,
        0,
      ]);
      assert.equal(await client.fpRelease(...budgetKeys("p"), "a"), 1);
      assert.equal(await client.fpRelease(...budgetKeys("p"), "a"), 0);
      assert.deepEqual(await admit(client, "p", "c", { parallel: 2 }), [1]);
    },
  );

  await t.step(
    "a lease not renewed expires; fpRenew keeps one alive",
    async () => {
      assert.deepEqual(
        await admit(client, "e", "x", { parallel: 2, leaseMs: 300 }),
        [1],
      );
      assert.deepEqual(
        await admit(client, "e", "y", { parallel: 2, leaseMs: 300 }),
        [1],
      );
      assert.equal((await admit(client, "e", "z", { parallel: 2 }))[0], 0);
      const deadline = Date.now() + 10_000;
      let renewed = 0;
      let verdict: (number | string)[] = [0];
      while (verdict[0] === 0 && Date.now() < deadline) {
        renewed = await client.fpRenew(budgetKeys("e")[1], 60_000, "y");
        await new Promise((r) => setTimeout(r, 100));
        verdict = await admit(client, "e", "z", { parallel: 2 });
      }
      assert.deepEqual(verdict, [1], "x expired");
      assert.equal(renewed, 1);
      // y was kept alive, so with z there are two again.
      assert.equal((await admit(client, "e", "w", { parallel: 2 }))[0], 0);
      // The reservation of an expired lease is given back too.
      assert.equal(await redis.cli("HEXISTS", "fp-scripts:bv:{e}", "x"), "0");
    },
  );

  await t.step(
    "reservations count against the budget until settled, and a charge counts once",
    async () => {
      assert.deepEqual(await admit(client, "b", "r1", { tokens: 25 }), [1]);
      assert.deepEqual(await admit(client, "b", "r2", { tokens: 25 }), [1]);
      // 20 reserved + 10 would pass 25? used + held = 20 < 25: one more is let through.
      assert.deepEqual(await admit(client, "b", "r3", { tokens: 25 }), [1]);
      assert.deepEqual(await admit(client, "b", "r4", { tokens: 25 }), [
        0,
        "tokens",
        0,
        25,
        1,
      ]);
      assert.deepEqual(
        await settle(client, "b", "r1", { tokens: 12, nanos: 5 }, {
          tokens: 25,
        }),
        [1, 12, 5, 0],
      );
      // The same charge again (a retry after a timeout, a flushed buffer): not counted.
      assert.deepEqual(
        await settle(client, "b", "r1", { tokens: 12, nanos: 5 }, {
          tokens: 25,
        }),
        [-1],
      );
      assert.deepEqual(
        await settle(client, "b", "r2", { tokens: 9, nanos: 5 }, {
          tokens: 25,
        }),
        [1, 21, 10, 1],
      );
      assert.deepEqual(
        await settle(client, "b", "r3", { tokens: 9, nanos: 5 }, {
          tokens: 25,
        }),
        [1, 30, 15, 2],
      );
      assert.equal(await redis.cli("HGET", "fp-scripts:bg:{b}", "rt"), "0");
      // Nothing is kept for ever: every key of the budget has a TTL.
      for (const key of ["bg", "bl", "bv", "bd"]) {
        const ttl = Number(await redis.cli("PTTL", `fp-scripts:${key}:{b}`));
        assert.ok(ttl > 0 || ttl === -2, `${key} PTTL ${ttl}`);
      }
      assert.ok(Number(await redis.cli("PTTL", "fp-scripts:bg:{b}")) > 0);
      assert.deepEqual(await admit(client, "b", "r5", { tokens: 25 }), [
        0,
        "tokens",
        30,
        25,
        0,
      ]);
    },
  );

  await t.step(
    "a charge without a lease (admitted while Redis was away) counts, and starts a new period",
    async () => {
      assert.deepEqual(
        await settle(
          client,
          "n",
          "offline-1",
          { tokens: 7, nanos: 70 },
          {},
          2000,
        ),
        [1, 7, 70, 0],
      );
      // A charge for a period before the one Redis counts is not added.
      assert.deepEqual(
        await settle(
          client,
          "n",
          "offline-2",
          { tokens: 7, nanos: 70 },
          {},
          1000,
        ),
        [0],
      );
      assert.equal(await redis.cli("HGET", "fp-scripts:bg:{n}", "tokens"), "7");
    },
  );

  await t.step(
    "fpSeed sets a period's use only when Redis does not count it yet",
    async () => {
      assert.equal(await client.fpSeed(budgetKeys("s")[0], 3000, 40, 400), 1);
      assert.equal(await client.fpSeed(budgetKeys("s")[0], 3000, 99, 999), 0);
      assert.equal(
        await redis.cli("HGET", "fp-scripts:bg:{s}", "tokens"),
        "40",
      );
      assert.equal(await client.fpSeed(budgetKeys("s")[0], 4000, 1, 2), 1);
      assert.equal(await redis.cli("HGET", "fp-scripts:bg:{s}", "tokens"), "1");
    },
  );

  await t.step("every key of one budget is in one Cluster slot", async () => {
    const slots = new Set<string>();
    for (const key of budgetKeys("team:core")) {
      slots.add(await redis.cli("CLUSTER", "KEYSLOT", `fp-scripts:${key}`));
    }
    // CLUSTER KEYSLOT answers even on a server without cluster mode.
    assert.equal(slots.size, 1);
  });
});
