import assert from "node:assert/strict";
import { openKeyStore } from "../../src/access/key_store.ts";
import { isKeyReplica } from "../../src/access/key_replica.ts";
import { hashKey } from "../../src/access/client_keys.ts";

function tempDb(): string {
  return `${Deno.makeTempDirSync({ prefix: "flow-proxy-replica-" })}/keys.db`;
}

Deno.test("key replicas: rows carry the hash, never the key, and merge into another table", () => {
  using a = openKeyStore(tempDb());
  using b = openKeyStore(tempDb());
  const { key } = a.create({ name: "ci", rpm: 5, models: ["gpt-*"] });
  const rows = a.replicaRows();
  assert.equal(rows.length, 1);
  assert.equal(rows[0].hash, hashKey(key));
  assert.ok(!JSON.stringify(rows).includes(key));
  assert.ok(isKeyReplica(rows[0]));
  assert.deepEqual(b.mergeReplicas(rows), { changed: 1, clashes: [] });
  const copy = b.snapshot()[0];
  assert.equal(copy.hash, hashKey(key));
  assert.equal(copy.rpm, 5);
  assert.deepEqual(copy.models, ["gpt-*"]);
  // The same row again changes nothing.
  assert.deepEqual(b.mergeReplicas(rows), { changed: 0, clashes: [] });
});

Deno.test("key replicas: a revocation is never undone, the earliest wins, a budget wins by revision", () => {
  using a = openKeyStore(tempDb(), { now: () => 2_000 });
  using b = openKeyStore(tempDb(), { now: () => 1_000 });
  a.create({ name: "ci" });
  b.mergeReplicas(a.replicaRows());
  const active = a.replicaRows();
  a.revoke("ci");
  b.mergeReplicas(a.replicaRows());
  assert.equal(b.snapshot()[0].revokedAt, 2_000);
  // The stale active row arrives late: still revoked.
  b.mergeReplicas(active);
  assert.equal(b.snapshot()[0].revokedAt, 2_000);
  // An earlier revocation elsewhere wins.
  b.mergeReplicas([{ ...active[0], revokedAt: 1_500 }]);
  assert.equal(b.snapshot()[0].revokedAt, 1_500);

  a.create({ name: "spend" });
  b.mergeReplicas(a.replicaRows());
  a.setBudget("spend", {
    period: "day",
    tokens: 100,
    spendNanos: null,
    maxParallel: null,
  });
  const newer = a.replicaRows().find((r) => r.name === "spend")!;
  assert.equal(newer.revision, 1);
  b.mergeReplicas([{ ...newer, budget: null, revision: 0 }]);
  assert.equal(b.snapshot().find((k) => k.name === "spend")!.budget, null);
  b.mergeReplicas([newer]);
  assert.deepEqual(
    b.snapshot().find((k) => k.name === "spend")!.budget,
    JSON.parse(newer.budget!),
  );
});

Deno.test("key replicas: an active key of the same name with another hash is a clash, named, not a crash", () => {
  using a = openKeyStore(tempDb());
  using b = openKeyStore(tempDb());
  a.create({ name: "ci" });
  b.create({ name: "ci" });
  assert.deepEqual(b.mergeReplicas(a.replicaRows()), {
    changed: 0,
    clashes: ["ci"],
  });
  assert.equal(b.snapshot().length, 1);
  assert.equal(isKeyReplica({ ...a.replicaRows()[0], hash: "nope" }), false);
});
