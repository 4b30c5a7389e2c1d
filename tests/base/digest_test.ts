import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { constantTimeEqual, sha256, sha256Hex } from "../../src/base/digest.ts";

Deno.test("sha256() and sha256Hex() agree with node:crypto", () => {
  const inputs = [
    "",
    "abc",
    "fpk_" + "A".repeat(43),
    "é ✓ 漢字 🙂", // UTF-8, multi-byte
    "x".repeat(55), // padding edges of one 64-byte block
    "x".repeat(56),
    "x".repeat(64),
    "y".repeat(100_000), // many blocks
  ];
  for (const text of inputs) {
    const expected = createHash("sha256").update(text).digest();
    assert.deepEqual(sha256(text), new Uint8Array(expected), text.slice(0, 20));
    assert.equal(sha256Hex(text), expected.toString("hex"));
  }
  assert.equal(
    sha256Hex("abc"),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
});

Deno.test("constantTimeEqual() compares bytes and lengths", () => {
  const a = new Uint8Array([1, 2, 3, 4]);
  assert.equal(constantTimeEqual(a, new Uint8Array([1, 2, 3, 4])), true);
  assert.equal(constantTimeEqual(a, new Uint8Array([1, 2, 3, 5])), false);
  assert.equal(constantTimeEqual(a, new Uint8Array([0, 2, 3, 4])), false);
  assert.equal(constantTimeEqual(a, new Uint8Array([1, 2, 3])), false);
  assert.equal(constantTimeEqual(new Uint8Array(), new Uint8Array()), true);
});
