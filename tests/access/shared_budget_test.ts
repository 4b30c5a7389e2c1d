/**
 * User and team budgets at the access check: every key of the owner (and of
 * the team's members) draws on one shared counter, each budget refuses in
 * its own words, and a refusal gives back what the others reserved.
 */
import assert from "node:assert/strict";
import { createAccessControl } from "../../src/access/access.ts";
import { type Budget, type SharedBudget } from "../../src/access/budget.ts";
import { BudgetTable } from "../../src/access/budget_table.ts";
import {
  hashKey,
  KeyVerifier,
  type StoredKey,
} from "../../src/access/client_keys.ts";
import { createSharedState } from "../../src/base/shared_state.ts";

const T0 = Date.UTC(2026, 11, 2, 10, 0, 0);
const INFO = {
  remoteAddr: {
    transport: "tcp",
    hostname: "127.0.0.1",
    port: 50000,
  } as Deno.NetAddr,
};

function tokens(n: number, maxParallel: number | null = null): Budget {
  return { period: "day", tokens: n, spendNanos: null, maxParallel };
}

function shared(
  holder: "user" | "team",
  name: string,
  budget: Budget,
): SharedBudget {
  return { slot: `${holder}:${name}`, holder, name, budget };
}

function key(
  name: string,
  owner: string | null,
  list: SharedBudget[] | undefined,
  budget: Budget | null = null,
): StoredKey {
  return {
    id: 1,
    name,
    prefix: "fpk_test",
    hash: hashKey(`fpk_${name}`),
    createdAt: T0 - 1000,
    expiresAt: null,
    rpm: 0,
    burst: null,
    models: null,
    revokedAt: null,
    lastUsedAt: null,
    budget,
    owner,
    ...(list ? { shared: list } : {}),
  };
}

function setup(keys: StoredKey[]) {
  const budgets = new BudgetTable(createSharedState().budgets);
  const check = createAccessControl({
    keys: new KeyVerifier(keys),
    requireKey: true,
    limiter: null,
    defaultRpm: 0,
    defaultBurst: 0,
    ipFilter: null,
    now: () => T0,
    budgets,
  });
  const call = (name: string) =>
    check(
      new Request("http://127.0.0.1/v1/chat/completions", {
        method: "POST",
        headers: { authorization: `Bearer fpk_${name}` },
      }),
      INFO,
      "gpt-4o",
      null,
      { bodyBytes: 0, inputNanosPerToken: null, outputNanosPerToken: null },
    );
  /** One request of `name` that used `used` tokens; its result. */
  const spend = (name: string, used: number) => {
    const result = call(name);
    if (result.ok && result.lease) {
      check.settle(result.lease, { tokens: used, nanos: null });
    }
    return result;
  };
  return { budgets, call, spend, check };
}

const DAY_START = Date.UTC(2026, 11, 2);

Deno.test("a user's budget counts every key they own and refuses naming the user", () => {
  const alice = shared("user", "alice", tokens(100));
  const { spend, budgets } = setup([
    key("laptop", "alice", [alice]),
    key("ci", "alice", [alice]),
    key("bobs", "bob", undefined),
  ]);
  assert.equal(spend("laptop", 60).ok, true);
  assert.equal(spend("ci", 40).ok, true);
  assert.deepEqual(budgets.usage("user:alice", DAY_START), {
    tokens: 100,
    nanos: 0,
    inFlight: 0,
  });
  for (const name of ["laptop", "ci"]) {
    const refused = spend(name, 1);
    assert.equal(refused.ok, false);
    if (refused.ok) continue;
    assert.equal(refused.type, "budget_exceeded");
    assert.match(
      refused.message,
      /^User 'alice' has used 100 of its 100 tokens this period; the budget resets at 2026-12-03T00:00:00\.000Z$/,
    );
  }
  // Another user's key is not held back.
  assert.equal(spend("bobs", 500).ok, true);
});

Deno.test("a team's budget counts its members' keys; the key's and user's own budgets still apply", () => {
  const core = shared("team", "core", tokens(50));
  const alice = shared("user", "alice", tokens(1000));
  const { spend } = setup([
    key("a1", "alice", [alice, core]),
    key("b1", "bob", [core]),
    key("small", "bob", [core], tokens(5)),
  ]);
  assert.equal(spend("a1", 30).ok, true);
  assert.equal(spend("small", 10).ok, true);
  const ownFirst = spend("small", 1);
  assert.equal(ownFirst.ok, false);
  if (!ownFirst.ok) assert.match(ownFirst.message, /^This API key has used 10/);
  assert.equal(spend("b1", 10).ok, true);
  const refused = spend("a1", 1);
  assert.equal(refused.ok, false);
  if (!refused.ok) {
    assert.match(refused.message, /^Team 'core' has used 50 of its 50 tokens/);
  }
});

Deno.test("a refusal by the team's budget gives back what the key's and the user's reserved", () => {
  const alice = shared("user", "alice", tokens(100_000, 2));
  const core = shared("team", "core", tokens(100_000, 1));
  const { call, budgets, check } = setup([
    key("a1", "alice", [alice, core], tokens(100_000, 5)),
  ]);
  const first = call("a1");
  assert.equal(first.ok, true);
  const second = call("a1");
  assert.equal(second.ok, false);
  if (!second.ok) {
    assert.match(
      second.message,
      /^Team 'core' may have 1 requests in flight at once; 1 are running/,
    );
    assert.equal(second.headers.find(([h]) => h === "retry-after")?.[1], "1");
  }
  // Only the first request is in flight on the key's and the user's counters.
  assert.equal(budgets.usage("a1", DAY_START).inFlight, 1);
  assert.equal(budgets.usage("user:alice", DAY_START).inFlight, 1);
  if (first.ok && first.lease) {
    check.settle(first.lease, { tokens: 7, nanos: null });
  }
  for (const slot of ["a1", "user:alice", "team:core"]) {
    assert.deepEqual(budgets.usage(slot, DAY_START), {
      tokens: 7,
      nanos: 0,
      inFlight: 0,
    }, slot);
  }
});

Deno.test("a key without any budget takes no lease", () => {
  const { call } = setup([key("free", "carol", undefined)]);
  const result = call("free");
  assert.equal(result.ok, true);
  if (result.ok) assert.equal(result.lease, undefined);
});
