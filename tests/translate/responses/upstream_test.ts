// The wire formats are snake_case.
// deno-lint-ignore-file camelcase
/**
 * The Responses API as Flow's side: Chat (and, through the hub, Anthropic)
 * clients on a model Flow serves on `/v1/responses` only.
 */
import assert from "node:assert/strict";
import { chatToResponsesRequest } from "../../../src/translate/responses/request_from_chat.ts";
import { responsesToChatResponse } from "../../../src/translate/responses/response_to_chat.ts";
import { ChatFromResponsesStream } from "../../../src/translate/responses/stream_to_chat.ts";
import { translationFor } from "../../../src/translate/registry.ts";
import { StreamPipe } from "../../../src/translate/stream_pipe.ts";
import { DATA_EVENTS, NAMED_EVENTS } from "../../../src/translate/sse.ts";
import type { RequestContext } from "../../../src/translate/types.ts";

const context: RequestContext = { model: "gpt-5-pro", stream: false };
const encoder = new TextEncoder();
const decoder = new TextDecoder();

Deno.test("chatToResponsesRequest() gives instructions, input items, flat tools and Responses' names for the settings", () => {
  const out = chatToResponsesRequest({
    model: "x",
    messages: [
      { role: "system", content: "Be brief." },
      {
        role: "user",
        content: [
          { type: "text", text: "What is this?" },
          { type: "image_url", image_url: { url: "https://x/y.png" } },
        ],
      },
      {
        role: "assistant",
        content: "Let me look.",
        reasoning_content: "Hm.",
        thinking_blocks: [{
          type: "thinking",
          thinking: "Hm.",
          signature: "s",
        }],
        tool_calls: [{
          id: "call_1",
          type: "function",
          function: { name: "look", arguments: '{"q":1}' },
        }],
      },
      { role: "tool", tool_call_id: "call_1", content: "A cat" },
    ],
    tools: [{
      type: "function",
      function: {
        name: "look",
        description: "Look",
        parameters: { type: "object" },
      },
    }],
    tool_choice: { type: "function", function: { name: "look" } },
    max_completion_tokens: 300,
    temperature: 0.5,
    reasoning_effort: "low",
    response_format: { type: "json_object" },
    stream: true,
    stream_options: { include_usage: true },
    user: "u",
    stop: ["END"],
  }, context);
  assert.deepEqual(out.body, {
    model: "gpt-5-pro",
    instructions: "Be brief.",
    input: [
      {
        type: "message",
        role: "user",
        content: [
          { type: "input_text", text: "What is this?" },
          { type: "input_image", image_url: "https://x/y.png", detail: "auto" },
        ],
      },
      {
        type: "reasoning",
        summary: [],
        content: [{ type: "reasoning_text", text: "Hm." }],
        encrypted_content: "anthropic-thinking:s",
      },
      {
        type: "message",
        role: "assistant",
        content: [{ type: "output_text", text: "Let me look." }],
      },
      {
        type: "function_call",
        call_id: "call_1",
        name: "look",
        arguments: '{"q":1}',
      },
      { type: "function_call_output", call_id: "call_1", output: "A cat" },
    ],
    max_output_tokens: 300,
    temperature: 0.5,
    tools: [{
      type: "function",
      name: "look",
      parameters: { type: "object" },
      description: "Look",
    }],
    tool_choice: { type: "function", name: "look" },
    reasoning: { effort: "low" },
    text: { format: { type: "json_object" } },
    stream: true,
    user: "u",
    store: false,
  });
  assert.deepEqual(out.dropped, ["stop"]);
});

