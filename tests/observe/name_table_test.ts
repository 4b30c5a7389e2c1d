import assert from "node:assert/strict";
import { NameTable, nameTableBytes } from "../../src/observe/name_table.ts";

function region(capacity: number, nameBytes: number, offset = 0) {
  const byteLength = nameTableBytes(capacity, nameBytes);
  return {
    buffer: new SharedArrayBuffer(offset + byteLength),
    byteOffset: offset,
    byteLength,
  };
}

Deno.test("NameTable.slot() gives a name the same slot in every mapping", async (t) => {
  const r = region(3, 8);
  const writer = new NameTable(r, { capacity: 3, nameBytes: 8 });
  const reader = new NameTable(r, { capacity: 3, nameBytes: 8 });

  await t.step("slots fill in order; a known name keeps its slot", () => {
    assert.equal(writer.slot("gpt-4o", true), 0);
    assert.equal(writer.slot("claude", true), 1);
    assert.equal(writer.slot("gpt-4o", true), 0);
    assert.equal(reader.slot("claude", false), 1);
  });
  await t.step("without claim, an unknown name gets the capacity", () => {
    assert.equal(reader.slot("gemini", false), 3);
    assert.deepEqual(reader.names(), ["gpt-4o", "claude", null]);
  });
  await t.step("a full table answers the capacity", () => {
    assert.equal(writer.slot("gemini", true), 2);
    assert.equal(writer.slot("mistral", true), 3);
    assert.deepEqual(reader.names(), ["gpt-4o", "claude", "gemini"]);
  });
});

Deno.test("NameTable truncates long names to whole UTF-8 characters", () => {
  const table = new NameTable(region(2, 4), { capacity: 2, nameBytes: 4 });
  assert.equal(table.slot("abcdef", true), 0);
  // Same first four bytes: the same label.
  assert.equal(table.slot("abcdxyz", true), 0);
  assert.equal(table.slot("aéé", true), 1);
  assert.deepEqual(table.names(), ["abcd", "aé"]);
});

Deno.test("NameTable refuses a region too small or misaligned", () => {
  const r = region(2, 4, 2);
  assert.throws(
    () =>
      new NameTable({ ...r, byteLength: r.byteLength - 1 }, {
        capacity: 2,
        nameBytes: 4,
      }),
    RangeError,
  );
  assert.throws(
    () => new NameTable(r, { capacity: 2, nameBytes: 4 }),
    RangeError,
  );
});
