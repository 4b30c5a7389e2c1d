/**
 * Acceptance (issue 15): the official SDKs crossing over through flow-proxy
 * against the mock Flow on 127.0.0.1 — the OpenAI SDK's Chat Completions on
 * a Claude model Flow serves on Anthropic Messages only (a models file says
 * so), and the Anthropic SDK on GPT-5, served on Chat Completions only.
 * Every SDK gets a `fetch` that refuses any host but 127.0.0.1.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { MockFlow } from "../support/mock_flow.ts";
import { PLAIN_ANSWER, TOOL_ANSWER_PREFIX } from "../support/mock_flow_llm.ts";
import { startProxy, testCredentials, writeSecrets } from "../support/proxy.ts";

const outside: string[] = [];
/** A fetch that only reaches 127.0.0.1 and records any other host it was asked for. */
const localFetch: typeof fetch = (input, init) => {
  const url = new URL(input instanceof Request ? input.url : String(input));
  if (url.hostname !== "127.0.0.1") {
    outside.push(url.host);
    return Promise.reject(new TypeError(`Refused outside host: ${url.host}`));
  }
  return fetch(input, init);
};

const SONNET = "anthropic.claude-4-5-sonnet";
const WEATHER_SCHEMA = {
  type: "object" as const,
  properties: { city: { type: "string" as const } },
  required: ["city"],
};
const ASK_TOOL = "Use the weather tool for Paris";

Deno.test("the OpenAI SDK on a Messages-only Claude and the Anthropic SDK on GPT-5 work through flow-proxy's translation", async (t) => {
  const creds = testCredentials(1, "cross");
  await using flow = MockFlow.start({ credentials: creds });
  const secretsFile = writeSecrets(creds);
  const modelsFile = join(secretsFile, "..", "models.json");
  Deno.writeTextFileSync(
    modelsFile,
    JSON.stringify({ models: [{ name: SONNET, apis: ["messages"] }] }),
  );
  await using proxy = await startProxy({
    upstream: flow.url,
    secretsFile,
    args: ["--config", modelsFile],
  });
  const openai = new OpenAI({
    baseURL: `${proxy.url}/v1`,
    apiKey: "any-client-key",
    maxRetries: 0,
    fetch: localFetch,
  });
  const anthropic = new Anthropic({
    baseURL: proxy.url,
    apiKey: "any-client-key",
    maxRetries: 0,
    fetch: localFetch,
  });

  /** Runs `body` and checks what Flow saw of it: only `path`, no refusal. */
  async function step(name: string, path: string, body: () => Promise<void>) {
    await t.step(name, async () => {
      const from = flow.requests.length;
      await body();
      const seen = flow.requests.slice(from);
      assert.ok(seen.length > 0, "Flow saw nothing");
      assert.deepEqual(
        seen.map((r) => [r.path, r.refused]),
        seen.map(() => [path, null]),
      );
    });
  }

  const weather: OpenAI.Chat.Completions.ChatCompletionTool = {
    type: "function",
    function: {
      name: "weather",
      description: "The weather in a city",
      parameters: WEATHER_SCHEMA,
    },
  };

  await step(
    "openai: chat.completions.create on Claude",
    "/v1/messages",
    async () => {
      const completion = await openai.chat.completions.create({
        model: "claude-sonnet-4-5",
        messages: [{ role: "user", content: "Say hello" }],
      });
      assert.equal(completion.choices[0].message.content, PLAIN_ANSWER);
      assert.equal(completion.choices[0].finish_reason, "stop");
      assert.equal(completion.usage?.prompt_tokens, 11);
      assert.equal(completion.usage?.completion_tokens, 4);
    },
  );

  await step(
    "openai: a streamed completion on Claude",
    "/v1/messages",
    async () => {
      const stream = await openai.chat.completions.create({
        model: SONNET,
        messages: [{ role: "user", content: "Say hello" }],
        stream: true,
        stream_options: { include_usage: true },
      });
      let text = "";
      let total = 0;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta?.content ?? "";
        total = chunk.usage?.total_tokens ?? total;
      }
      assert.equal(text, PLAIN_ANSWER);
      assert.equal(total, 15);
    },
  );

  await step(
    "openai: a tool call on Claude and its result",
    "/v1/messages",
    async () => {
      const first = await openai.chat.completions.create({
        model: SONNET,
        messages: [{ role: "user", content: ASK_TOOL }],
        tools: [weather],
      });
      const message = first.choices[0].message;
      assert.equal(first.choices[0].finish_reason, "tool_calls");
      const call = message.tool_calls?.[0];
      assert.ok(call !== undefined && call.type === "function");
      assert.equal(call.function.name, "weather");
      assert.deepEqual(JSON.parse(call.function.arguments), { city: "Paris" });
      const second = await openai.chat.completions.create({
        model: SONNET,
        messages: [
          { role: "user", content: ASK_TOOL },
          message,
          { role: "tool", tool_call_id: call.id, content: "sunny in Paris" },
        ],
        tools: [weather],
      });
      assert.equal(
        second.choices[0].message.content,
        `${TOOL_ANSWER_PREFIX} sunny in Paris`,
      );
    },
  );

  await step(
    "openai: a streamed tool call on Claude",
    "/v1/messages",
    async () => {
      const stream = openai.chat.completions.stream({
        model: SONNET,
        messages: [{ role: "user", content: ASK_TOOL }],
        tools: [weather],
      });
      const completion = await stream.finalChatCompletion();
      const call = completion.choices[0].message.tool_calls?.[0];
      assert.ok(call !== undefined && call.type === "function");
      assert.equal(call.function.name, "weather");
      assert.deepEqual(JSON.parse(call.function.arguments), { city: "Paris" });
    },
  );

  await step(
    "anthropic: a streamed tool call on GPT-5 and its result",
    "/v1/chat/completions",
    async () => {
      const tools: Anthropic.Tool[] = [{
        name: "weather",
        description: "The weather in a city",
        input_schema: WEATHER_SCHEMA,
      }];
      const first = await anthropic.messages.stream({
        model: "gpt-5",
        max_tokens: 1024,
        tools,
        messages: [{ role: "user", content: ASK_TOOL }],
      }).finalMessage();
      assert.equal(first.stop_reason, "tool_use");
      const use = first.content.find((b) => b.type === "tool_use");
      assert.ok(use !== undefined && use.type === "tool_use");
      assert.equal(use.name, "weather");
      assert.deepEqual(use.input, { city: "Paris" });
      const second = await anthropic.messages.stream({
        model: "gpt-5",
        max_tokens: 1024,
        tools,
        messages: [
          { role: "user", content: ASK_TOOL },
          { role: "assistant", content: first.content },
          {
            role: "user",
            content: [{
              type: "tool_result",
              tool_use_id: use.id,
              content: "sunny in Paris",
            }],
          },
        ],
      }).finalMessage();
      const text = second.content.find((b) => b.type === "text");
      assert.ok(text !== undefined && text.type === "text");
      assert.equal(text.text, `${TOOL_ANSWER_PREFIX} sunny in Paris`);
    },
  );

  assert.deepEqual(
    outside,
    [],
    `SDKs tried outside hosts: ${outside.join(", ")}`,
  );
});
