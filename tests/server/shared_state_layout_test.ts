import assert from "node:assert/strict";
import {
  CLIENTS_BYTES,
  createSharedState,
  LIMITS_BYTES,
  METRICS_BYTES,
} from "../../src/base/shared_state.ts";
import { CLIENT_METRICS_BYTE_LENGTH } from "../../src/observe/client_metrics.ts";
import { METRICS_BYTE_LENGTH } from "../../src/observe/metrics.ts";
import { LIMITS_BYTE_LENGTH } from "../../src/access/rate_limit.ts";

Deno.test("each region's layout fits the size shared_state.ts gives it", () => {
  const state = createSharedState();
  assert.equal(state.metrics.byteLength, METRICS_BYTES);
  assert.equal(state.limits.byteLength, LIMITS_BYTES);
  assert.equal(state.clients.byteLength, CLIENTS_BYTES);
  assert(METRICS_BYTE_LENGTH <= METRICS_BYTES);
  assert(LIMITS_BYTE_LENGTH <= LIMITS_BYTES);
  assert(CLIENT_METRICS_BYTE_LENGTH <= CLIENTS_BYTES);
  for (const region of [state.metrics, state.limits, state.clients]) {
    assert.equal(region.byteOffset % 8, 0);
  }
});
