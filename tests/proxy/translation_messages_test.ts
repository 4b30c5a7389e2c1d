// The wire formats (Anthropic, OpenAI) are snake_case.
// deno-lint-ignore-file camelcase
/**
 * Chat Completions clients on a model Flow serves on Anthropic Messages
 * only (a models file with `"apis": ["messages"]`): the request goes to
 * `/v1/messages` and the answer comes back as Chat JSON, chunks or error.
 */
import assert from "node:assert/strict";
import { validateModelsConfig } from "../../src/models/config_file.ts";
import { ModelsState } from "../../src/models/models_state.ts";
import { INFO, modelsSetup, post, recorded } from "./models_setup.ts";

const decoder = new TextDecoder();
const SONNET = "anthropic.claude-4-5-sonnet";

const OPUS_47 = "anthropic.claude-4-7-opus";

/** A models configuration where Flow serves Sonnet 4.5 and Opus 4.7 on Messages only. */
function messagesOnly(): ModelsState {
  const report = validateModelsConfig(
    JSON.stringify({
      models: [
        { name: SONNET, apis: ["messages"] },
        { name: OPUS_47, apis: ["messages"] },
      ],
    }),
    "models.json",
  );
  assert.deepEqual(report.errors, []);
  return new ModelsState(report.config!);
}

const MESSAGE = {
  id: "msg_01",
  type: "message",
  role: "assistant",
  model: SONNET,
  content: [
    { type: "text", text: "Reading it." },
    { type: "tool_use", id: "toolu_1", name: "read", input: { path: "a" } },
  ],
  stop_reason: "tool_use",
  stop_sequence: null,
  usage: {
    input_tokens: 7,
    output_tokens: 12,
    cache_read_input_tokens: 100,
    cache_creation_input_tokens: 20,
  },
};

const TOOLS = [{
  type: "function",
  function: {
    name: "read",
    parameters: { type: "object", properties: { path: { type: "string" } } },
  },
}];

Deno.test("a Chat request for a Messages-only Claude goes to /v1/messages and its answer comes back as a Chat completion", async () => {
  using s = modelsSetup(() => Response.json(MESSAGE), {
    models: messagesOnly(),
  });
  const res = await s.handler(
    post("/v1/chat/completions", {
      model: "claude-sonnet-4-5",
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "Read a" },
      ],
      tools: TOOLS,
    }),
    INFO,
  );
  assert.equal(res.status, 200);
  const answer = await res.json();
  delete answer.created;
  assert.deepEqual(answer, {
    id: "chatcmpl-01",
    object: "chat.completion",
    model: SONNET,
    choices: [{
      index: 0,
      message: {
        role: "assistant",
        content: "Reading it.",
        tool_calls: [{
          id: "toolu_1",
          type: "function",
          function: { name: "read", arguments: '{"path":"a"}' },
        }],
      },
      finish_reason: "tool_calls",
    }],
    usage: {
      prompt_tokens: 127,
      completion_tokens: 12,
      total_tokens: 139,
      prompt_tokens_details: { cached_tokens: 100 },
      cache_creation_input_tokens: 20,
    },
  });
  assert.equal(s.calls[0].url, "http://127.0.0.1:9/flow-llm-proxy/v1/messages");
  assert.deepEqual(JSON.parse(decoder.decode(s.calls[0].body!)), {
    model: SONNET,
    system: "Be brief.",
    messages: [{ role: "user", content: [{ type: "text", text: "Read a" }] }],
    max_tokens: 64_000,
    tools: [{
      name: "read",
      "input_schema": {
        type: "object",
        properties: { path: { type: "string" } },
      },
    }],
  });
  await recorded(s, 1);
  assert.equal(s.records[0].translation, "chat->messages");
  assert.equal(s.records[0].upstreamModel, SONNET);
  // Usage is read from Flow's own (Anthropic) answer, as for a pass-through.
  assert.equal(s.records[0].tokensIn, 7);
  assert.equal(s.records[0].tokensOut, 12);
  assert.equal(s.records[0].cacheReadTokens, 100);
  assert.equal(s.records[0].cacheWriteTokens, 20);
  assert.ok(s.logs.some((l) =>
    l.level === "debug" &&
    l.message.startsWith(
      `Translated Chat Completions to Anthropic Messages for '${SONNET}'`,
    )
  ));
});

