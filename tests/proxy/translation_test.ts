import assert from "node:assert/strict";
import { upstreamTarget } from "../../src/proxy/translation.ts";
import { INFO, modelsSetup, post, recorded } from "./models_setup.ts";

const decoder = new TextDecoder();

const CHAT_ANSWER = {
  id: "chatcmpl-1",
  object: "chat.completion",
  created: 1,
  model: "gpt-5",
  choices: [{
    index: 0,
    message: { role: "assistant", content: "Hello." },
    finish_reason: "stop",
  }],
  usage: { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 },
};

Deno.test("upstreamTarget: the client's path becomes Flow's path for the API, base kept, the client API's query dropped", () => {
  assert.equal(
    upstreamTarget(
      "http://flow/flow-llm-proxy/v1/messages?beta=true",
      "/v1/messages",
      "chat",
      "gpt-5",
    ),
    "http://flow/flow-llm-proxy/v1/chat/completions",
  );
  assert.equal(
    upstreamTarget("http://flow/p/messages", "/messages", "chat", "gpt-5"),
    "http://flow/p/chat/completions",
  );
  assert.equal(
    upstreamTarget(
      "http://flow/p/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse&key=k",
      "/v1beta/models/gemini-2.5-pro:streamGenerateContent",
      "chat",
      "gemini-2.5-pro",
    ),
    "http://flow/p/v1/chat/completions",
  );
  assert.equal(
    upstreamTarget(
      "http://flow/p/v1/chat/completions",
      "/v1/chat/completions",
      "messages",
      "anthropic.claude-4-5-sonnet",
    ),
    "http://flow/p/v1/messages",
  );
});

Deno.test("an Anthropic request for gpt-5 goes to Chat Completions and its JSON answer comes back as a Message", async () => {
  using s = modelsSetup(() => Response.json(CHAT_ANSWER));
  const res = await s.handler(
    post("/v1/messages?beta=true", {
      model: "gpt-5",
      max_tokens: 1000,
      system: "Be brief.",
      messages: [{ role: "user", content: "Hi" }],
      thinking: { type: "enabled", budget_tokens: 500 },
    }, { "anthropic-beta": "interleaved-thinking-2025-05-14" }),
    INFO,
  );
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), {
    id: "msg_1",
    type: "message",
    role: "assistant",
    model: "gpt-5",
    content: [{ type: "text", text: "Hello." }],
    stop_reason: "end_turn",
    stop_sequence: null,
    usage: {
      input_tokens: 9,
      output_tokens: 2,
      cache_read_input_tokens: 0,
      cache_creation_input_tokens: 0,
    },
  });
  assert.equal(
    s.calls[0].url,
    "http://127.0.0.1:9/flow-llm-proxy/v1/chat/completions",
  );
  assert.equal(s.calls[0].headers.get("anthropic-beta"), null);
  assert.deepEqual(JSON.parse(decoder.decode(s.calls[0].body!)), {
    model: "gpt-5",
    messages: [
      { role: "system", content: "Be brief." },
      { role: "user", content: "Hi" },
    ],
    max_completion_tokens: 1000,
    reasoning_effort: "low",
  });
  await recorded(s, 1);
  assert.equal(s.records[0].translation, "messages->chat");
  assert.equal(s.records[0].tokensIn, 9);
  assert.equal(s.records[0].tokensOut, 2);
  assert.ok(s.logs.some((l) =>
    l.level === "debug" &&
    l.message.startsWith(
      "Translated Anthropic Messages to Chat Completions for 'gpt-5' [",
    )
  ));
});

Deno.test("a translated request that fails over resends the translated body", async () => {
  using s = modelsSetup((_c, n) =>
    n === 0
      ? new Response("bad gateway", { status: 502 })
      : Response.json(CHAT_ANSWER)
  );
  const res = await s.handler(
    post("/v1/messages", {
      model: "gpt-5",
      max_tokens: 10,
      messages: [{ role: "user", content: "Hi" }],
    }),
    INFO,
  );
  assert.equal(res.status, 200);
  await res.body?.cancel();
  assert.equal(s.calls.length, 2);
  assert.deepEqual(s.calls[0].body, s.calls[1].body);
  assert.ok(s.calls[1].url.endsWith("/v1/chat/completions"));
});

Deno.test("Flow's OpenAI-shaped error comes back in Anthropic's shape with the same status", async () => {
  using s = modelsSetup(() =>
    Response.json({
      error: {
        message: "max_tokens is too large",
        type: "invalid_request_error",
      },
    }, { status: 400 })
  );
  const res = await s.handler(
    post("/v1/messages", {
      model: "gemini-2.5-pro",
      max_tokens: 10,
      messages: [{ role: "user", content: "Hi" }],
    }),
    INFO,
  );
  assert.equal(res.status, 400);
  assert.deepEqual(await res.json(), {
    type: "error",
    error: {
      type: "invalid_request_error",
      message: "max_tokens is too large",
    },
  });
  assert.equal(JSON.parse(decoder.decode(s.calls[0].body!)).max_tokens, 10);
});

