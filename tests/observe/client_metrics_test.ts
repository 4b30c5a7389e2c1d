import assert from "node:assert/strict";
import {
  ClientMetrics,
  MAX_CLIENTS,
} from "../../src/observe/client_metrics.ts";
import type { RequestRecord } from "../../src/request_log/record.ts";
import { makeRecord } from "./metrics_records.ts";
import { createSharedState } from "../../src/base/shared_state.ts";

function record(client: string | null, status = 200): RequestRecord {
  return makeRecord({ client, status, tokensIn: 5, tokensOut: 2 });
}

Deno.test("ClientMetrics counts by key name, seen from another mapping of the buffer", async (t) => {
  const state = createSharedState();
  const writer = new ClientMetrics(state.clients);
  const reader = new ClientMetrics(state.clients);

  await t.step(
    "requests, errors and tokens by name; anonymous requests not counted",
    () => {
      writer.observe([
        record("ci"),
        record("ci", 429),
        record(null),
        record('a"b\\c'),
      ]);
      const text = reader.render();
      assert.match(
        text,
        /^flow_proxy_client_requests_total\{client="ci"\} 2$/m,
      );
      assert.match(text, /^flow_proxy_client_errors_total\{client="ci"\} 1$/m);
      assert.match(
        text,
        /^flow_proxy_client_tokens_total\{client="ci",direction="in"\} 10$/m,
      );
      assert.match(
        text,
        /^flow_proxy_client_requests_total\{client="a\\"b\\\\c"\} 1$/m,
      );
      assert.equal(
        text.match(/^flow_proxy_client_requests_total\{/gm)?.length,
        2,
      );
    },
  );

  await t.step("names beyond the table count as other", () => {
    for (let i = 0; i < MAX_CLIENTS + 10; i++) {
      writer.observe([record(`k${i}`)]);
    }
    const text = reader.render();
    const names = text.match(
      /^flow_proxy_client_requests_total\{client="[^"]*"/gm,
    )!;
    assert.equal(names.length, MAX_CLIENTS + 1);
    assert.match(
      text,
      /^flow_proxy_client_requests_total\{client="other"\} 12$/m,
    );
  });
});
