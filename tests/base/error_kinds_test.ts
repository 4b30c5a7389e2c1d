import assert from "node:assert/strict";
import { ERROR_STATUS } from "../../src/base/api_errors.ts";
import {
  ACCESS_REFUSALS,
  ERROR_KINDS,
  RECORD_ONLY_ERRORS,
} from "../../src/base/error_kinds.ts";

Deno.test("ERROR_KINDS holds every error type, refusal and record-only kind once", () => {
  assert.equal(new Set(ERROR_KINDS).size, ERROR_KINDS.length);
  for (const kind of Object.keys(ERROR_STATUS)) {
    assert(ERROR_KINDS.includes(kind as never), kind);
  }
  for (const kind of [...ACCESS_REFUSALS, ...RECORD_ONLY_ERRORS]) {
    assert(ERROR_KINDS.includes(kind), kind);
  }
  assert.deepEqual([...RECORD_ONLY_ERRORS], [
    "upstream_5xx",
    "client_cancel",
    "stream_error",
  ]);
});
