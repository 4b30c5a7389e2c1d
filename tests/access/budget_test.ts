import assert from "node:assert/strict";
import {
  estimateUse,
  isTimeZone,
  periodBounds,
  validateBudget,
} from "../../src/access/budget.ts";
import { BudgetTable } from "../../src/access/budget_table.ts";
import { createSharedState } from "../../src/base/shared_state.ts";

Deno.test("periodBounds: calendar day, week (from Monday) and month in the configured zone", () => {
  // 2026-12-02 is a Wednesday; 01:30 UTC is still 2026-12-01 in São Paulo (UTC−3).
  const now = Date.UTC(2026, 11, 2, 1, 30);
  assert.deepEqual(periodBounds(now, "day", "UTC"), {
    start: Date.UTC(2026, 11, 2),
    end: Date.UTC(2026, 11, 3),
  });
  assert.deepEqual(periodBounds(now, "day", "America/Sao_Paulo"), {
    start: Date.UTC(2026, 11, 1, 3),
    end: Date.UTC(2026, 11, 2, 3),
  });
  assert.deepEqual(periodBounds(now, "week", "UTC"), {
    start: Date.UTC(2026, 10, 30),
    end: Date.UTC(2026, 11, 7),
  });
  assert.deepEqual(periodBounds(now, "month", "UTC"), {
    start: Date.UTC(2026, 11, 1),
    end: Date.UTC(2027, 0, 1),
  });
  // A zone with daylight saving: Berlin's October month has 31 days and one extra hour.
  const october = periodBounds(Date.UTC(2026, 9, 15), "month", "Europe/Berlin");
  assert.equal(october.start, Date.UTC(2026, 8, 30, 22));
  assert.equal(october.end, Date.UTC(2026, 9, 31, 23));
});

Deno.test("validateBudget names every bad field; isTimeZone knows IANA names", () => {
  assert.deepEqual(
    validateBudget({ period: "day", tokens: 1000, spend: 2.5 }),
    {
      period: "day",
      tokens: 1000,
      spendNanos: 2_500_000_000,
      maxParallel: null,
    },
  );
  assert.equal(validateBudget({ maxParallel: 2 }).period, "month");
  assert.throws(
    () => validateBudget({ period: "year", tokens: 1 }),
    /period "year": use day, week or month/,
  );
  assert.throws(
    () => validateBudget({ tokens: 0 }),
    /budget tokens 0: must be a whole number from 1/,
  );
  assert.throws(() => validateBudget({ tokens: 1.5 }), /budget tokens 1.5/);
  assert.throws(
    () => validateBudget({ spend: -1 }),
    /budget spend -1: must be an amount above 0/,
  );
  assert.throws(() => validateBudget({ maxParallel: "4" }), /max parallel "4"/);
  assert.throws(
    () => validateBudget({ period: "day" }),
    /at least one of tokens, spend or max parallel/,
  );
  assert.equal(isTimeZone("America/Sao_Paulo"), true);
  assert.equal(isTimeZone("Mars/Olympus"), false);
  assert.deepEqual(estimateUse(4000, null, null), {
    tokens: 2024,
    nanos: null,
  });
  // 1000 input tokens at 3000 nanos, 1024 output tokens at 15000.
  assert.deepEqual(estimateUse(4000, 3000, 15000), {
    tokens: 2024,
    nanos: 1000 * 3000 + 1024 * 15000,
  });
});

const DAY = Date.UTC(2026, 11, 2);

function table(): BudgetTable {
  return new BudgetTable(createSharedState().budgets);
}

Deno.test("BudgetTable lets requests through until spent plus reserved reaches the limit, then refuses", () => {
  const t = table();
  const budget = validateBudget({ period: "day", tokens: 1000 });
  const first = t.admit("team-a", budget, DAY, { tokens: 600, nanos: null });
  assert.ok(first.ok);
  // 600 reserved: a second request of 600 still starts (600 < 1000) …
  const second = t.admit("team-a", budget, DAY, { tokens: 600, nanos: null });
  assert.ok(second.ok);
  // … but a third finds 1200 reserved and waits for them, not for tomorrow.
  const third = t.admit("team-a", budget, DAY, { tokens: 1, nanos: null });
  assert.ok(!third.ok);
  assert.deepEqual(third.refusal, {
    measure: "tokens",
    used: 0,
    limit: 1000,
    reserved: true,
  });
  assert.deepEqual(t.settle(first.lease, { tokens: 500, nanos: null }), []);
  const crossings = t.settle(second.lease, { tokens: 520, nanos: null });
  assert.deepEqual(crossings.map((c) => [c.measure, c.percent, c.used]), [
    ["tokens", 80, 1020],
    ["tokens", 100, 1020],
  ]);
  const after = t.admit("team-a", budget, DAY, { tokens: 1, nanos: null });
  assert.ok(!after.ok);
  assert.deepEqual(after.refusal, {
    measure: "tokens",
    used: 1020,
    limit: 1000,
    reserved: false,
  });
  assert.deepEqual(t.usage("team-a", DAY), {
    tokens: 1020,
    nanos: 0,
    inFlight: 0,
  });
  // Other keys are counted apart.
  assert.ok(t.admit("team-b", budget, DAY, { tokens: 1, nanos: null }).ok);
});

