import assert from "node:assert/strict";
import {
  effectiveRule,
  LIMIT_SLOTS,
  LIMITS_BYTE_LENGTH,
  RateLimiter,
} from "../../src/access/rate_limit.ts";
import { createSharedState, type Region } from "../../src/base/shared_state.ts";

const T0 = Date.UTC(2026, 10, 22, 12, 0, 0);

function freshRegion(): Region {
  return {
    buffer: new SharedArrayBuffer(LIMITS_BYTE_LENGTH),
    byteOffset: 0,
    byteLength: LIMITS_BYTE_LENGTH,
  };
}

function countAllowed(
  limiter: RateLimiter,
  key: string,
  n: number,
  rule: { rpm: number; burst: number },
  now: number,
) {
  let allowed = 0;
  for (let i = 0; i < n; i++) {
    if (limiter.take(key, rule, now).allowed) allowed++;
  }
  return allowed;
}

Deno.test("RateLimiter.take() grants the burst, then refills at rpm", async (t) => {
  const limiter = new RateLimiter(freshRegion());
  const rule = { rpm: 60, burst: 10 };

  await t.step("burst at one instant", () => {
    const first = limiter.take("k", rule, T0);
    assert.deepEqual(first, {
      allowed: true,
      limit: 60,
      remaining: 9,
      resetSeconds: 1,
      retryAfterSeconds: 0,
    });
    assert.equal(countAllowed(limiter, "k", 20, rule, T0), 9);
  });

  await t.step("refused with Retry-After and reset", () => {
    const refused = limiter.take("k", rule, T0);
    assert.deepEqual(refused, {
      allowed: false,
      limit: 60,
      remaining: 0,
      resetSeconds: 10,
      retryAfterSeconds: 1,
    });
    const later = limiter.take("k", rule, T0 + 400);
    assert.equal(later.allowed, false);
    assert.equal(later.retryAfterSeconds, 1); // 0.6 s left, rounded up
  });

  await t.step("one token per second comes back", () => {
    assert.equal(countAllowed(limiter, "k", 5, rule, T0 + 1000), 1);
    assert.equal(countAllowed(limiter, "k", 5, rule, T0 + 3500), 2);
    const r = limiter.take("k", rule, T0 + 3500);
    assert.equal(r.allowed, false);
    assert.equal(r.retryAfterSeconds, 1); // next token at T0 + 4000
  });

  await t.step("a full minute idle refills only up to the burst", () => {
    assert.equal(countAllowed(limiter, "k", 30, rule, T0 + 120_000), 10);
  });
});

Deno.test("RateLimiter.take() keeps keys apart", () => {
  const limiter = new RateLimiter(freshRegion());
  const rule = { rpm: 60, burst: 3 };
  assert.equal(countAllowed(limiter, "alpha", 10, rule, T0), 3);
  assert.equal(countAllowed(limiter, "beta", 10, rule, T0), 3);
  assert.equal(countAllowed(limiter, "alpha", 10, rule, T0), 0);
});

Deno.test("RateLimiter.take() with a burst of 1 spaces requests by 60/rpm", () => {
  const limiter = new RateLimiter(freshRegion());
  const rule = { rpm: 7, burst: 1 };
  assert.equal(limiter.take("k", rule, T0).allowed, true);
  // 60 s / 7 = 8.571 s between requests.
  assert.equal(limiter.take("k", rule, T0 + 8_500).allowed, false);
  assert.equal(limiter.take("k", rule, T0 + 8_572).allowed, true);
  let allowed = 0;
  for (let s = 0; s < 60; s++) {
    if (limiter.take("k", rule, T0 + 60_000 + s * 1000).allowed) allowed++;
  }
  assert.equal(allowed, 7);
});

Deno.test("RateLimiter instances on one region share buckets", () => {
  const region = freshRegion();
  const a = new RateLimiter(region);
  const b = new RateLimiter(region);
  const rule = { rpm: 60, burst: 4 };
  assert.equal(countAllowed(a, "k", 3, rule, T0), 3);
  assert.equal(countAllowed(b, "k", 3, rule, T0), 1);
  assert.equal(countAllowed(a, "k", 3, rule, T0), 0);
});

Deno.test("RateLimiter fits the limits region of the shared state", () => {
  const state = createSharedState();
  assert.ok(state.limits.byteLength >= LIMITS_BYTE_LENGTH);
  const limiter = new RateLimiter(state.limits);
  assert.equal(countAllowed(limiter, "k", 5, { rpm: 60, burst: 2 }, T0), 2);
});

Deno.test("RateLimiter rejects a bad region or rule", async (t) => {
  await t.step("region too small", () => {
    assert.throws(
      () =>
        new RateLimiter({
          buffer: new SharedArrayBuffer(1024),
          byteOffset: 0,
          byteLength: 1024,
        }),
      RangeError,
    );
  });
  await t.step("unaligned region", () => {
    const buffer = new SharedArrayBuffer(LIMITS_BYTE_LENGTH + 8);
    assert.throws(
      () =>
        new RateLimiter({
          buffer,
          byteOffset: 4,
          byteLength: LIMITS_BYTE_LENGTH,
        }),
      RangeError,
    );
  });
  await t.step("rpm or burst below 1", () => {
    const limiter = new RateLimiter(freshRegion());
    assert.throws(
      () => limiter.take("k", { rpm: 0, burst: 1 }, T0),
      RangeError,
    );
    assert.throws(
      () => limiter.take("k", { rpm: 1, burst: 0 }, T0),
      RangeError,
    );
  });
});

