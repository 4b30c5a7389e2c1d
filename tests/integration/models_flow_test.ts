/**
 * flow-proxy in front of the mock Flow, which enforces Flow's and Bedrock's
 * rules: the clients' own model ids and request shapes get through mapped
 * and rewritten; the probes and the WebSocket upgrade never reach Flow.
 */
import assert from "node:assert/strict";
import { MockFlow } from "../support/mock_flow.ts";
import { startProxy, testCredentials, writeSecrets } from "../support/proxy.ts";
import { rawRequest } from "../support/raw_http.ts";

async function withFlow(
  fn: (
    flow: MockFlow,
    url: string,
    logs: () => Promise<string>,
  ) => Promise<void>,
): Promise<void> {
  const creds = testCredentials(1);
  await using flow = MockFlow.start({ credentials: creds });
  await using proxy = await startProxy({
    upstream: flow.url,
    secretsFile: writeSecrets(creds),
    args: ["--log-level", "debug"],
  });
  await fn(flow, proxy.url, () => proxy.settledLogs());
}

function post(url: string, body: unknown, headers: HeadersInit = {}) {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
}

Deno.test("a Claude Code request with Anthropic's model id is mapped and made acceptable to Bedrock", async () => {
  await withFlow(async (flow, url, logs) => {
    const res = await post(`${url}/v1/messages?beta=true`, {
      model: "claude-opus-4-8",
      max_tokens: 64000,
      thinking: { type: "adaptive" },
      context_management: { edits: [{ type: "clear_tool_uses_20250919" }] },
      output_config: { effort: "high" },
      system: [{ type: "text", text: "You are Claude Code." }],
      messages: [
        { role: "user", content: "hello" },
        { role: "system", content: "be brief" },
        { role: "user", content: "say hi" },
      ],
    }, {
      "anthropic-beta":
        "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27,effort-2025-11-24",
    });
    const text = await res.text();
    assert.equal(res.status, 200, text);
    assert.deepEqual(flow.refusals, []);
    assert.deepEqual(flow.modelsSeen(), ["anthropic.claude-4-7-opus"]);
    const log = await logs();
    assert.match(
      log,
      /Mapped model 'claude-opus-4-8' to 'anthropic\.claude-4-7-opus' \(rule [^)]+\); Rewrote request for 'anthropic\.claude-4-7-opus'/,
    );
  });
});

Deno.test("Codex's default model on /v1/responses and count_tokens reach Flow under Flow's names", async () => {
  await withFlow(async (flow, url) => {
    const res = await post(`${url}/v1/responses`, {
      model: "gpt-6.2-sol",
      input: "hi",
    });
    await res.body?.cancel();
    assert.equal(res.status, 200);
    const count = await post(`${url}/v1/messages/count_tokens`, {
      model: "claude-sonnet-4-5-20250929",
      messages: [{ role: "user", content: "hi" }],
    });
    const counted = await count.json();
    assert.equal(count.status, 200);
    assert.ok(counted.input_tokens > 0);
    assert.deepEqual(flow.refusals, []);
    assert.deepEqual(flow.modelsSeen(), [
      "gpt-5",
      "anthropic.claude-4-5-sonnet",
    ]);
  });
});

Deno.test("HEAD probes and a WebSocket upgrade are answered without Flow", async () => {
  await withFlow(async (flow, url) => {
    for (const path of ["/", "/v1/messages"]) {
      const res = await fetch(url + path, { method: "HEAD" });
      assert.equal(res.status, 200);
      await res.body?.cancel();
    }
    const port = Number(new URL(url).port);
    const ws = await rawRequest(port, "GET /v1/responses HTTP/1.1", {
      headers: [
        "upgrade: websocket",
        "sec-websocket-version: 13",
        "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==",
      ],
    });
    assert.equal(ws.status, 426);
    assert.equal(JSON.parse(ws.body).error.type, "upgrade_required");
    assert.equal(flow.requests.length, 0);
  });
});

Deno.test("GET /v1/models passes Flow's listing through", async () => {
  await withFlow(async (flow, url) => {
    const res = await fetch(`${url}/v1/models`);
    const body = await res.json();
    assert.equal(res.status, 200);
    const ids = body.data.map((m: { id: string }) => m.id);
    assert.ok(ids.includes("anthropic.claude-4-7-opus"));
    assert.ok(ids.includes("gpt-5"));
    assert.equal(flow.requests.length, 1);
  });
});
