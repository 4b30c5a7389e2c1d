/**
 * Methods as an attacker writes them, byte for byte on a socket: `fetch`
 * cannot send TRACE or TRACK and rewrites the case of six methods, so the
 * proxy refuses them itself, and never as an upstream failure.
 */
import assert from "node:assert/strict";
import { rawRequest } from "../support/raw_http.ts";
import { startStack } from "../support/stack.ts";

const JSON_BODY = JSON.stringify({ model: "gpt-4o", messages: [] });

Deno.test("serve refuses methods fetch cannot send, and miscased methods, without an upstream error", async (t) => {
  await using stack = await startStack({ args: ["--num-workers", "1"] });
  const { proxy, upstream } = stack;

  const cases: [string, number, string][] = [
    ["TRACE /v1/models HTTP/1.1", 405, "method_not_allowed"],
    ["TRACK /v1/models HTTP/1.1", 405, "method_not_allowed"],
    ["trace /v1/models HTTP/1.1", 405, "method_not_allowed"],
    ["get /v1/models HTTP/1.1", 400, "bad_request"],
    ["Post /v1/chat/completions HTTP/1.1", 400, "bad_request"],
    ["patch /v1/x HTTP/1.1", 400, "bad_request"],
    ["delete /v1/x HTTP/1.1", 400, "bad_request"],
    ["get /healthz HTTP/1.1", 400, "bad_request"],
  ];
  for (const [line, status, type] of cases) {
    await t.step(line, async () => {
      const res = await rawRequest(proxy.port, line, {
        headers: ["content-type: application/json"],
        body: line.startsWith("Post") ? JSON_BODY : "",
      });
      assert.equal(res.status, status, res.body);
      assert.equal(JSON.parse(res.body).error.type, type);
      if (status === 405) {
        assert.equal(
          res.headers.get("allow"),
          "GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS",
        );
      }
      assert.equal(upstream.requests.length, 0, "the upstream saw a request");
    });
  }

  await t.step(
    "none of them counts as an upstream error or a failover",
    async () => {
      const text = await (await fetch(`${proxy.url}/metrics`)).text();
      for (const line of text.split("\n")) {
        if (
          line.startsWith("flow_proxy_upstream_errors_total") ||
          line.startsWith("flow_proxy_failovers_total")
        ) {
          assert.match(line, / 0$/, line);
        }
      }
      assert.ok(!/status_class="5xx"/.test(text), "a 5xx was counted");
    },
  );

  await t.step("standard methods in upper case still go through", async () => {
    const res = await rawRequest(proxy.port, "GET /v1/models HTTP/1.1");
    assert.equal(res.status, 200);
    assert.equal(upstream.requests.length, 1);
    assert.equal(upstream.requests[0].method, "GET");
  });
});
