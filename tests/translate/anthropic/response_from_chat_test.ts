import assert from "node:assert/strict";
import {
  anthropicUsage,
  chatToAnthropicResponse,
  stopReason,
} from "../../../src/translate/anthropic/response_from_chat.ts";
import { ANTHROPIC_ADAPTER } from "../../../src/translate/anthropic/adapter.ts";
import { readErrorBody } from "../../../src/translate/error_info.ts";

/** Flow's error body as the Anthropic client receives it. */
function anthropicError(status: number, text: string): unknown {
  return ANTHROPIC_ADAPTER.errorBody(readErrorBody(status, text));
}

Deno.test("chatToAnthropicResponse: text and parallel tool calls become content blocks", () => {
  const out = chatToAnthropicResponse({
    id: "chatcmpl-abc123",
    object: "chat.completion",
    created: 1741569952,
    model: "gpt-5-2025-08-07",
    choices: [{
      index: 0,
      message: {
        role: "assistant",
        content: "Listing it.",
        refusal: null,
        tool_calls: [
          {
            id: "call_1",
            type: "function",
            function: { name: "Bash", arguments: '{"command":"ls"}' },
          },
          {
            id: "call_2",
            type: "function",
            function: { name: "Read", arguments: "" },
          },
        ],
      },
      logprobs: null,
      finish_reason: "tool_calls",
    }],
    usage: {
      prompt_tokens: 19,
      completion_tokens: 10,
      total_tokens: 29,
      prompt_tokens_details: { cached_tokens: 4 },
    },
  });
  assert.deepEqual(out, {
    id: "msg_abc123",
    type: "message",
    role: "assistant",
    model: "gpt-5-2025-08-07",
    content: [
      { type: "text", text: "Listing it." },
      {
        type: "tool_use",
        id: "call_1",
        name: "Bash",
        input: { command: "ls" },
      },
      { type: "tool_use", id: "call_2", name: "Read", input: {} },
    ],
    stop_reason: "tool_use",
    stop_sequence: null,
    usage: {
      input_tokens: 15,
      output_tokens: 10,
      cache_read_input_tokens: 4,
      cache_creation_input_tokens: 0,
    },
  });
});

Deno.test("stopReason: each finish_reason", () => {
  assert.equal(stopReason("stop"), "end_turn");
  assert.equal(stopReason("length"), "max_tokens");
  assert.equal(stopReason("tool_calls"), "tool_use");
  assert.equal(stopReason("content_filter"), "refusal");
  assert.equal(stopReason(null), null);
});

Deno.test("Anthropic error: OpenAI's error shape becomes Anthropic's, by status", () => {
  assert.deepEqual(
    anthropicError(
      400,
      '{"error":{"message":"Unsupported value: temperature","type":"invalid_request_error","param":"temperature","code":null}}',
    ),
    {
      type: "error",
      error: {
        type: "invalid_request_error",
        message: "Unsupported value: temperature",
      },
    },
  );
  assert.deepEqual(anthropicError(429, '{"error":"slow down"}'), {
    type: "error",
    error: { type: "rate_limit_error", message: "slow down" },
  });
  assert.deepEqual(anthropicError(502, "Bad Gateway"), {
    type: "error",
    error: { type: "api_error", message: "Bad Gateway" },
  });
  assert.deepEqual(anthropicError(401, ""), {
    type: "error",
    error: {
      type: "authentication_error",
      message: "Upstream answered 401",
    },
  });
});

Deno.test("anthropicUsage: Chat's prompt_tokens less cache reads and writes is Anthropic's input_tokens", () => {
  assert.deepEqual(
    anthropicUsage({
      prompt_tokens: 3210,
      completion_tokens: 50,
      prompt_tokens_details: { cached_tokens: 3000 },
      cache_creation_input_tokens: 200,
    }),
    {
      input_tokens: 10,
      output_tokens: 50,
      cache_read_input_tokens: 3000,
      cache_creation_input_tokens: 200,
    },
  );
});

Deno.test("chatToAnthropicResponse: thinking_blocks lead the content with their signatures; a bare reasoning_content is an unsigned thinking block", () => {
  const signed = chatToAnthropicResponse({
    id: "chatcmpl-t",
    model: "anthropic.claude-4-5-sonnet",
    choices: [{
      index: 0,
      message: {
        role: "assistant",
        content: "Answer.",
        reasoning_content: "Because.",
        thinking_blocks: [
          { type: "thinking", thinking: "Because.", signature: "S1" },
          { type: "redacted_thinking", data: "opaque" },
        ],
      },
      finish_reason: "stop",
    }],
  });
  assert.deepEqual(signed.content, [
    { type: "thinking", thinking: "Because.", signature: "S1" },
    { type: "redacted_thinking", data: "opaque" },
    { type: "text", text: "Answer." },
  ]);
  const bare = chatToAnthropicResponse({
    id: "chatcmpl-u",
    model: "gemini-2.5-pro",
    choices: [{
      index: 0,
      message: { role: "assistant", content: "A.", reasoning_content: "R." },
      finish_reason: "stop",
    }],
  });
  assert.deepEqual(bare.content, [
    { type: "thinking", thinking: "R.", signature: "" },
    { type: "text", text: "A." },
  ]);
});
