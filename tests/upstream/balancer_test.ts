import assert from "node:assert/strict";
import type { Logger } from "@logtape/logtape";
import {
  Balancer,
  type BalancerOptions,
  type Pick,
  resetHealth,
} from "../../src/upstream/balancer.ts";
import {
  CONTROL,
  COUNTERS,
  createSharedState,
  type SharedState,
} from "../../src/base/shared_state.ts";

const BASE = 10_000;
const MAX = 35_000;

/** A LogTape-compatible logger that keeps every message. */
interface LogCollector {
  logger: Logger;
  lines: { level: string; message: string }[];
}

function collectLogs(): LogCollector {
  const lines: { level: string; message: string }[] = [];
  const record = (level: string) => (message: unknown) => {
    lines.push({ level, message: String(message) });
  };
  const logger = {
    debug: record("debug"),
    info: record("info"),
    warn: record("warn"),
    warning: record("warning"),
    error: record("error"),
    fatal: record("fatal"),
    trace: record("trace"),
  } as unknown as Logger;
  return { logger, lines };
}

/** A fake clock, moved by hand. */
class Clock {
  t = 1_700_000_000_000;
  now = () => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

interface Fixture {
  state: SharedState;
  clock: Clock;
  logs: LogCollector;
  balancer: Balancer;
  make(options?: Partial<BalancerOptions>, generation?: number): Balancer;
}

function fixture(
  names = ["a", "b", "c"],
  options: Partial<BalancerOptions> = {},
): Fixture {
  const state = createSharedState();
  resetHealth(state);
  const clock = new Clock();
  const logs = collectLogs();
  const make = (more: Partial<BalancerOptions> = {}, generation = 1) =>
    new Balancer(state, {
      names,
      tokens: names.map((n) => `token-${n}`),
      generation,
    }, {
      backoffBase: BASE,
      backoffMax: MAX,
      now: clock.now,
      logger: logs.logger,
      ...options,
      ...more,
    });
  return { state, clock, logs, balancer: make(), make };
}

function counts(picks: (Pick | null)[], size: number): number[] {
  const out = new Array(size).fill(0);
  for (const p of picks) {
    assert.ok(p !== null, "a credential was expected");
    out[p.index]++;
  }
  return out;
}

function pickMany(b: Balancer, n: number): (Pick | null)[] {
  return Array.from({ length: n }, () => b.next());
}

function roundRobin(state: SharedState): number {
  return Number(Atomics.load(state.counters, COUNTERS.ROUND_ROBIN));
}

Deno.test("Balancer.next() is an exact round-robin", async (t) => {
  await t.step("k·n picks give k to each", () => {
    const { balancer } = fixture(["a", "b", "c", "d"]);
    const picks = pickMany(balancer, 40);
    assert.deepEqual(counts(picks, 4), [10, 10, 10, 10]);
    assert.deepEqual(
      picks.slice(0, 8).map((p) => p!.name),
      ["a", "b", "c", "d", "a", "b", "c", "d"],
    );
    assert.ok(picks.every((p) => p!.probe === false && p!.generation === 1));
  });

  await t.step("duplicated entries weight the rotation", () => {
    const { balancer } = fixture(["p", "p", "p", "backup"]);
    const names = pickMany(balancer, 400).map((p) => p!.name);
    assert.equal(names.filter((n) => n === "p").length, 300);
    assert.equal(names.filter((n) => n === "backup").length, 100);
  });

  await t.step("one counter advance per next()", () => {
    const { balancer, state } = fixture();
    const before = roundRobin(state);
    for (let i = 1; i <= 7; i++) {
      balancer.next();
      assert.equal(roundRobin(state), before + i);
    }
  });

  await t.step("nextAfter() does not advance the counter", () => {
    const { balancer, state } = fixture();
    const first = balancer.next()!;
    const before = roundRobin(state);
    const second = balancer.nextAfter([first.index]);
    const third = balancer.nextAfter([first.index, second!.index]);
    assert.equal(roundRobin(state), before);
    assert.notEqual(second!.index, first.index);
    assert.ok(![first.index, second!.index].includes(third!.index));
    assert.equal(balancer.nextAfter([0, 1, 2]), null, "all tried");
  });

  await t.step("nextAfter() goes on in ring order from the last tried", () => {
    const { balancer } = fixture(["a", "b", "c", "d"]);
    assert.equal(balancer.nextAfter([1])!.index, 2);
    assert.equal(balancer.nextAfter([3])!.index, 0);
    assert.equal(balancer.nextAfter([3, 0])!.index, 1);
  });

  await t.step("two balancers over one state share the counter", () => {
    const f = fixture();
    const other = f.make();
    const picks: (Pick | null)[] = [];
    for (let i = 0; i < 30; i++) {
      picks.push((i % 3 === 0 ? other : f.balancer).next());
    }
    assert.deepEqual(counts(picks, 3), [10, 10, 10]);
  });

  await t.step("bearer() and name()", () => {
    const { balancer } = fixture();
    assert.equal(balancer.size, 3);
    assert.equal(balancer.name(1), "b");
    assert.equal(balancer.bearer(2), "Bearer token-c");
  });
});

Deno.test("Balancer.next() skips failed entries and keeps the spread even", async (t) => {
  const { balancer, logs } = fixture(["a", "b", "c"]);
  const b = balancer.nextAfter([0])!;
  assert.equal(b.name, "b");
  balancer.failed(b, "upstream answered 401");

  await t.step("the failed entry is never picked before its backoff", () => {
    const picks = pickMany(balancer, 20);
    assert.deepEqual(counts(picks, 3), [10, 0, 10]);
    assert.equal(balancer.usableCount(), 2);
  });

  await t.step("nextAfter() skips it too", () => {
    assert.equal(balancer.nextAfter([0])!.index, 2);
    assert.equal(balancer.nextAfter([0, 2]), null);
    assert.equal(balancer.hasAlternative([0, 2]), false);
    assert.equal(balancer.hasAlternative([0]), true);
  });

  await t.step("logs 'marked as failed' with Remaining: u/n", () => {
    const line = logs.lines.find((l) => l.message.includes("marked as failed"));
    assert.ok(line, JSON.stringify(logs.lines));
    assert.equal(line.level, "warn");
    assert.match(
      line.message,
      /^Configuration 'b' marked as failed \(upstream answered 401\)\. Remaining: 2\/3$/,
    );
  });

  await t.step("a second failure report is not logged twice", () => {
    const before = logs.lines.length;
    balancer.failed(b, "again");
    assert.equal(logs.lines.length, before);
  });

  await t.step("Remaining counts down", () => {
    balancer.failed(
      { index: 0, name: "a", probe: false, generation: 1 },
      "403",
    );
    assert.match(logs.lines.at(-1)!.message, /Remaining: 1\/3$/);
    assert.deepEqual(counts(pickMany(balancer, 5), 3), [0, 0, 5]);
  });
});

Deno.test("Balancer half-open probe after the backoff", async (t) => {
  const f = fixture(["a", "b", "c"]);
  const { balancer, clock, logs } = f;
  const pickB: Pick = { index: 1, name: "b", probe: false, generation: 1 };
  balancer.failed(pickB, "401");

  await t.step("still excluded 1 ms before the base backoff", () => {
    clock.advance(BASE - 1);
    assert.deepEqual(counts(pickMany(balancer, 4), 3), [2, 0, 2]);
  });

  let probe: Pick | null = null;
  await t.step("exactly one probe at the base backoff", () => {
    clock.advance(1);
    const before = roundRobin(f.state);
    probe = balancer.next();
    assert.deepEqual(probe, {
      index: 1,
      name: "b",
      probe: true,
      generation: 1,
    });
    assert.equal(roundRobin(f.state), before, "a probe takes no turn");
    const again = pickMany(balancer, 10);
    assert.ok(again.every((p) => p !== null && p.index !== 1 && !p.probe));
    assert.ok(
      logs.lines.some((l) => l.message.includes("Probing configuration 'b'")),
    );
  });

  await t.step("another worker does not get the probe either", () => {
    const other = f.make();
    assert.ok(pickMany(other, 6).every((p) => p!.index !== 1));
    assert.equal(other.nextAfter([0, 2]), null);
  });

  await t.step("health() shows it probing, by name only", () => {
    const h = balancer.health();
    assert.deepEqual(h.map((x) => x.name), ["a", "b", "c"]);
    assert.equal(h[1].state, "probing");
    assert.equal(h[1].failures, 1);
    assert.ok(!JSON.stringify(h).includes("token-"));
  });

  await t.step("probe success restores the credential", () => {
    balancer.succeeded(probe!);
    assert.equal(balancer.usableCount(), 3);
    assert.deepEqual(counts(pickMany(balancer, 9), 3), [3, 3, 3]);
    const h = balancer.health()[1];
    assert.deepEqual(h, {
      name: "b",
      state: "ok",
      failures: 0,
      retryInSeconds: 0,
    });
    assert.match(
      logs.lines.at(-1)!.message,
      /^Configuration 'b' recovered\. Available: 3\/3$/,
    );
  });

  await t.step("after recovery a new failure starts again at the base", () => {
    balancer.failed(pickB, "401");
    clock.advance(BASE);
    assert.equal(balancer.next()!.probe, true);
  });
});

Deno.test("Balancer probe failure doubles the backoff up to the cap", () => {
  const { balancer, clock, logs } = fixture(["a", "b"]);
  balancer.failed({ index: 0, name: "a", probe: false, generation: 1 }, "401");
  // base 10 s, then 20 s, then the 35 s cap, and the cap again.
  const expected = [BASE, 2 * BASE, MAX, MAX];
  let wait = BASE;
  for (let round = 0; round < expected.length; round++) {
    assert.equal(wait, expected[round], `round ${round}`);
    clock.advance(wait - 1);
    assert.equal(balancer.next()!.index, 1, `not due yet in round ${round}`);
    clock.advance(1);
    const probe = balancer.next()!;
    assert.deepEqual(probe, {
      index: 0,
      name: "a",
      probe: true,
      generation: 1,
    });
    balancer.failed(probe, "401 again");
    const h = balancer.health()[0];
    assert.equal(h.state, "failed");
    assert.equal(h.failures, round + 2);
    wait = expected[Math.min(round + 1, expected.length - 1)];
    assert.equal(h.retryInSeconds, wait / 1000);
    assert.match(logs.lines.at(-1)!.message, /still failing \(401 again\)/);
  }
});

Deno.test("Balancer.release() lets another probe", async (t) => {
  const f = fixture(["a", "b"]);
  const { balancer, clock } = f;
  balancer.failed({ index: 0, name: "a", probe: false, generation: 1 }, "401");
  clock.advance(BASE);
  const probe = balancer.next()!;
  assert.equal(probe.probe, true);
  assert.equal(balancer.next()!.index, 1);

  await t.step("release frees the probe at once", () => {
    balancer.release(probe);
    const again = balancer.next()!;
    assert.deepEqual(again, {
      index: 0,
      name: "a",
      probe: true,
      generation: 1,
    });
  });

  await t.step("release of a non-probe pick changes nothing", () => {
    balancer.release({ index: 0, name: "a", probe: false, generation: 1 });
    assert.equal(balancer.next()!.index, 1);
  });

  await t.step("an abandoned probe's lease runs out", () => {
    const leased = f.make({ probeLease: 5000 });
    clock.advance(60_000);
    const p = leased.next()!;
    assert.equal(p.probe, true);
    clock.advance(4999);
    assert.equal(leased.next()!.index, 1);
    clock.advance(1);
    assert.equal(leased.next()!.probe, true);
  });
});

Deno.test("Balancer.rateLimited() cools a credential for the given time", async (t) => {
  const { balancer, clock, logs } = fixture(["a", "b", "c"]);
  const pickA: Pick = { index: 0, name: "a", probe: false, generation: 1 };
  balancer.rateLimited(pickA, 5000);

  await t.step("excluded while cooling, with a log line", () => {
    assert.deepEqual(counts(pickMany(balancer, 6), 3), [0, 3, 3]);
    assert.equal(balancer.health()[0].state, "cooling");
    assert.equal(balancer.health()[0].retryInSeconds, 5);
    assert.match(
      logs.lines.at(-1)!.message,
      /^Configuration 'a' rate limited \(429\); cooling down for 5\.0s\. Remaining: 2\/3$/,
    );
  });

  await t.step("a shorter second 429 does not shorten the cool-down", () => {
    balancer.rateLimited(pickA, 1000);
    clock.advance(1000);
    assert.equal(balancer.usableCount(), 2);
  });

  await t.step("usable again when the time is up, without a probe", () => {
    clock.advance(4000);
    assert.equal(balancer.usableCount(), 3);
    const picks = pickMany(balancer, 9);
    assert.deepEqual(counts(picks, 3), [3, 3, 3]);
    assert.ok(picks.every((p) => !p!.probe));
    assert.equal(balancer.health()[0].state, "ok");
  });

  await t.step("a rate limit does not lift a failure", () => {
    const pickB: Pick = { index: 1, name: "b", probe: false, generation: 1 };
    balancer.failed(pickB, "401");
    balancer.rateLimited(pickB, 10);
    clock.advance(10);
    assert.equal(balancer.health()[1].state, "failed");
  });
});

Deno.test("Balancer.retryAfterMs() says when a credential comes back", async (t) => {
  const { balancer, clock } = fixture(["a", "b"]);
  await t.step("0 while one is usable", () => {
    assert.equal(balancer.retryAfterMs(), 0);
  });
  await t.step("time to the first one back when none is usable", () => {
    balancer.failed({ index: 0, name: "a", probe: false, generation: 1 }, "x");
    clock.advance(2000);
    balancer.rateLimited(
      { index: 1, name: "b", probe: false, generation: 1 },
      20_000,
    );
    assert.equal(balancer.next(), null);
    assert.equal(balancer.usableCount(), 0);
    assert.equal(balancer.retryAfterMs(), BASE - 2000);
    clock.advance(3000);
    assert.equal(balancer.retryAfterMs(), BASE - 5000);
  });
  await t.step("0 once a probe is due", () => {
    clock.advance(BASE);
    assert.equal(balancer.retryAfterMs(), 0);
    assert.equal(balancer.next()!.probe, true);
  });
});

Deno.test("Balancer ignores verdicts of another secrets generation", () => {
  const f = fixture(["a", "b"]);
  const old = f.balancer.next()!;
  const current = f.make({}, 2);
  current.failed(old, "401");
  current.rateLimited(old, 10_000);
  assert.equal(current.usableCount(), 2);
  assert.deepEqual(current.health().map((h) => h.state), ["ok", "ok"]);
});

Deno.test("Balancer instances over one shared state see each other's failures at once", () => {
  const f = fixture(["a", "b", "c"]);
  const workers = [f.balancer, f.make(), f.make()];
  // Warm every instance's cache first, so a stale cache would show.
  for (const w of workers) assert.equal(w.usableCount(), 3);
  workers[0].failed(
    { index: 2, name: "c", probe: false, generation: 1 },
    "403",
  );
  for (const w of workers.slice(1)) {
    assert.equal(w.usableCount(), 2);
    assert.ok(pickMany(w, 6).every((p) => p!.index !== 2));
    assert.equal(w.health()[2].state, "failed");
  }
  workers[1].rateLimited(
    { index: 0, name: "a", probe: false, generation: 1 },
    1000,
  );
  assert.deepEqual(counts(pickMany(workers[2], 4), 3), [0, 4, 0]);
  f.clock.advance(BASE);
  const probe = workers[2].next()!;
  assert.equal(probe.probe, true);
  workers[2].succeeded(probe);
  assert.equal(workers[0].usableCount(), 3);
});

Deno.test("resetHealth restores every credential", () => {
  const f = fixture(["a", "b"]);
  f.balancer.failed({ index: 0, name: "a", probe: false, generation: 1 }, "x");
  f.balancer.rateLimited(
    { index: 1, name: "b", probe: false, generation: 1 },
    9e6,
  );
  assert.equal(f.balancer.usableCount(), 0);
  resetHealth(f.state);
  assert.equal(f.balancer.usableCount(), 2);
  assert.deepEqual(f.balancer.health().map((h) => h.state), ["ok", "ok"]);
});

Deno.test("Balancer validates its options", () => {
  const state = createSharedState();
  const creds = { names: ["a"], tokens: ["t"], generation: 1 };
  assert.throws(
    () => new Balancer(state, creds, { backoffBase: 0, backoffMax: 1 }),
    RangeError,
  );
  assert.throws(
    () => new Balancer(state, creds, { backoffBase: 10, backoffMax: 5 }),
    RangeError,
  );
  assert.throws(
    () =>
      new Balancer(state, { names: ["a", "b"], tokens: ["t"], generation: 1 }, {
        backoffBase: 1,
        backoffMax: 1,
      }),
    RangeError,
  );
});

Deno.test("Balancer.bearer() is null for a credential without a token", () => {
  const state = createSharedState();
  const b = new Balancer(state, {
    names: ["a", "b"],
    tokens: ["t", null],
    generation: 1,
  }, { backoffBase: BASE, backoffMax: MAX });
  assert.equal(b.bearer(0), "Bearer t");
  assert.equal(b.bearer(1), null);
});

/** Backoff options with a clock that never moves. */
const FIXED_CLOCK = {
  backoffBase: 10_000,
  backoffMax: 60_000,
  now: () => 1e12,
};

Deno.test("Balancer ignores a verdict about credentials a reload replaced", () => {
  const state = createSharedState();
  resetHealth(state);
  const old = new Balancer(state, {
    names: ["old-a", "old-b"],
    tokens: ["t1", "t2"],
    generation: 1,
  }, FIXED_CLOCK);
  const inFlight = old.next()!; // a request picks old-a, then the secrets reload
  resetHealth(state);
  Atomics.store(state.control, CONTROL.SECRETS_GENERATION, 2);
  const fresh = new Balancer(state, {
    names: ["new-x", "new-y"],
    tokens: ["t3", "t4"],
    generation: 2,
  }, FIXED_CLOCK);
  // The handler reports on the instance it started with (balancer() is read once per request).
  old.failed(inFlight, "upstream answered 401");
  assert.equal(fresh.usableCount(), 2, "new-x must not pay for old-a's 401");
});

Deno.test("Balancer.succeeded() of a request sent before a 429 keeps the cool-down", () => {
  const state = createSharedState();
  resetHealth(state);
  const b = new Balancer(state, {
    names: ["a", "b"],
    tokens: ["t1", "t2"],
    generation: 1,
  }, FIXED_CLOCK);
  const early = b.next()!; // long request on "a" still waiting for headers
  const later = { ...early }; // another request on "a" gets 429 Retry-After: 60
  b.rateLimited(later, 60_000);
  b.succeeded(early); // the early request's 200 arrives now
  assert.equal(b.health()[0].state, "cooling", "the 60 s cool-down must hold");
});

Deno.test("Balancer.next() keeps the rotation past 2^32 requests", () => {
  const state = createSharedState();
  resetHealth(state);
  const b = new Balancer(state, {
    names: ["a", "b", "c"],
    tokens: ["1", "2", "3"],
    generation: 1,
  }, FIXED_CLOCK);
  // 2^32 - 2 requests served: a 32-bit counter would wrap here.
  Atomics.store(state.counters, COUNTERS.ROUND_ROBIN, 2n ** 32n - 2n);
  const picks = [b.next()!, b.next()!, b.next()!].map((p) => p.index);
  assert.equal(new Set(picks).size, 3, `three turns gave ${picks}`);
});