Deno.test("a Chat stream for a Messages-only Claude comes back as chunks ending with [DONE]", async () => {
  const events = [
    {
      type: "message_start",
      message: {
        ...MESSAGE,
        content: [],
        stop_reason: null,
        usage: { input_tokens: 5, output_tokens: 1 },
      },
    },
    {
      type: "content_block_start",
      index: 0,
      content_block: { type: "text", text: "" },
    },
    {
      type: "content_block_delta",
      index: 0,
      delta: { type: "text_delta", text: "Hi" },
    },
    { type: "content_block_stop", index: 0 },
    {
      type: "message_delta",
      delta: { stop_reason: "end_turn", stop_sequence: null },
      usage: { output_tokens: 2 },
    },
    { type: "message_stop" },
  ];
  const text = events.map((e) =>
    `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`
  ).join("");
  using s = modelsSetup(
    () =>
      new Response(text, {
        headers: {
          "content-type": "text/event-stream",
          // The upstream's length is not the translated stream's.
          "content-length": String(new TextEncoder().encode(text).length),
        },
      }),
    { models: messagesOnly() },
  );
  const res = await s.handler(
    post("/v1/chat/completions", {
      model: SONNET,
      stream: true,
      messages: [{ role: "user", content: "Hi" }],
    }),
    INFO,
  );
  assert.equal(res.headers.get("content-length"), null);
  const data = (await res.text()).split("\n\n").filter((e) => e !== "")
    .map((e) => e.slice(6));
  assert.equal(data.at(-1), "[DONE]");
  const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
  assert.deepEqual(chunks.map((c) => c.choices[0]?.delta ?? null), [
    { role: "assistant", content: "" },
    { content: "Hi" },
    {},
    null,
  ]);
  assert.equal(chunks[2].choices[0].finish_reason, "stop");
  assert.equal(chunks[3].usage.completion_tokens, 2);
  assert.equal(JSON.parse(decoder.decode(s.calls[0].body!)).stream, true);
  await recorded(s, 1);
  assert.equal(s.records[0].translation, "chat->messages");
  assert.equal(s.records[0].stream, true);
  assert.equal(s.records[0].error, null);
});

Deno.test("Flow's Anthropic error for a translated Chat request comes back in OpenAI's shape with the same status", async () => {
  using s = modelsSetup(
    () =>
      Response.json({
        type: "error",
        error: { type: "rate_limit_error", message: "Slow down" },
      }, { status: 400 }),
    { models: messagesOnly() },
  );
  const res = await s.handler(
    post("/v1/chat/completions", {
      model: SONNET,
      messages: [{ role: "user", content: "Hi" }],
    }),
    INFO,
  );
  assert.equal(res.status, 400);
  assert.deepEqual(await res.json(), {
    error: {
      message: "Slow down",
      type: "rate_limit_error",
      param: null,
      code: null,
    },
  });
});

Deno.test("a translated Chat stream cut by Flow ends with an error chunk, not [DONE]", async () => {
  const start = `event: message_start\ndata: ${
    JSON.stringify({
      type: "message_start",
      message: { ...MESSAGE, content: [], usage: { input_tokens: 1 } },
    })
  }\n\n`;
  using s = modelsSetup(
    () =>
      new Response(start, {
        headers: { "content-type": "text/event-stream" },
      }),
    { models: messagesOnly() },
  );
  const res = await s.handler(
    post("/v1/chat/completions", {
      model: SONNET,
      stream: true,
      messages: [{ role: "user", content: "Hi" }],
    }),
    INFO,
  );
  const out = await res.text();
  assert.ok(!out.includes("[DONE]"), out);
  const last = JSON.parse(out.trim().split("\n").at(-1)!.slice(6));
  assert.equal(typeof last.error.message, "string");
});

Deno.test("the built-in catalogue serves Claude on Chat Completions: a Chat request is not translated", async () => {
  using s = modelsSetup(() => Response.json({ object: "chat.completion" }));
  await (await s.handler(
    post("/v1/chat/completions", {
      model: SONNET,
      messages: [{ role: "user", content: "Hi" }],
    }),
    INFO,
  )).body?.cancel();
  assert.ok(s.calls[0].url.endsWith("/v1/chat/completions"));
  await recorded(s, 1);
  assert.equal(s.records[0].translation ?? null, null);
});

