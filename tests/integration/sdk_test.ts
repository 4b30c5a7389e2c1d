/**
 * The official SDKs, configured as a new user would: only the base URL changes.
 */
import assert from "node:assert/strict";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { MockUpstream } from "../support/mock_upstream.ts";
import { startProxy, testCredentials, writeSecrets } from "../support/proxy.ts";

Deno.test("openai and @anthropic-ai/sdk work through serve, JSON and streaming", async (t) => {
  const creds = testCredentials(2);
  await using upstream = MockUpstream.start({ credentials: creds });
  await using proxy = await startProxy({
    upstream: upstream.url,
    secretsFile: writeSecrets(creds),
  });
  const openai = new OpenAI({
    baseURL: `${proxy.url}/v1`,
    apiKey: "unused-by-flow-proxy",
    maxRetries: 0,
  });
  const anthropic = new Anthropic({
    baseURL: proxy.url,
    apiKey: "unused-by-flow-proxy",
    maxRetries: 0,
  });

  await t.step("openai: chat.completions.create", async () => {
    const completion = await openai.chat.completions.create({
      model: "gpt-4o",
      messages: [{ role: "user", content: "hi" }],
    });
    assert.equal(completion.choices[0].message.content, "Hello from mock");
    assert.equal(completion.usage?.total_tokens, 10);
    assert.equal(upstream.requests.at(-1)!.jwtError, null);
  });

  await t.step("openai: streaming with include_usage", async () => {
    const stream = await openai.chat.completions.create({
      model: "gpt-4o",
      messages: [{ role: "user", content: "hi" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let usage = 0;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? "";
      usage = chunk.usage?.total_tokens ?? usage;
    }
    assert.equal(text, "Hello from mock");
    assert.equal(usage, 10);
  });

  await t.step("anthropic: messages.create", async () => {
    const message = await anthropic.messages.create({
      model: "anthropic.claude-4-5-sonnet",
      max_tokens: 16,
      messages: [{ role: "user", content: "hi" }],
    });
    assert.equal(message.content[0].type, "text");
    assert.equal(
      (message.content[0] as { text: string }).text,
      "Hello from mock",
    );
    assert.equal(upstream.requests.at(-1)!.headers.get("x-api-key"), null);
  });

  await t.step("anthropic: streaming", async () => {
    const stream = await anthropic.messages.create({
      model: "anthropic.claude-4-5-sonnet",
      max_tokens: 16,
      messages: [{ role: "user", content: "hi" }],
      stream: true,
    });
    let text = "";
    let outputTokens = 0;
    for await (const event of stream) {
      if (
        event.type === "content_block_delta" &&
        event.delta.type === "text_delta"
      ) text += event.delta.text;
      if (event.type === "message_delta") {
        outputTokens = event.usage.output_tokens;
      }
    }
    assert.equal(text, "Hello from mock");
    assert.equal(outputTokens, 4);
  });

  await t.step(
    "anthropic: a proxy error arrives as the SDK's typed error",
    async () => {
      upstream.behave = () => ({
        kind: "status",
        status: 400,
        body: JSON.stringify({
          type: "error",
          error: { type: "invalid_request_error", message: "bad" },
        }),
      });
      await assert.rejects(
        anthropic.messages.create({
          model: "m",
          max_tokens: 1,
          messages: [{ role: "user", content: "x" }],
        }),
        (err: unknown) => err instanceof Anthropic.BadRequestError,
      );
      upstream.behave = () => undefined;
    },
  );
});