Deno.test("responsesToChatResponse() gives text, reasoning with its signature, calls, finish reason and usage", () => {
  const out = responsesToChatResponse({
    id: "resp_1",
    object: "response",
    created_at: 5,
    status: "completed",
    model: "gpt-5-pro",
    output: [
      {
        type: "reasoning",
        id: "rs_1",
        summary: [{ type: "summary_text", text: "Thinking." }],
        encrypted_content: "anthropic-thinking:s",
      },
      {
        type: "message",
        id: "msg_1",
        role: "assistant",
        content: [{ type: "output_text", text: "Hi", annotations: [] }],
      },
      {
        type: "function_call",
        id: "fc_1",
        call_id: "call_1",
        name: "look",
        arguments: "{}",
      },
    ],
    usage: {
      input_tokens: 10,
      input_tokens_details: { cached_tokens: 4 },
      output_tokens: 6,
      output_tokens_details: { reasoning_tokens: 2 },
      total_tokens: 16,
    },
  }, context);
  assert.deepEqual(out, {
    id: "chatcmpl-1",
    object: "chat.completion",
    created: 5,
    model: "gpt-5-pro",
    choices: [{
      index: 0,
      message: {
        role: "assistant",
        content: "Hi",
        reasoning_content: "Thinking.",
        thinking_blocks: [{
          type: "thinking",
          thinking: "Thinking.",
          signature: "s",
        }],
        tool_calls: [{
          id: "call_1",
          type: "function",
          function: { name: "look", arguments: "{}" },
        }],
      },
      finish_reason: "tool_calls",
    }],
    usage: {
      prompt_tokens: 10,
      completion_tokens: 6,
      total_tokens: 16,
      prompt_tokens_details: { cached_tokens: 4 },
      completion_tokens_details: { reasoning_tokens: 2 },
    },
  });
  const cut = responsesToChatResponse({
    status: "incomplete",
    incomplete_details: { reason: "max_output_tokens" },
    output: [],
  }, context);
  assert.equal(
    (cut.choices as { finish_reason: string }[])[0].finish_reason,
    "length",
  );
});

/** A Responses stream as the API reference shows one: text, then a call. */
function responsesStream(final = true): string {
  let seq = 0;
  const ev = (type: string, data: Record<string, unknown>) =>
    `event: ${type}\ndata: ${
      JSON.stringify({ type, sequence_number: seq++, ...data })
    }\n\n`;
  const response = {
    id: "resp_7",
    object: "response",
    created_at: 9,
    model: "gpt-5-pro",
  };
  return [
    ev("response.created", {
      response: { ...response, status: "in_progress" },
    }),
    ev("response.in_progress", {
      response: { ...response, status: "in_progress" },
    }),
    ev("response.output_item.added", {
      output_index: 0,
      item: { type: "message", id: "msg_1", role: "assistant", content: [] },
    }),
    ev("response.output_text.delta", {
      item_id: "msg_1",
      output_index: 0,
      content_index: 0,
      delta: "Hé",
    }),
    ev("response.output_text.done", { item_id: "msg_1", text: "Hé" }),
    ev("response.output_item.added", {
      output_index: 1,
      item: {
        type: "function_call",
        id: "fc_1",
        call_id: "call_1",
        name: "look",
        arguments: "",
      },
    }),
    ev("response.function_call_arguments.delta", {
      item_id: "fc_1",
      output_index: 1,
      delta: '{"q"',
    }),
    ev("response.function_call_arguments.delta", {
      item_id: "fc_1",
      output_index: 1,
      delta: ":1}",
    }),
    ...(final
      ? [ev("response.completed", {
        response: {
          ...response,
          status: "completed",
          usage: { input_tokens: 3, output_tokens: 2, total_tokens: 5 },
        },
      })]
      : []),
  ].join("");
}

function chunks(text: string): unknown[] {
  return text.split("\n\n").filter((e) => e !== "").map((e) => {
    const data = e.slice(6);
    return data === "[DONE]" ? data : JSON.parse(data);
  });
}

