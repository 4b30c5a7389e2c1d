import assert from "node:assert/strict";
import {
  CREDENTIAL_STATE,
  HealthTable,
  resetHealth,
} from "../../src/upstream/health.ts";
import { createSharedState } from "../../src/base/shared_state.ts";

const NOW = 1_700_000_000_000;
const OPTIONS = { backoffBase: 1000, backoffMax: 3000, probeLease: 500 };

function table(): HealthTable {
  const state = createSharedState();
  resetHealth(state);
  return new HealthTable(state, OPTIONS);
}

Deno.test("HealthTable.markFailed() fails a credential once, for the first backoff", () => {
  const health = table();
  const before = health.generation();
  assert.equal(health.markFailed(1, NOW), true);
  assert.equal(health.markFailed(1, NOW), false, "already failed");
  assert.equal(health.state(1), CREDENTIAL_STATE.FAILED);
  assert.equal(health.retryAt(1), NOW + 1000);
  assert.notEqual(health.generation(), before, "the change is announced");
  assert.deepEqual(health.view(2, NOW), {
    usable: [0],
    due: [],
    nextChange: NOW + 1000,
  });
  assert.deepEqual(health.view(2, NOW + 1000).due, [1]);
});

Deno.test("HealthTable.failProbe() doubles the backoff up to the cap", () => {
  const health = table();
  health.markFailed(0, NOW);
  assert.deepEqual(
    [1, 2, 3].map(() => health.failProbe(0, NOW)),
    [2000, 3000, 3000],
  );
  assert.equal(health.describe(0, "a", NOW).failures, 4);
});

Deno.test("HealthTable.claimProbe() gives one lease until it ends or is released", () => {
  const health = table();
  health.markFailed(0, NOW);
  const due = NOW + 1000;
  assert.equal(health.claimProbe(0, due), true);
  assert.equal(health.claimProbe(0, due), false, "the lease is held");
  assert.equal(health.describe(0, "a", due).state, "probing");
  assert.deepEqual(health.view(1, due).due, [], "a held lease is not due");
  assert.equal(health.claimProbe(0, due + 500), true, "the lease ran out");
  health.releaseProbe(0);
  assert.equal(health.claimProbe(0, due + 500), true, "released");
  assert.equal(
    health.claimProbe(1, due),
    false,
    "an ok credential has no probe",
  );
});

Deno.test("HealthTable.restore() puts a credential back only from the state it was in", () => {
  const health = table();
  health.markFailed(0, NOW);
  assert.equal(health.restore(0, CREDENTIAL_STATE.COOLING), false);
  assert.equal(health.restore(0, CREDENTIAL_STATE.FAILED), true);
  assert.deepEqual(health.describe(0, "a", NOW), {
    name: "a",
    state: "ok",
    failures: 0,
    retryInSeconds: 0,
  });
});

Deno.test("HealthTable.coolDown() keeps the longer of two cool-downs", () => {
  const health = table();
  assert.equal(health.coolDown(0, NOW + 5000), true);
  assert.equal(health.coolDown(0, NOW + 2000), false);
  assert.deepEqual(health.describe(0, "a", NOW), {
    name: "a",
    state: "cooling",
    failures: 0,
    retryInSeconds: 5,
  });
  assert.deepEqual(health.view(1, NOW).usable, []);
  assert.deepEqual(health.view(1, NOW + 5000).usable, [0], "cooled down");
});

Deno.test("HealthTable validates its backoff", () => {
  const state = createSharedState();
  assert.throws(
    () => new HealthTable(state, { backoffBase: 0, backoffMax: 1 }),
    RangeError,
  );
  assert.throws(
    () => new HealthTable(state, { backoffBase: 10, backoffMax: 5 }),
    RangeError,
  );
});

Deno.test("HealthTable.apply() and holdProbe(): another instance's view in force here, its probe held back", () => {
  const health = table();
  const before = health.generation();
  health.apply(1, {
    state: CREDENTIAL_STATE.FAILED,
    failures: 2,
    retryAt: NOW + 2000,
  });
  assert.ok(health.generation() > before);
  assert.deepEqual(health.snapshot(1), {
    state: CREDENTIAL_STATE.FAILED,
    failures: 2,
    retryAt: NOW + 2000,
  });
  // Held beyond the backoff: not due, not claimable, shown as failed.
  health.holdProbe(1, NOW + 5000);
  assert.equal(health.describe(1, "b", NOW).state, "failed");
  assert.deepEqual(health.view(2, NOW + 3000).due, []);
  assert.equal(health.claimProbe(1, NOW + 3000), false);
  assert.equal(health.describe(1, "b", NOW + 3000).state, "probing");
  // Freed: due at once.
  health.holdProbe(1, 0);
  assert.deepEqual(health.view(2, NOW + 3000).due, [1]);
  assert.equal(health.claimProbe(1, NOW + 3000), true);
  // An ok from elsewhere frees the lease too.
  health.apply(1, { state: CREDENTIAL_STATE.OK, failures: 0, retryAt: 0 });
  assert.equal(health.probeLease(1), 0);
  assert.deepEqual(health.view(2, NOW).usable, [0, 1]);
});
