import assert from "node:assert/strict";
import { createRouter } from "../../src/proxy/routing.ts";

const FLOW = "https://flow.ciandt.com/flow-llm-proxy";

Deno.test("createRouter refuses a raw path whose dot segments leave the base path", async (t) => {
  const route = createRouter(new URL(FLOW));
  // Strings, as Deno.serve hands them over: a URL object would resolve them.
  const escapes = [
    "http://127.0.0.1:8899/v1/../../x",
    "http://127.0.0.1:8899/%2e%2e/%2e%2e/x",
    "http://127.0.0.1:8899/.%2E/x",
    "http://127.0.0.1:8899/%2E./x",
    "http://127.0.0.1:8899/flow-llm-proxy/../auth-engine-api/x",
    "http://127.0.0.1:8899/flow-llm-proxy/..",
    "http://127.0.0.1:8899/..",
    "http://127.0.0.1:8899/flow-llm-proxy/v1/../..?q=1",
    "http://127.0.0.1:8899/v1\\..\\..\\x",
    "http://127.0.0.1:8899/v1/..%2F..%2Fx",
    "http://127.0.0.1:8899/v1/a%2f..%2f..%2f..%2fx",
    "http://127.0.0.1:8899/flow-llm-proxy/a%2fb/../..",
    "http://flow.ciandt.com/flow-llm-proxy/../x",
    "http://flow.ciandt.com/v1/%2e%2e/%2e%2e/x",
  ];
  for (const url of escapes) {
    await t.step(url, () => {
      const r = route(url);
      assert.equal(typeof r.refusal, "string");
      assert.equal(r.target, FLOW, "a refused route still targets the base");
    });
  }

  const inside: [string, string, string][] = [
    ["http://127.0.0.1:8899/v1/models", `${FLOW}/v1/models`, "/v1/models"],
    [
      "http://127.0.0.1:8899/v1/x/../models?a=/../",
      `${FLOW}/v1/models?a=/../`,
      "/v1/models",
    ],
    [
      "http://127.0.0.1:8899/v1/./%2E/models",
      `${FLOW}/v1/models`,
      "/v1/models",
    ],
    ["http://127.0.0.1:8899/v1/..", `${FLOW}/`, "/"],
    ["http://127.0.0.1:8899/v1\\models", `${FLOW}/v1/models`, "/v1/models"],
    ["http://127.0.0.1:8899/v1/../healthz", `${FLOW}/healthz`, "/healthz"],
    [
      "http://127.0.0.1:8899/v1/models/anthropic.claude-4-5-sonnet",
      `${FLOW}/v1/models/anthropic.claude-4-5-sonnet`,
      "/v1/models/anthropic.claude-4-5-sonnet",
    ],
    ["http://127.0.0.1:8899/v1/a%2Fb", `${FLOW}/v1/a%2Fb`, "/v1/a%2Fb"],
    ["http://127.0.0.1:8899/v1/...", `${FLOW}/v1/...`, "/v1/..."],
    [
      "http://flow.ciandt.com/flow-llm-proxy/v1/a/../models",
      `${FLOW}/v1/models`,
      "/v1/models",
    ],
  ];
  for (const [url, target, path] of inside) {
    await t.step(`kept: ${url}`, () => {
      const r = route(url);
      assert.equal(r.refusal, null);
      assert.equal(r.target, target);
      assert.equal(r.path, path);
    });
  }

  await t.step("a root upstream resolves the dots, as fetch would", () => {
    const r = createRouter(new URL("http://127.0.0.1:9000"))(
      "http://127.0.0.1:8899/a/../../x",
    );
    assert.equal(r.refusal, null);
    assert.equal(r.target, "http://127.0.0.1:9000/x");
  });
});
