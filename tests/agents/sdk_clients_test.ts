/**
 * Acceptance (issue 14): the Vercel AI SDK and LangChain, both providers
 * each, JSON, stream and tools, with their default model ids where they have
 * one, through flow-proxy against the mock Flow on 127.0.0.1. Every SDK gets
 * a `fetch` that refuses any host but 127.0.0.1, so nothing can go outside.
 * The Anthropic paths fail until flow-proxy maps model ids and clamps
 * `max_tokens`.
 */
import assert from "node:assert/strict";
import { createAnthropic } from "@ai-sdk/anthropic";
import { createOpenAI } from "@ai-sdk/openai";
import { ChatAnthropic } from "@langchain/anthropic";
import { ChatOpenAI } from "@langchain/openai";
import { generateText, jsonSchema, stepCountIs, streamText, tool } from "ai";
import { MockFlow } from "../support/mock_flow.ts";
import { PLAIN_ANSWER, TOOL_ANSWER_PREFIX } from "../support/mock_flow_llm.ts";
import { startProxy, testCredentials, writeSecrets } from "../support/proxy.ts";
import {
  DOCS_BASE_URL,
  runSnippet,
  snippet,
  stringOptions,
} from "./client_setups.ts";

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

const weatherSchema = {
  type: "object" as const,
  properties: { city: { type: "string" as const } },
  required: ["city"],
};

function refusalsSince(flow: MockFlow, from: number): string {
  return flow.refusals.slice(from).map((r) =>
    [
      `${r.path} '${r.model}' ${r.rule}: ${r.message}`,
      ...r.alsoBreaks.map((v) => `  and would break ${v.rule}: ${v.message}`),
    ].join("\n")
  ).join("\n");
}

Deno.test("the Vercel AI SDK and LangChain work through flow-proxy with their default model ids", async (t) => {
  const creds = testCredentials(1, "sdk");
  await using flow = MockFlow.start({ credentials: creds });
  await using proxy = await startProxy({
    upstream: flow.url,
    secretsFile: writeSecrets(creds),
  });
  const apiKey = "any-client-key";
  /** The URLs docs/clients.md gives for `key` in snippet `name`, pointed at this proxy. */
  const documented = (name: string, key: string) =>
    stringOptions(snippet(name), key).map((u) =>
      u.replace(DOCS_BASE_URL, proxy.url)
    );
  const [vercelAnthropicUrl, vercelOpenAiUrl] = documented(
    "vercel-ai-sdk",
    "baseURL",
  );
  const [langchainAnthropicUrl] = documented("langchain", "anthropicApiUrl");
  const [langchainOpenAiUrl] = documented("langchain", "baseURL");

  async function step(name: string, body: () => Promise<void>) {
    await t.step(name, async () => {
      const from = flow.refusals.length;
      try {
        await body();
      } catch (err) {
        const refused = refusalsSince(flow, from);
        throw new Error(
          `${name}: ${err}${refused ? `\nMock Flow refused:\n${refused}` : ""}`,
          {
            cause: err,
          },
        );
      }
      assert.equal(refusalsSince(flow, from), "");
    });
  }

  for (const name of ["vercel-ai-sdk", "langchain"]) {
    await step(
      `docs/clients.md: the ${name} snippet runs as written`,
      async () => {
        const run = await runSnippet(snippet(name), proxy.url);
        assert.equal(run.code, 0, run.stderr);
        assert.equal(run.stdout, `${PLAIN_ANSWER}\n${PLAIN_ANSWER}\n`);
      },
    );
  }

  const vercelAnthropic = createAnthropic({
    baseURL: vercelAnthropicUrl,
    apiKey,
    fetch: localFetch,
  });
  const vercelOpenAi = createOpenAI({
    baseURL: vercelOpenAiUrl,
    apiKey,
    fetch: localFetch,
  });
  const weather = tool({
    description: "The weather in a city",
    inputSchema: jsonSchema<{ city: string }>(weatherSchema),
    execute: ({ city }) => Promise.resolve(`sunny in ${city}`),
  });

  for (
    const [label, model] of [
      ["anthropic claude-sonnet-4-5", vercelAnthropic("claude-sonnet-4-5")],
      // Flow's own name is unknown to the SDK: it sends max_tokens 128000, over the model's 64000.
      [
        "anthropic anthropic.claude-4-6-sonnet (unknown to the SDK)",
        vercelAnthropic("anthropic.claude-4-6-sonnet"),
      ],
      ["openai gpt-4o (Responses API)", vercelOpenAi("gpt-4o")],
      ["openai gpt-4o (chat completions)", vercelOpenAi.chat("gpt-4o")],
    ] as const
  ) {
    await step(`ai: ${label}: generateText`, async () => {
      const { text } = await generateText({
        model,
        prompt: "Say hello",
        maxRetries: 0,
      });
      assert.equal(text, PLAIN_ANSWER);
    });
    await step(`ai: ${label}: streamText`, async () => {
      const result = streamText({ model, prompt: "Say hello", maxRetries: 0 });
      let text = "";
      for await (const part of result.textStream) text += part;
      assert.equal(text, PLAIN_ANSWER);
    });
    await step(`ai: ${label}: tools`, async () => {
      const { text, steps } = await generateText({
        model,
        prompt: "Use the weather tool for Paris",
        tools: { weather },
        stopWhen: stepCountIs(3),
        maxRetries: 0,
      });
      assert.ok(steps.some((s) => s.toolCalls.length > 0), "no tool call");
      assert.match(text, new RegExp(`${TOOL_ANSWER_PREFIX} sunny in Paris`));
    });
  }

  const langchain = [
    [
      "ChatAnthropic (default model)",
      new ChatAnthropic({
        apiKey,
        anthropicApiUrl: langchainAnthropicUrl,
        maxRetries: 0,
        clientOptions: { fetch: localFetch },
      }),
    ],
    [
      "ChatOpenAI (default model)",
      new ChatOpenAI({
        apiKey,
        maxRetries: 0,
        configuration: { baseURL: langchainOpenAiUrl, fetch: localFetch },
      }),
    ],
  ] as const;
  for (const [label, chat] of langchain) {
    await step(`langchain: ${label}: invoke`, async () => {
      const message = await chat.invoke("Say hello");
      assert.equal(message.text, PLAIN_ANSWER);
    });
    await step(`langchain: ${label}: stream`, async () => {
      let text = "";
      for await (const chunk of await chat.stream("Say hello")) {
        text += chunk.text;
      }
      assert.equal(text, PLAIN_ANSWER);
    });
    await step(`langchain: ${label}: tools`, async () => {
      const bound = chat.bindTools([{
        name: "weather",
        description: "The weather in a city",
        schema: weatherSchema,
      }]);
      const message = await bound.invoke("Use the weather tool for Paris");
      assert.deepEqual(message.tool_calls?.map((c) => [c.name, c.args]), [[
        "weather",
        { city: "Paris" },
      ]]);
    });
  }

  // deno-lint-ignore no-console
  console.log(
    `models Flow was asked for: ${[...new Set(flow.modelsSeen())].join(", ")}`,
  );
  assert.deepEqual(
    outside,
    [],
    `SDKs tried outside hosts: ${outside.join(", ")}`,
  );
});
