/**
 * Issue 15, Responses ⇄ Chat Completions on the request path, in-process:
 * a Responses request for a Claude model (served on Messages and Chat, not
 * Responses) goes to Flow's Chat Completions and is answered in the
 * Responses API's shapes.
 */
import assert from "node:assert/strict";
import { INFO, modelsSetup, post, recorded } from "./models_setup.ts";
import { validateModelsConfig } from "../../src/models/config_file.ts";
import { ModelsState } from "../../src/models/models_state.ts";

const decoder = new TextDecoder();

const CHAT_ANSWER = {
  id: "chatcmpl-9",
  object: "chat.completion",
  created: 1_700_000_000,
  model: "anthropic.claude-4-5-sonnet",
  choices: [{
    index: 0,
    message: { role: "assistant", content: "Hello." },
    finish_reason: "stop",
  }],
  usage: { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 },
};

function sent(s: { calls: { body: Uint8Array | null }[] }, i = 0) {
  return JSON.parse(decoder.decode(s.calls[i].body!));
}

Deno.test("a Responses request for claude-sonnet-4-5 goes to Chat Completions and comes back as a response object", async () => {
  using s = modelsSetup(() => Response.json(CHAT_ANSWER));
  const res = await s.handler(
    post("/v1/responses", {
      model: "claude-sonnet-4-5",
      instructions: "Be brief.",
      input: "Hi",
      max_output_tokens: 100,
      store: false,
      include: ["reasoning.encrypted_content"],
    }),
    INFO,
  );
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.object, "response");
  assert.equal(body.id, "resp_9");
  assert.equal(body.status, "completed");
  assert.deepEqual(body.output, [{
    type: "message",
    id: "msg_resp_9",
    status: "completed",
    role: "assistant",
    content: [{
      type: "output_text",
      text: "Hello.",
      annotations: [],
      logprobs: [],
    }],
  }]);
  assert.deepEqual(body.usage, {
    input_tokens: 9,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: 2,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: 11,
  });
  assert.equal(
    s.calls[0].url,
    "http://127.0.0.1:9/flow-llm-proxy/v1/chat/completions",
  );
  assert.deepEqual(sent(s), {
    model: "anthropic.claude-4-5-sonnet",
    messages: [
      { role: "system", content: "Be brief." },
      { role: "user", content: "Hi" },
    ],
    max_tokens: 100,
  });
  await recorded(s, 1);
  assert.equal(s.records[0].translation, "responses->chat");
  assert.equal(s.records[0].tokensIn, 9);
  assert.equal(s.records[0].tokensOut, 2);
  assert.ok(s.logs.some((l) =>
    l.level === "debug" &&
    l.message.startsWith(
      "Translated Responses to Chat Completions for 'anthropic.claude-4-5-sonnet'; dropped: include",
    )
  ));
});

Deno.test("a translated Responses request that fails over resends the translated body", async () => {
  using s = modelsSetup((_c, n) =>
    n === 0
      ? new Response("bad gateway", { status: 502 })
      : Response.json(CHAT_ANSWER)
  );
  const res = await s.handler(
    post("/v1/responses", { model: "claude-sonnet-4-5", input: "Hi" }),
    INFO,
  );
  assert.equal(res.status, 200);
  assert.equal((await res.json()).status, "completed");
  assert.equal(s.calls.length, 2);
  assert.deepEqual(s.calls[0].body, s.calls[1].body);
  assert.ok(s.calls[1].url.endsWith("/v1/chat/completions"));
  assert.equal(sent(s, 1).messages[0].content, "Hi");
});

Deno.test("Flow's error for a translated Responses request comes back in OpenAI's shape with the same status", async () => {
  using s = modelsSetup(() =>
    Response.json({
      error: { message: "litellm.BadRequestError: too long", type: null },
    }, { status: 400 })
  );
  const res = await s.handler(
    post("/v1/responses", { model: "claude-sonnet-4-5", input: "Hi" }),
    INFO,
  );
  assert.equal(res.status, 400);
  assert.deepEqual(await res.json(), {
    error: {
      message: "litellm.BadRequestError: too long",
      type: "invalid_request_error",
      param: null,
      code: null,
    },
  });
});