Deno.test("a translated Chat request's reasoning_effort is thinking for a model that takes it, dropped for one that takes none", async () => {
  using s = modelsSetup(() => Response.json(MESSAGE), {
    models: messagesOnly(),
  });
  for (const model of [SONNET, OPUS_47]) {
    await (await s.handler(
      post("/v1/chat/completions", {
        model,
        reasoning_effort: "medium",
        messages: [{ role: "user", content: "Hi" }],
      }),
      INFO,
    )).body?.cancel();
  }
  const sent = s.calls.map((c) => JSON.parse(decoder.decode(c.body!)));
  assert.deepEqual(sent[0].thinking, { type: "enabled", budget_tokens: 2048 });
  assert.equal(sent[0].max_tokens, 64_000);
  assert.equal(sent[1].thinking, undefined);
  assert.equal(sent[1].max_tokens, 128_000);
  assert.ok(s.logs.some((l) =>
    l.level === "debug" &&
    l.message.includes(
      `for '${OPUS_47}'; dropped: reasoning_effort (the model takes no thinking)`,
    )
  ));
});

Deno.test("a Responses request for a Messages-only Claude goes through the hub to /v1/messages and back (responses->messages)", async () => {
  using s = modelsSetup(() => Response.json(MESSAGE), {
    models: messagesOnly(),
  });
  const res = await s.handler(
    post("/v1/responses", {
      model: "claude-sonnet-4-5",
      instructions: "Be brief.",
      input: "Read a",
      tools: [{
        type: "function",
        name: "read",
        parameters: {
          type: "object",
          properties: { path: { type: "string" } },
        },
      }],
      max_output_tokens: 500,
    }),
    INFO,
  );
  assert.equal(res.status, 200);
  const answer = await res.json();
  assert.equal(answer.object, "response");
  assert.equal(answer.status, "completed");
  const types = answer.output.map((o: { type: string }) => o.type);
  assert.deepEqual(types, ["message", "function_call"]);
  const call = answer.output[1];
  assert.equal(call.name, "read");
  assert.deepEqual(JSON.parse(call.arguments), { path: "a" });
  assert.ok(s.calls[0].url.endsWith("/v1/messages"));
  const sent = JSON.parse(decoder.decode(s.calls[0].body!));
  assert.equal(sent.model, SONNET);
  assert.equal(sent.system, "Be brief.");
  assert.equal(sent.max_tokens, 500);
  assert.equal(sent.tools[0].name, "read");
  await recorded(s, 1);
  assert.equal(s.records[0].translation, "responses->messages");
  assert.equal(s.records[0].tokensOut, 12);
});

Deno.test("a Responses stream for a Messages-only Claude is Anthropic events turned into Responses events, one by one", async () => {
  const events = [
    ["message_start", {
      type: "message_start",
      message: {
        ...MESSAGE,
        content: [],
        stop_reason: null,
        usage: { input_tokens: 3, output_tokens: 1 },
      },
    }],
    ["content_block_start", {
      type: "content_block_start",
      index: 0,
      content_block: { type: "text", text: "" },
    }],
    ["content_block_delta", {
      type: "content_block_delta",
      index: 0,
      delta: { type: "text_delta", text: "Hi" },
    }],
    ["content_block_stop", { type: "content_block_stop", index: 0 }],
    ["message_delta", {
      type: "message_delta",
      delta: { stop_reason: "end_turn" },
      usage: { output_tokens: 2 },
    }],
    ["message_stop", { type: "message_stop" }],
  ];
  const text = events.map(([name, data]) =>
    `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`
  ).join("");
  using s = modelsSetup(
    () =>
      new Response(text, { headers: { "content-type": "text/event-stream" } }),
    { models: messagesOnly() },
  );
  const res = await s.handler(
    post("/v1/responses", {
      model: "claude-sonnet-4-5",
      input: "Hi",
      stream: true,
    }),
    INFO,
  );
  const out = await res.text();
  const names = [...out.matchAll(/^event: ([\w.]+)$/gm)].map((m) => m[1]);
  assert.equal(names[0], "response.created");
  assert.ok(names.includes("response.output_text.delta"), names.join());
  assert.equal(names.at(-1), "response.completed");
  assert.match(out, /"delta":"Hi"/);
  await recorded(s, 1);
  assert.equal(s.records[0].translation, "responses->messages");
  assert.equal(s.records[0].error, null);
});