Deno.test("ChatFromResponsesStream: Responses events become Chat chunks with tool-call deltas, finish, usage and [DONE], at every byte offset", () => {
  const text = responsesStream();
  const whole = new StreamPipe(
    new ChatFromResponsesStream(context),
    DATA_EVENTS,
  );
  const expected = chunks(
    decoder.decode(whole.push(encoder.encode(text))) +
      decoder.decode(whole.end()),
  );
  const deltas = expected.slice(0, -3).map((c) =>
    (c as { choices: { delta: unknown }[] }).choices[0].delta
  );
  assert.deepEqual(deltas, [
    { role: "assistant", content: "" },
    { content: "Hé" },
    {
      tool_calls: [{
        index: 0,
        id: "call_1",
        type: "function",
        function: { name: "look", arguments: "" },
      }],
    },
    { tool_calls: [{ index: 0, function: { arguments: '{"q"' } }] },
    { tool_calls: [{ index: 0, function: { arguments: ":1}" } }] },
  ]);
  const [finish, usage, done] = expected.slice(-3) as Record<string, unknown>[];
  assert.equal(
    (finish.choices as { finish_reason: string }[])[0].finish_reason,
    "tool_calls",
  );
  assert.equal((usage.usage as { total_tokens: number }).total_tokens, 5);
  assert.equal(done, "[DONE]");
  assert.equal((finish as { id: string }).id, "chatcmpl-7");
  const bytes = encoder.encode(text);
  for (let cut = 0; cut <= bytes.length; cut++) {
    const t = new StreamPipe(new ChatFromResponsesStream(context), DATA_EVENTS);
    const out = decoder.decode(t.push(bytes.subarray(0, cut))) +
      decoder.decode(t.push(bytes.subarray(cut))) + decoder.decode(t.end());
    assert.deepEqual(chunks(out), expected, `cut at ${cut}`);
  }
});

Deno.test("ChatFromResponsesStream: response.failed, an error event or a cut stream gives an error chunk", () => {
  const cut = new StreamPipe(new ChatFromResponsesStream(context), DATA_EVENTS);
  cut.push(encoder.encode(responsesStream(false)));
  const last = chunks(decoder.decode(cut.end())).at(-1) as {
    error: { message: string };
  };
  assert.match(last.error.message, /ended before the answer did/);
  const failed = new ChatFromResponsesStream(context);
  const out = failed.push({
    event: "response.failed",
    data: {
      type: "response.failed",
      response: { error: { code: "server_error", message: "Boom" } },
    },
  });
  assert.deepEqual(out, [{
    data: {
      error: {
        message: "Boom",
        type: "server_error",
        param: null,
        code: "server_error",
      },
    },
  }]);
  assert.ok(failed.ended);
  const error = new ChatFromResponsesStream(context);
  const e = error.push({
    event: "error",
    data: { type: "error", code: "rate_limit_exceeded", message: "Slow" },
  });
  assert.equal(
    (e[0].data as { error: { message: string } }).error.message,
    "Slow",
  );
});

Deno.test("an Anthropic client on a Responses-only model: the request goes through Chat to Responses and the stream comes back as Anthropic events", () => {
  const translation = translationFor("messages", "responses")!;
  assert.equal(translation.name, "messages->responses");
  const req = translation.request({
    model: "gpt-5-pro",
    max_tokens: 100,
    system: "Be brief.",
    messages: [{ role: "user", content: "Hi" }],
    stream: true,
  }, context);
  assert.deepEqual(req.body, {
    model: "gpt-5-pro",
    instructions: "Be brief.",
    input: [{ type: "message", role: "user", content: "Hi" }],
    max_output_tokens: 100,
    stream: true,
    store: false,
  });
  const t = new StreamPipe(translation.stream(context), NAMED_EVENTS);
  const out = decoder.decode(t.push(encoder.encode(responsesStream()))) +
    decoder.decode(t.end());
  const names = [...out.matchAll(/^event: (\w+)$/gm)].map((m) => m[1]);
  assert.deepEqual(names, [
    "message_start",
    "content_block_start",
    "content_block_delta",
    "content_block_stop",
    "content_block_start",
    "content_block_delta",
    "content_block_delta",
    "content_block_stop",
    "message_delta",
    "message_stop",
  ]);
  assert.match(out, /"stop_reason":"tool_use"/);
  const answer = translation.response({
    id: "resp_2",
    status: "completed",
    model: "gpt-5-pro",
    output: [{
      type: "message",
      content: [{ type: "output_text", text: "Hello" }],
    }],
    usage: { input_tokens: 4, output_tokens: 1 },
  }, context);
  assert.deepEqual(answer.content, [{ type: "text", text: "Hello" }]);
  assert.equal(answer.stop_reason, "end_turn");
});
