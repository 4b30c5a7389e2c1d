import assert from "node:assert/strict";
import { describe, describeIoError } from "../../src/base/describe.ts";

Deno.test("describe() adds the cause's message once", async (t) => {
  await t.step("an error and its cause", () => {
    const err = new TypeError("fetch failed", {
      cause: new Error("connection refused"),
    });
    assert.equal(describe(err), "fetch failed: connection refused");
  });
  await t.step("a cause that repeats the message is not appended", () => {
    const err = new Error("file is not a database", {
      cause: new Error("file is not a database"),
    });
    assert.equal(describe(err), "file is not a database");
  });
  await t.step("no cause, and thrown values that are not errors", () => {
    assert.equal(describe(new Error("boom")), "boom");
    assert.equal(describe("plain"), "plain");
    assert.equal(describe(42), "42");
  });
});

Deno.test("describeIoError() names common file-system errors in a few words", () => {
  assert.equal(describeIoError(new Deno.errors.NotFound("x")), "no such file");
  assert.equal(
    describeIoError(new Deno.errors.PermissionDenied("x")),
    "permission denied",
  );
  assert.equal(describeIoError(new Error("other")), "other");
});
