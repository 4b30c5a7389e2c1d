import assert from "node:assert/strict";
import { join } from "node:path";
import {
  keyRecordJson,
  KeyVerifier,
  modelAllowed,
  parseExpiry,
} from "../../src/access/client_keys.ts";
import { openKeyStore } from "../../src/access/key_store.ts";

const T0 = Date.UTC(2026, 10, 22, 12, 0, 0);
const DAY = 86_400_000;

async function withDb(
  fn: (path: string) => void | Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "flow-proxy-keys-" });
  try {
    await fn(join(dir, "flow-proxy.db"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("KeyVerifier.verify() tells valid, unknown, revoked and expired apart", async () => {
  await withDb((path) => {
    const now = T0;
    using store = openKeyStore(path, { now: () => now });
    const good = store.create({ name: "good" }).key;
    const revoked = store.create({ name: "gone" }).key;
    const expiring = store.create({ name: "brief", expiresAt: T0 + 1000 }).key;
    store.revoke("gone");
    const verifier = new KeyVerifier(store.snapshot());
    assert.equal(verifier.size, 3);

    const ok = verifier.verify(good, now);
    assert.equal(ok.ok && ok.record.name, "good");
    assert.deepEqual(verifier.verify(good + "x", now), {
      ok: false,
      reason: "unknown_key",
      record: null,
    });
    assert.deepEqual(verifier.verify("", now), {
      ok: false,
      reason: "unknown_key",
      record: null,
    });
    const gone = verifier.verify(revoked, now);
    assert.equal(!gone.ok && gone.reason, "revoked_key");
    assert.equal(gone.record?.name, "gone");
    assert.equal(verifier.verify(expiring, T0 + 999).ok, true);
    const expired = verifier.verify(expiring, T0 + 1000);
    assert.equal(!expired.ok && expired.reason, "expired_key");
  });
});

Deno.test("KeyVerifier: a key verified before follows every later load (revoked, removed)", async () => {
  await withDb((path) => {
    const now = T0;
    using store = openKeyStore(path, { now: () => now });
    const key = store.create({ name: "hot" }).key;
    const verifier = new KeyVerifier(store.snapshot());
    // Seen twice: the second time from what the first remembered.
    assert.equal(verifier.verify(key, now).ok, true);
    assert.equal(verifier.verify(key, now).ok, true);
    store.revoke("hot");
    verifier.load(store.snapshot());
    const revoked = verifier.verify(key, now);
    assert.equal(!revoked.ok && revoked.reason, "revoked_key");
    verifier.load([]);
    assert.deepEqual(verifier.verify(key, now), {
      ok: false,
      reason: "unknown_key",
      record: null,
    });
  });
});

Deno.test("slotTag() gives a name the same tag every time, and different names different tags", async () => {
  const { slotTag } = await import("../../src/access/shared_slots.ts");
  const first = slotTag("team-a");
  assert.equal(slotTag("team-a"), first);
  assert.notEqual(slotTag("team-b"), first);
  assert.notEqual(first, 0n);
  // Past the memo's bound, the tags stay the same.
  for (let i = 0; i < 5000; i++) slotTag(`name-${i}`);
  assert.equal(slotTag("team-a"), first);
  assert.equal(slotTag("name-1"), slotTag("name-1"));
});

Deno.test("parseExpiry() takes durations and dates", async (t) => {
  await t.step("durations", () => {
    assert.equal(parseExpiry("30d", T0), T0 + 30 * DAY);
    assert.equal(parseExpiry("12h", T0), T0 + 12 * 3_600_000);
    assert.equal(parseExpiry("90m", T0), T0 + 90 * 60_000);
    assert.equal(parseExpiry("2w", T0), T0 + 14 * DAY);
  });
  await t.step("dates", () => {
    assert.equal(parseExpiry("2026-12-31", T0), Date.UTC(2026, 11, 31));
    assert.equal(
      parseExpiry("2026-12-31T18:30:00Z", T0),
      Date.UTC(2026, 11, 31, 18, 30),
    );
  });
  await t.step("refused", () => {
    assert.throws(() => parseExpiry("2020-01-01", T0), /not in the future/);
    assert.throws(() => parseExpiry("0d", T0), /not in the future/);
    assert.throws(() => parseExpiry("soon", T0), /Invalid expiry "soon"/);
    assert.throws(() => parseExpiry("30y", T0), TypeError);
  });
});

Deno.test("modelAllowed() matches exact names and prefix wildcards", () => {
  assert.equal(modelAllowed(null, "anything"), true);
  assert.equal(modelAllowed(["gpt-4o"], "gpt-4o"), true);
  assert.equal(modelAllowed(["gpt-4o"], "gpt-4o-mini"), false);
  assert.equal(
    modelAllowed(["anthropic.*"], "anthropic.claude-4-5-sonnet"),
    true,
  );
  assert.equal(modelAllowed(["anthropic.*"], "gemini-2.5-pro"), false);
});

Deno.test("keyRecordJson() shows status and ISO times", () => {
  const record = {
    id: 1,
    name: "a",
    prefix: "fpk_abcdef",
    createdAt: T0,
    expiresAt: T0 + 1000,
    rpm: null,
    burst: null,
    models: null,
    revokedAt: null,
    lastUsedAt: null,
  };
  assert.deepEqual(keyRecordJson(record, T0), {
    name: "a",
    prefix: "fpk_abcdef",
    status: "active",
    created_at: "2026-11-22T12:00:00.000Z",
    expires_at: "2026-11-22T12:00:01.000Z",
    rpm: null,
    burst: null,
    models: null,
    revoked_at: null,
    last_used_at: null,
    budget: null,
    owner: null,
  });
  assert.equal(keyRecordJson(record, T0 + 1000).status, "expired");
  assert.deepEqual(
    keyRecordJson({
      ...record,
      budget: {
        period: "week",
        tokens: 5000,
        spendNanos: 2_500_000_000,
        maxParallel: 3,
      },
    }, T0).budget,
    { period: "week", tokens: 5000, spend: 2.5, max_parallel: 3 },
  );
  assert.equal(
    keyRecordJson({ ...record, revokedAt: T0 }, T0).status,
    "revoked",
  );
});