Deno.test("BudgetTable starts over in the next period and charges nothing to a period that ended", () => {
  const t = table();
  const budget = validateBudget({ period: "day", tokens: 100, spend: 1 });
  // What the request log says the key used today, before this process counted.
  t.seed("k", DAY, { tokens: 90, nanos: 0 });
  const late = t.admit("k", budget, DAY, { tokens: 10, nanos: 1000 });
  assert.ok(late.ok);
  const held = t.admit("k", budget, DAY, { tokens: 1, nanos: 0 });
  assert.ok(!held.ok);
  assert.deepEqual(held.refusal, {
    measure: "tokens",
    used: 90,
    limit: 100,
    reserved: true,
  });
  // A later seed (the log lags behind) does not replace the live count.
  t.seed("k", DAY, { tokens: 0, nanos: 0 });
  assert.equal(t.usage("k", DAY).tokens, 90);
  const tomorrow = DAY + 86_400_000;
  const fresh = t.admit("k", budget, tomorrow, { tokens: 1, nanos: 0 });
  assert.ok(fresh.ok);
  // Yesterday's request ends today: its use stays with yesterday (the log has it there).
  t.settle(late.lease, { tokens: 50, nanos: 500_000_000 });
  t.settle(fresh.lease, { tokens: 5, nanos: 1_000_000_000 });
  assert.deepEqual(t.usage("k", tomorrow), {
    tokens: 5,
    nanos: 1_000_000_000,
    inFlight: 0,
  });
  const spent = t.admit("k", budget, tomorrow, { tokens: 1, nanos: 0 });
  assert.ok(!spent.ok);
  assert.equal(spent.refusal.measure, "spend");
});

Deno.test("BudgetTable limits requests in flight, across tables over one shared region", () => {
  const state = createSharedState();
  const one = new BudgetTable(state.budgets);
  const two = new BudgetTable(state.budgets);
  const budget = validateBudget({ maxParallel: 2 });
  const a = one.admit("k", budget, DAY, { tokens: 1, nanos: null });
  const b = two.admit("k", budget, DAY, { tokens: 1, nanos: null });
  assert.ok(a.ok && b.ok);
  const c = one.admit("k", budget, DAY, { tokens: 1, nanos: null });
  assert.ok(!c.ok);
  assert.equal(c.refusal.measure, "parallel");
  two.settle(a.lease, { tokens: 1, nanos: null });
  assert.ok(one.admit("k", budget, DAY, { tokens: 1, nanos: null }).ok);
  // A seed from the request log is seen by every table.
  one.seed("seeded", DAY, { tokens: 7, nanos: 9 });
  assert.deepEqual(two.usage("seeded", DAY), {
    tokens: 7,
    nanos: 9,
    inFlight: 0,
  });
});

Deno.test("periodBounds gives the same bounds from its cache within a period and new ones after it", () => {
  const zone = "Europe/Berlin";
  const noon = Date.UTC(2026, 11, 2, 12);
  const day = periodBounds(noon, "day", zone);
  assert.deepEqual(periodBounds(noon + 3_600_000, "day", zone), day);
  assert.deepEqual(periodBounds(day.end, "day", zone), {
    start: day.end,
    end: Date.UTC(2026, 11, 3, 23),
  });
  // Going back in time (an injected clock) is not served from the cache.
  assert.deepEqual(periodBounds(noon, "day", zone), day);
  // Another period or zone is its own entry.
  assert.equal(
    periodBounds(noon, "month", zone).start,
    Date.UTC(2026, 10, 30, 23),
  );
  assert.equal(periodBounds(noon, "day", "UTC").start, Date.UTC(2026, 11, 2));
});