for (
  const [option, value] of [
    ["previous_response_id", "resp_123"],
    ["store", true],
    ["conversation", "conv_1"],
  ] as const
) {
  Deno.test(`a translated Responses request with ${option} is refused 400 naming it, and nothing is sent`, async () => {
    using s = modelsSetup(() => Response.json(CHAT_ANSWER));
    const res = await s.handler(
      post("/v1/responses", {
        model: "claude-sonnet-4-5",
        input: "Hi",
        [option]: value,
      }),
      INFO,
    );
    assert.equal(res.status, 400);
    const body = await res.json();
    assert.equal(body.error.type, "bad_request");
    assert.match(body.error.message, new RegExp("`" + option + "`"));
    assert.match(body.error.message, /stateless/);
    assert.equal(s.calls.length, 0);
  });
}

const CHUNK = {
  id: "chatcmpl-s",
  object: "chat.completion.chunk",
  created: 1,
  model: "anthropic.claude-4-5-sonnet",
};

function chatSse(chunks: unknown[], done = true): string {
  return chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`).join("") +
    (done ? "data: [DONE]\n\n" : "");
}

function eventNames(text: string): string[] {
  return [...text.matchAll(/^event: ([\w.]+)$/gm)].map((m) => m[1]);
}

Deno.test("a translated Responses stream reaches the client as response.* events; usage read from the Chat chunks", async () => {
  const text = chatSse([
    { ...CHUNK, choices: [{ index: 0, delta: { content: "Hi" } }] },
    { ...CHUNK, choices: [{ index: 0, delta: {}, finish_reason: "stop" }] },
    {
      ...CHUNK,
      choices: [],
      usage: { prompt_tokens: 5, completion_tokens: 1 },
    },
  ]);
  const length = String(new TextEncoder().encode(text).byteLength);
  using s = modelsSetup(() =>
    new Response(text, {
      headers: {
        "content-type": "text/event-stream",
        "content-length": length,
      },
    })
  );
  const res = await s.handler(
    post("/v1/responses", {
      model: "claude-sonnet-4-5",
      input: "Hi",
      stream: true,
    }),
    INFO,
  );
  // The translated events are longer than Flow's: its length must not be kept.
  assert.equal(res.headers.get("content-length"), null);
  const out = await res.text();
  assert.deepEqual(eventNames(out), [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.content_part.added",
    "response.output_text.delta",
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.completed",
  ]);
  const last = JSON.parse(out.trim().split("\n").at(-1)!.slice(6));
  assert.equal(last.response.usage.input_tokens, 5);
  assert.equal(last.sequence_number, 8);
  const body = sent(s);
  assert.equal(body.stream, true);
  assert.deepEqual(body.stream_options, { include_usage: true });
  await recorded(s, 1);
  assert.equal(s.records[0].stream, true);
  assert.equal(s.records[0].translation, "responses->chat");
  assert.equal(s.records[0].tokensIn, 5);
  assert.equal(s.records[0].tokensOut, 1);
  assert.equal(s.records[0].error, null);
});

Deno.test("a translated Responses stream that fails mid-way ends with response.failed, never completed", async () => {
  const first = chatSse([
    { ...CHUNK, choices: [{ index: 0, delta: { content: "Hi" } }] },
  ], false);
  using s = modelsSetup(() => {
    let given = false;
    const body = new ReadableStream<Uint8Array>({
      pull(ctrl) {
        if (given) return ctrl.error(new TypeError("connection reset"));
        given = true;
        ctrl.enqueue(new TextEncoder().encode(first));
      },
    });
    return new Response(body, {
      headers: { "content-type": "text/event-stream" },
    });
  });
  const res = await s.handler(
    post("/v1/responses", {
      model: "claude-sonnet-4-5",
      input: "Hi",
      stream: true,
    }),
    INFO,
  );
  const out = await res.text();
  const names = eventNames(out);
  assert.equal(names.at(-1), "response.failed");
  assert.ok(!names.includes("response.completed"));
  const last = JSON.parse(out.trim().split("\n").at(-1)!.slice(6));
  assert.equal(last.response.status, "failed");
  assert.equal(typeof last.response.error.message, "string");
  await recorded(s, 1);
  assert.equal(s.records[0].error, "stream_error");
});

Deno.test("a Responses request for a model served on Responses is not translated", async () => {
  using s = modelsSetup(() => Response.json({ object: "response" }));
  const res = await s.handler(
    post("/v1/responses", { model: "gpt-5", input: "Hi" }),
    INFO,
  );
  assert.deepEqual(await res.json(), { object: "response" });
  assert.ok(s.calls[0].url.endsWith("/v1/responses"));
  await recorded(s, 1);
  assert.equal(s.records[0].translation ?? null, null);
});

/** A deployment whose Flow serves `o3-pro` on the Responses API only. */
function responsesOnly(): ModelsState {
  const report = validateModelsConfig(
    JSON.stringify({
      models: [{
        name: "o3-pro",
        family: "openai",
        apis: ["responses"],
        contextWindow: 200_000,
        outputLimit: 100_000,
      }],
    }),
    "models.json",
  );
  assert.deepEqual(report.errors, []);
  return new ModelsState(report.config!);
}

Deno.test("a Chat Completions request for a Responses-only model goes to /v1/responses and comes back as a Chat answer", async () => {
  using s = modelsSetup(() =>
    Response.json({
      id: "resp_u1",
      object: "response",
      created_at: 3,
      status: "completed",
      model: "o3-pro",
      output: [{
        type: "message",
        id: "msg_1",
        role: "assistant",
        content: [{ type: "output_text", text: "Hi there", annotations: [] }],
      }],
      usage: { input_tokens: 4, output_tokens: 2, total_tokens: 6 },
    }), { models: responsesOnly() });
  const res = await s.handler(
    post("/v1/chat/completions", {
      model: "o3-pro",
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "Hi" },
      ],
      max_completion_tokens: 50,
    }),
    INFO,
  );
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.choices[0].message.content, "Hi there");
  assert.equal(body.choices[0].finish_reason, "stop");
  assert.equal(body.usage.total_tokens, 6);
  assert.ok(s.calls[0].url.endsWith("/flow-llm-proxy/v1/responses"));
  assert.deepEqual(sent(s), {
    model: "o3-pro",
    instructions: "Be brief.",
    input: [{ type: "message", role: "user", content: "Hi" }],
    max_output_tokens: 50,
    store: false,
  });
  await recorded(s, 1);
  assert.equal(s.records[0].translation, "chat->responses");
});

Deno.test("a Chat Completions stream for a Responses-only model is Flow's response.* events as Chat chunks, ending with [DONE]", async () => {
  const ev = (type: string, data: Record<string, unknown>) =>
    `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
  const response = { id: "resp_u2", "created_at": 3, model: "o3-pro" };
  const text = ev("response.created", { response }) +
    ev("response.output_text.delta", { item_id: "m1", delta: "Hi" }) +
    ev("response.completed", {
      response: {
        ...response,
        status: "completed",
        usage: { input_tokens: 4, output_tokens: 1, total_tokens: 5 },
      },
    });
  using s = modelsSetup(
    () =>
      new Response(text, { headers: { "content-type": "text/event-stream" } }),
    { models: responsesOnly() },
  );
  const res = await s.handler(
    post("/v1/chat/completions", {
      model: "o3-pro",
      stream: true,
      messages: [{ role: "user", content: "Hi" }],
    }),
    INFO,
  );
  const data = (await res.text()).split("\n\n").filter((e) => e !== "")
    .map((e) => e.slice(6));
  assert.equal(data.at(-1), "[DONE]");
  const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
  assert.equal(chunks[1].choices[0].delta.content, "Hi");
  assert.equal(chunks[2].choices[0].finish_reason, "stop");
  assert.equal(chunks[3].usage.total_tokens, 5);
  assert.equal(sent(s).stream, true);
  await recorded(s, 1);
  assert.equal(s.records[0].translation, "chat->responses");
  assert.equal(s.records[0].tokensIn, 4);
  assert.equal(s.records[0].error, null);
});