Deno.test("a translated stream reaches the client as Anthropic events; usage read from the Chat chunks", async () => {
  const chunks = [
    {
      id: "chatcmpl-2",
      model: "gpt-5",
      choices: [{ index: 0, delta: { content: "Hi" } }],
    },
    {
      id: "chatcmpl-2",
      model: "gpt-5",
      choices: [{ index: 0, delta: {}, finish_reason: "stop" }],
    },
    {
      id: "chatcmpl-2",
      model: "gpt-5",
      choices: [],
      usage: { prompt_tokens: 5, completion_tokens: 1 },
    },
  ];
  const text = chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`).join("") +
    "data: [DONE]\n\n";
  using s = modelsSetup(() =>
    new Response(text, { headers: { "content-type": "text/event-stream" } })
  );
  const res = await s.handler(
    post("/v1/messages", {
      model: "gpt-5",
      max_tokens: 10,
      stream: true,
      messages: [{ role: "user", content: "Hi" }],
    }),
    INFO,
  );
  const out = await res.text();
  const names = [...out.matchAll(/^event: (\w+)$/gm)].map((m) => m[1]);
  assert.deepEqual(names, [
    "message_start",
    "content_block_start",
    "content_block_delta",
    "content_block_stop",
    "message_delta",
    "message_stop",
  ]);
  const sent = JSON.parse(decoder.decode(s.calls[0].body!));
  assert.equal(sent.stream, true);
  assert.deepEqual(sent.stream_options, { include_usage: true });
  await recorded(s, 1);
  assert.equal(s.records[0].stream, true);
  assert.equal(s.records[0].tokensIn, 5);
  assert.equal(s.records[0].tokensOut, 1);
  assert.equal(s.records[0].error, null);
  assert.notEqual(s.records[0].ttftMs, null);
});

Deno.test("count_tokens for a model reached through a translation is refused 400 in Anthropic's shape", async () => {
  using s = modelsSetup();
  const res = await s.handler(
    post("/v1/messages/count_tokens", {
      model: "gpt-5",
      messages: [{ role: "user", content: "Hi" }],
    }),
    INFO,
  );
  assert.equal(res.status, 400);
  const body = await res.json();
  assert.equal(body.type, "error");
  assert.match(body.error.message, /Token counting is not available/);
  assert.equal(s.calls.length, 0);
});

Deno.test("a Claude model on /v1/messages is not translated", async () => {
  using s = modelsSetup(() => Response.json({ type: "message" }));
  const res = await s.handler(
    post("/v1/messages", {
      model: "claude-sonnet-4-5",
      max_tokens: 10,
      messages: [{ role: "user", content: "Hi" }],
    }),
    INFO,
  );
  assert.deepEqual(await res.json(), { type: "message" });
  assert.ok(s.calls[0].url.endsWith("/v1/messages"));
  await recorded(s, 1);
  assert.equal(s.records[0].translation ?? null, null);
});

Deno.test("a translated stream that fails mid-way ends with an Anthropic error event", async () => {
  const first = `data: ${
    JSON.stringify({
      id: "chatcmpl-3",
      model: "gpt-5",
      choices: [{ index: 0, delta: { content: "Hi" } }],
    })
  }\n\n`;
  using s = modelsSetup(() => {
    let sent = false;
    const body = new ReadableStream<Uint8Array>({
      pull(ctrl) {
        if (sent) return ctrl.error(new TypeError("connection reset"));
        sent = true;
        ctrl.enqueue(new TextEncoder().encode(first));
      },
    });
    return new Response(body, {
      headers: { "content-type": "text/event-stream" },
    });
  });
  const res = await s.handler(
    post("/v1/messages", {
      model: "gpt-5",
      max_tokens: 10,
      stream: true,
      messages: [{ role: "user", content: "Hi" }],
    }),
    INFO,
  );
  const out = await res.text();
  const names = [...out.matchAll(/^event: (\w+)$/gm)].map((m) => m[1]);
  assert.deepEqual(names, [
    "message_start",
    "content_block_start",
    "content_block_delta",
    "error",
  ]);
  const last = JSON.parse(out.trim().split("\n").at(-1)!.slice(6));
  assert.equal(last.type, "error");
  assert.equal(typeof last.error.message, "string");
  await recorded(s, 1);
  assert.equal(s.records[0].error, "stream_error");
});
