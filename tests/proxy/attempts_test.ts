import assert from "node:assert/strict";
import { redactorFor, retryAfterMs } from "../../src/proxy/attempts.ts";
import { Balancer, resetHealth } from "../../src/upstream/balancer.ts";
import { createSharedState } from "../../src/base/shared_state.ts";

Deno.test("retryAfterMs reads delta-seconds and HTTP dates", async (t) => {
  const now = Date.UTC(2026, 0, 1, 0, 0, 0);
  await t.step("seconds", () => {
    assert.equal(retryAfterMs("7", now), 7000);
    assert.equal(retryAfterMs(" 10 ", now), 10_000);
    assert.equal(retryAfterMs("0", now), 0);
  });
  await t.step("HTTP date", () => {
    assert.equal(
      retryAfterMs(new Date(now + 90_000).toUTCString(), now),
      90_000,
    );
  });
  await t.step("a date in the past is 0", () => {
    assert.equal(retryAfterMs(new Date(now - 5000).toUTCString(), now), 0);
  });
  await t.step("absent or garbage is null", () => {
    assert.equal(retryAfterMs(null, now), null);
    assert.equal(retryAfterMs("soon", now), null);
    assert.equal(retryAfterMs("", now), null);
  });
});

Deno.test("redactorFor() makes one redactor per balancer (secrets generation)", () => {
  const state = createSharedState();
  resetHealth(state);
  const one = new Balancer(state, {
    names: ["a", "b"],
    tokens: ["token-aaaaaaaaaaaaaaaaaaaa", "token-bbbbbbbbbbbbbbbbbbbb"],
    generation: 1,
  }, { backoffBase: 1000, backoffMax: 1000 });
  const two = new Balancer(state, {
    names: ["a"],
    tokens: ["token-cccccccccccccccccccc"],
    generation: 2,
  }, { backoffBase: 1000, backoffMax: 1000 });
  assert.equal(redactorFor(one), redactorFor(one));
  assert.notEqual(redactorFor(one), redactorFor(two));
});
