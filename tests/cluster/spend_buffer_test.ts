import assert from "node:assert/strict";
import { type Charge, SpendBuffer } from "../../src/cluster/spend_buffer.ts";

function charge(id: string): Charge {
  return {
    slot: "k",
    id,
    period: 1,
    tokens: 10,
    nanos: -1,
    tokenLimit: -1,
    spendLimit: -1,
  };
}

Deno.test("SpendBuffer.flush() keeps what failed, in order, after what came in meanwhile", async () => {
  const buffer = new SpendBuffer();
  for (const id of ["a", "b", "c"]) buffer.push(charge(id));
  const sent: string[] = [];
  const delivered = await buffer.flush((c) => {
    sent.push(c.id);
    // A charge made while the flush is under way.
    if (c.id === "a") buffer.push(charge("d"));
    return c.id === "b"
      ? Promise.reject(new Error("timeout"))
      : Promise.resolve();
  });
  assert.equal(delivered, 2);
  assert.deepEqual(sent, ["a", "b", "c"]);
  const again: string[] = [];
  assert.equal(
    await buffer.flush((c) => (again.push(c.id), Promise.resolve())),
    2,
  );
  assert.deepEqual(again, ["b", "d"]);
  assert.equal(buffer.size, 0);
  assert.equal(await buffer.flush(() => Promise.resolve()), 0);
});

Deno.test("SpendBuffer drops the oldest beyond its bound and counts them", () => {
  const buffer = new SpendBuffer(2);
  for (const id of ["a", "b", "c"]) buffer.push(charge(id));
  assert.equal(buffer.size, 2);
  assert.equal(buffer.takeDropped(), 1);
  assert.equal(buffer.takeDropped(), 0);
});
