/**
 * Acceptance (issue 15, Responses ⇄ Chat Completions): the OpenAI SDK's
 * `responses.create`, JSON, stream and a tool call, on a Claude model,
 * through flow-proxy against the mock Flow, which refuses `/v1/responses`
 * for Claude: every answer must come through the translation to Chat
 * Completions. The SDK's fetch refuses any host but 127.0.0.1.
 */
import assert from "node:assert/strict";
import OpenAI from "openai";
import { MockFlow } from "../support/mock_flow.ts";
import { PLAIN_ANSWER } from "../support/mock_flow_llm.ts";
import { startProxy, testCredentials, writeSecrets } from "../support/proxy.ts";

const localFetch: typeof fetch = (input, init) => {
  const url = new URL(input instanceof Request ? input.url : String(input));
  if (url.hostname !== "127.0.0.1") {
    return Promise.reject(new TypeError(`Refused outside host: ${url.host}`));
  }
  return fetch(input, init);
};

Deno.test("the OpenAI SDK's responses.create on claude-sonnet-4-5 is answered through the translation, JSON, stream and tool call", async (t) => {
  const creds = testCredentials(1, "sdk");
  await using flow = MockFlow.start({ credentials: creds });
  await using proxy = await startProxy({
    upstream: flow.url,
    secretsFile: writeSecrets(creds),
  });
  const openai = new OpenAI({
    baseURL: `${proxy.url}/v1`,
    apiKey: "any-client-key",
    maxRetries: 0,
    fetch: localFetch,
  });

  await t.step("responses.create (JSON)", async () => {
    const response = await openai.responses.create({
      model: "claude-sonnet-4-5",
      instructions: "Be brief.",
      input: "Say hello",
    });
    assert.equal(response.status, "completed");
    assert.equal(response.output_text, PLAIN_ANSWER);
    assert.equal(response.usage?.total_tokens, 10);
  });

  await t.step("responses.create (stream)", async () => {
    const stream = await openai.responses.create({
      model: "claude-sonnet-4-5",
      input: "Say hello",
      stream: true,
    });
    let text = "";
    const types: string[] = [];
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === "response.output_text.delta") text += event.delta;
    }
    assert.equal(text, PLAIN_ANSWER);
    assert.equal(types[0], "response.created");
    assert.equal(types.at(-1), "response.completed");
  });

  await t.step("responses.stream() helper with a function tool", async () => {
    const stream = openai.responses.stream({
      model: "claude-sonnet-4-5",
      input: "Use the weather tool for Paris",
      tools: [{
        type: "function",
        name: "weather",
        description: "The weather in a city",
        strict: false,
        parameters: {
          type: "object",
          properties: { city: { type: "string" } },
          required: ["city"],
        },
      }],
    });
    const final = await stream.finalResponse();
    const call = final.output.find((o) => o.type === "function_call");
    assert.ok(call?.type === "function_call", JSON.stringify(final.output));
    assert.equal(call.name, "weather");
    assert.deepEqual(JSON.parse(call.arguments), { city: "Paris" });
  });

  const posts = flow.requests.filter((r) => r.method === "POST");
  assert.deepEqual([...new Set(posts.map((r) => r.path))], [
    "/v1/chat/completions",
  ]);
  assert.deepEqual(flow.refusals, []);
});
