/**
 * A key's budget through the access check, with an injected clock: the
 * refusal and its Retry-After at the end of the day in the configured time
 * zone, the reset at the period boundary, and no budget work for a key
 * without one.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createAccessControl } from "../../src/access/access.ts";
import { KeyVerifier } from "../../src/access/client_keys.ts";
import { openKeyStore } from "../../src/access/key_store.ts";
import { BudgetTable } from "../../src/access/budget_table.ts";
import { createSharedState } from "../../src/base/shared_state.ts";

const INFO = {
  remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 50000 },
} as unknown as Deno.ServeHandlerInfo;

async function withKeys(
  fn: (keys: { capped: string; free: string }, verifier: KeyVerifier) => void,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "flow-proxy-budget-" });
  try {
    using store = openKeyStore(join(dir, "k.db"));
    const capped = store.create({
      name: "capped",
      budget: {
        period: "day",
        tokens: 100,
        spendNanos: null,
        maxParallel: null,
      },
    }).key;
    const free = store.create({ name: "free" }).key;
    fn({ capped, free }, new KeyVerifier(store.snapshot()));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function request(key: string): Request {
  return new Request("http://127.0.0.1:8899/v1/chat/completions", {
    method: "POST",
    headers: { authorization: `Bearer ${key}` },
  });
}

Deno.test("a key over its day's budget is refused until midnight in the budget's time zone, then let through again", async () => {
  await withKeys(({ capped, free }, verifier) => {
    // 23:00 on 2026-12-01 in São Paulo (UTC−3) is 02:00 UTC on the 2nd.
    let now = Date.UTC(2026, 11, 2, 2, 0, 0);
    const budgets = new BudgetTable(createSharedState().budgets);
    const access = createAccessControl({
      keys: verifier,
      requireKey: false,
      limiter: null,
      defaultRpm: 0,
      defaultBurst: 0,
      ipFilter: null,
      now: () => now,
      budgets,
      budgetTimeZone: "America/Sao_Paulo",
    });
    const size = {
      bodyBytes: 40,
      inputNanosPerToken: null,
      outputNanosPerToken: null,
    };
    const first = access(request(capped), INFO, "gpt-4o", null, size);
    assert.ok(first.ok && first.lease);
    access.settle(first.lease, { tokens: 100, nanos: null });
    const refused = access(request(capped), INFO, "gpt-4o", null, size);
    assert.ok(!refused.ok);
    assert.equal(refused.type, "budget_exceeded");
    assert.equal(refused.reason, "budget_exceeded");
    assert.equal(
      refused.message,
      "This API key has used 100 of its 100 tokens this period; the budget resets at 2026-12-02T03:00:00.000Z",
    );
    assert.deepEqual(
      refused.headers.find(([name]) => name === "retry-after"),
      ["retry-after", "3600"],
    );
    // A key without a budget takes no lease at all.
    const other = access(request(free), INFO, "gpt-4o", null, size);
    assert.ok(other.ok);
    assert.equal(other.lease, undefined);
    // Midnight in São Paulo: a new day, a new budget.
    now = Date.UTC(2026, 11, 2, 3, 0, 0);
    const next = access(request(capped), INFO, "gpt-4o", null, size);
    assert.ok(next.ok && next.lease);
  });
});