Deno.test("RateLimiter falls back to a per-thread bucket when the table is full", () => {
  const overflowed: string[] = [];
  const limiter = new RateLimiter(freshRegion(), {
    onOverflow: (key) => overflowed.push(key),
  });
  const rule = { rpm: 60, burst: 1 };
  for (let i = 0; i < LIMIT_SLOTS; i++) limiter.take(`key-${i}`, rule, T0);
  assert.deepEqual(overflowed, []);
  assert.equal(countAllowed(limiter, "one-too-many", 3, rule, T0), 1);
  assert.deepEqual(overflowed, ["one-too-many"]);
  // Keys that have a slot keep it.
  assert.equal(limiter.take("key-0", rule, T0).allowed, false);
});

Deno.test("effectiveRule() applies the server defaults", () => {
  const defaults = { rpm: 120, burst: 20 };
  assert.deepEqual(effectiveRule({ rpm: null, burst: null }, defaults), {
    rpm: 120,
    burst: 20,
  });
  assert.deepEqual(effectiveRule({ rpm: 30, burst: null }, defaults), {
    rpm: 30,
    burst: 30,
  });
  assert.deepEqual(effectiveRule({ rpm: 30, burst: 5 }, defaults), {
    rpm: 30,
    burst: 5,
  });
  assert.deepEqual(effectiveRule({ rpm: null, burst: 5 }, defaults), {
    rpm: 120,
    burst: 5,
  });
  assert.deepEqual(
    effectiveRule({ rpm: null, burst: null }, { rpm: 60, burst: 0 }),
    { rpm: 60, burst: 60 },
  );
  assert.equal(effectiveRule({ rpm: 0, burst: null }, defaults), null);
  assert.equal(
    effectiveRule({ rpm: null, burst: null }, { rpm: 0, burst: 0 }),
    null,
  );
});

// Each worker waits at a barrier, then takes as fast as it can: the two race
// on the same slots (and on claiming them), as real workers would.
const WORKER_SOURCE = `
import { RateLimiter } from ${
  JSON.stringify(
    new URL("../../src/access/rate_limit.ts", import.meta.url).href,
  )
};
self.onmessage = (event) => {
  const { region, gate, keys, takes, rule, now } = event.data;
  const limiter = new RateLimiter(region);
  const flag = new Int32Array(gate);
  Atomics.add(flag, 1, 1);
  Atomics.notify(flag, 1);
  Atomics.wait(flag, 0, 0);
  const allowed = {};
  for (const key of keys) {
    allowed[key] = 0;
    for (let i = 0; i < takes; i++) if (limiter.take(key, rule, now).allowed) allowed[key]++;
  }
  self.postMessage(allowed);
};
`;

async function raceWorkers(
  workerCount: number,
  job: { keys: string[]; takes: number; rule: { rpm: number; burst: number } },
): Promise<Record<string, number>[]> {
  const url = URL.createObjectURL(
    new Blob([WORKER_SOURCE], { type: "application/javascript" }),
  );
  const region = freshRegion();
  const gate = new SharedArrayBuffer(8);
  const flag = new Int32Array(gate);
  const workers = Array.from(
    { length: workerCount },
    () => new Worker(url, { type: "module" }),
  );
  try {
    const results = workers.map((worker) =>
      new Promise<Record<string, number>>((resolve, reject) => {
        worker.onmessage = (e) => resolve(e.data);
        worker.onerror = (e) => {
          e.preventDefault();
          reject(new Error(e.message));
        };
      })
    );
    for (const worker of workers) {
      worker.postMessage({ region, gate, ...job, now: T0 });
    }
    // Open the gate once every worker is waiting at it.
    for (let round = 0; Atomics.load(flag, 1) < workerCount; round++) {
      if (round > workerCount * 4) {
        throw new Error("Workers did not reach the gate");
      }
      await Atomics.waitAsync(flag, 1, Atomics.load(flag, 1), 10_000).value;
    }
    Atomics.store(flag, 0, 1);
    Atomics.notify(flag, 0);
    return await Promise.all(results);
  } finally {
    for (const worker of workers) worker.terminate();
    URL.revokeObjectURL(url);
  }
}

Deno.test("RateLimiter holds exactly across 2 Web Workers sharing one region", async (t) => {
  await t.step(
    "rpm 60, burst 10: 2 × 20 takes at one instant → 10 in total, per key",
    async () => {
      const results = await raceWorkers(2, {
        keys: ["alpha", "beta"],
        takes: 20,
        rule: { rpm: 60, burst: 10 },
      });
      for (const key of ["alpha", "beta"]) {
        assert.equal(
          results[0][key] + results[1][key],
          10,
          `${key}: ${results.map((r) => r[key])}`,
        );
      }
    },
  );

  await t.step(
    "slots claimed concurrently by both workers: 64 keys, burst 1 → 1 each",
    async () => {
      const keys = Array.from({ length: 64 }, (_, i) => `client-${i}`);
      const results = await raceWorkers(2, {
        keys,
        takes: 3,
        rule: { rpm: 60, burst: 1 },
      });
      for (const key of keys) {
        assert.equal(results[0][key] + results[1][key], 1, key);
      }
    },
  );
});
