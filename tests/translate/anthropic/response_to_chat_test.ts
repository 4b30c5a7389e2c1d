// The wire formats (Anthropic, OpenAI) are snake_case.
// deno-lint-ignore-file camelcase
import assert from "node:assert/strict";
import {
  anthropicToChatResponse,
  chatUsage,
  finishReason,
} from "../../../src/translate/anthropic/response_to_chat.ts";

/** A Message as the Messages API answers a thinking, tool-using turn. */
const MESSAGE = {
  id: "msg_01XFDUDYJgAACzvnptvVoYEL",
  type: "message",
  role: "assistant",
  model: "anthropic.claude-4-5-sonnet",
  content: [
    {
      type: "thinking",
      thinking: "The user wants two files.",
      signature: "EqQBCgIYAhIM1gbcDa9GJwZA2b3h",
    },
    { type: "redacted_thinking", data: "EmwKAhgBEgy3va3pzix" },
    { type: "text", text: "Reading both." },
    {
      type: "tool_use",
      id: "toolu_01A",
      name: "Read",
      input: { path: "a.txt" },
    },
    {
      type: "tool_use",
      id: "toolu_01B",
      name: "Read",
      input: { path: "b.txt" },
    },
  ],
  stop_reason: "tool_use",
  stop_sequence: null,
  usage: {
    input_tokens: 10,
    cache_creation_input_tokens: 200,
    cache_read_input_tokens: 3000,
    output_tokens: 50,
  },
};

Deno.test("anthropicToChatResponse: thinking, text and parallel tool_use blocks become one Chat message", () => {
  const chat = anthropicToChatResponse(MESSAGE, "fallback");
  assert.equal(typeof chat.created, "number");
  delete chat.created;
  assert.deepEqual(chat, {
    id: "chatcmpl-01XFDUDYJgAACzvnptvVoYEL",
    object: "chat.completion",
    model: "anthropic.claude-4-5-sonnet",
    choices: [{
      index: 0,
      message: {
        role: "assistant",
        content: "Reading both.",
        tool_calls: [
          {
            id: "toolu_01A",
            type: "function",
            function: { name: "Read", arguments: '{"path":"a.txt"}' },
          },
          {
            id: "toolu_01B",
            type: "function",
            function: { name: "Read", arguments: '{"path":"b.txt"}' },
          },
        ],
        reasoning_content: "The user wants two files.",
        thinking_blocks: [
          {
            type: "thinking",
            thinking: "The user wants two files.",
            signature: "EqQBCgIYAhIM1gbcDa9GJwZA2b3h",
          },
          { type: "redacted_thinking", data: "EmwKAhgBEgy3va3pzix" },
        ],
      },
      finish_reason: "tool_calls",
    }],
    usage: {
      prompt_tokens: 3210,
      completion_tokens: 50,
      total_tokens: 3260,
      prompt_tokens_details: { cached_tokens: 3000 },
      cache_creation_input_tokens: 200,
    },
  });
});

Deno.test("anthropicToChatResponse: a plain answer has string content and no reasoning fields", () => {
  const chat = anthropicToChatResponse({
    id: "msg_1",
    content: [{ type: "text", text: "Hi." }],
    stop_reason: "end_turn",
    usage: { input_tokens: 3, output_tokens: 1 },
  }, "anthropic.claude-4-5-haiku");
  assert.equal(chat.model, "anthropic.claude-4-5-haiku");
  assert.deepEqual((chat.choices as unknown[])[0], {
    index: 0,
    message: { role: "assistant", content: "Hi." },
    finish_reason: "stop",
  });
});

Deno.test("finishReason maps every stop_reason", () => {
  assert.deepEqual(
    [
      "end_turn",
      "stop_sequence",
      "max_tokens",
      "tool_use",
      "refusal",
      "pause_turn",
      "model_context_window_exceeded",
      null,
    ].map(finishReason),
    [
      "stop",
      "stop",
      "length",
      "tool_calls",
      "content_filter",
      "stop",
      "length",
      "stop",
    ],
  );
});

Deno.test("chatUsage: missing counts are zero", () => {
  assert.deepEqual(chatUsage(undefined), {
    prompt_tokens: 0,
    completion_tokens: 0,
    total_tokens: 0,
    prompt_tokens_details: { cached_tokens: 0 },
    cache_creation_input_tokens: 0,
  });
});
