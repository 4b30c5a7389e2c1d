/**
 * Requests as an attacker writes them, byte for byte on a socket: dot
 * segments that would carry the Flow credential outside the upstream's base
 * path. Each is refused by the proxy, and the upstream never sees it.
 */
import assert from "node:assert/strict";
import { rawRequest } from "../support/raw_http.ts";
import { startStack } from "../support/stack.ts";

const JSON_BODY = JSON.stringify({ model: "gpt-4o", messages: [] });

Deno.test("serve refuses paths whose dot segments leave the base path, upstream untouched", async (t) => {
  await using stack = await startStack({ args: ["--num-workers", "1"] });
  const { proxy, upstream } = stack;
  const mock = `127.0.0.1:${upstream.port}`;
  const escapes = [
    "GET /v1/../../x HTTP/1.1",
    "GET /%2e%2e/%2e%2e/x HTTP/1.1",
    "GET /%2E%2E/%2E%2E/x HTTP/1.1",
    "GET /.%2e/x HTTP/1.1",
    "GET /%2e./x HTTP/1.1",
    "GET /flow-llm-proxy/../auth-engine-api/x HTTP/1.1",
    "GET /flow-llm-proxy/%2e%2e/auth-engine-api/x HTTP/1.1",
    "GET /v1\\..\\..\\x HTTP/1.1",
    "GET /v1/..%2f..%2fx HTTP/1.1",
    "GET /v1/..%5c..%5cx HTTP/1.1",
    "POST /v1/../../v1/chat/completions HTTP/1.1",
    // Forward mode: absolute-form request lines naming the upstream's host.
    `GET http://${mock}/flow-llm-proxy/../x HTTP/1.1`,
    `GET http://${mock}/flow-llm-proxy/%2e%2e/auth-engine-api/x HTTP/1.1`,
    `GET http://${mock}/v1/../../x HTTP/1.1`,
    `GET http://${mock}/.%2E/x HTTP/1.1`,
  ];
  for (const line of escapes) {
    await t.step(line, async () => {
      const res = await rawRequest(proxy.port, line, {
        headers: ["content-type: application/json"],
        body: line.startsWith("POST") ? JSON_BODY : "",
      });
      assert.equal(res.status, 400, res.body);
      const body = JSON.parse(res.body);
      assert.equal(body.error.type, "bad_request");
      assert.equal(body.error.code, "bad_request");
      assert.ok(res.headers.get("x-request-id"));
      assert.equal(upstream.requests.length, 0, "the upstream saw a request");
    });
  }

  await t.step("Anthropic clients get Anthropic's error shape", async () => {
    const res = await rawRequest(
      proxy.port,
      "POST /v1/messages/../../../x HTTP/1.1",
      { body: "{}" },
    );
    assert.equal(res.status, 400);
    assert.equal(upstream.requests.length, 0);
    const body = JSON.parse(res.body);
    assert.equal(body.error.type, "bad_request");
  });

  const inside: [string, string][] = [
    ["GET /v1/models HTTP/1.1", "/flow-llm-proxy/v1/models"],
    ["GET /v1/x/../models HTTP/1.1", "/flow-llm-proxy/v1/models"],
    ["GET /v1/./%2e/models HTTP/1.1", "/flow-llm-proxy/v1/models"],
    [
      "GET /flow-llm-proxy/v1/x/%2e%2e/models HTTP/1.1",
      "/flow-llm-proxy/v1/models",
    ],
    [
      `GET http://${mock}/flow-llm-proxy/v1/a/../models HTTP/1.1`,
      "/flow-llm-proxy/v1/models",
    ],
  ];
  for (const [line, path] of inside) {
    await t.step(`still served: ${line}`, async () => {
      const before = upstream.requests.length;
      const res = await rawRequest(proxy.port, line);
      assert.equal(res.status, 200, res.body);
      assert.equal(JSON.parse(res.body).object, "list");
      assert.equal(upstream.requests.length, before + 1);
      assert.equal(upstream.requests.at(-1)!.path, path);
      assert.equal(upstream.requests.at(-1)!.jwtError, null);
    });
  }
});
