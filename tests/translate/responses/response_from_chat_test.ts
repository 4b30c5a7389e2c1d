// The wire formats are snake_case.
// deno-lint-ignore-file camelcase
import assert from "node:assert/strict";
import { chatToResponsesResponse } from "../../../src/translate/responses/response_from_chat.ts";
import { responsesToChatRequest } from "../../../src/translate/responses/request_to_chat.ts";
import type { RequestContext } from "../../../src/translate/types.ts";

const context = (): RequestContext => ({ model: "m", stream: false });

const USAGE = {
  prompt_tokens: 120,
  completion_tokens: 30,
  total_tokens: 150,
  prompt_tokens_details: { cached_tokens: 100 },
  completion_tokens_details: { reasoning_tokens: 12 },
};

Deno.test("chatToResponsesResponse() gives signed reasoning, text and parallel function calls as output items, with usage details", () => {
  const out = chatToResponsesResponse({
    id: "chatcmpl-abc",
    object: "chat.completion",
    created: 1_700_000_000,
    model: "anthropic.claude-4-5-sonnet",
    choices: [{
      index: 0,
      message: {
        role: "assistant",
        content: "Checking both.",
        reasoning_content: "Two cities.",
        thinking_blocks: [
          { type: "thinking", thinking: "Two cities.", signature: "sig-1" },
          { type: "redacted_thinking", data: "opaque" },
        ],
        tool_calls: [
          {
            id: "call_1",
            type: "function",
            function: { name: "weather", arguments: '{"city":"Paris"}' },
          },
          {
            id: "call_2",
            type: "function",
            function: { name: "weather", arguments: '{"city":"Rome"}' },
          },
        ],
      },
      finish_reason: "tool_calls",
    }],
    usage: USAGE,
  }, context());
  assert.equal(out.id, "resp_abc");
  assert.equal(out.object, "response");
  assert.equal(out.created_at, 1_700_000_000);
  assert.equal(out.status, "completed");
  assert.equal(out.incomplete_details, null);
  assert.equal(out.model, "anthropic.claude-4-5-sonnet");
  assert.deepEqual(out.output, [
    {
      type: "reasoning",
      id: "rs_resp_abc_0",
      summary: [],
      content: [{ type: "reasoning_text", text: "Two cities." }],
      encrypted_content: "anthropic-thinking:sig-1",
    },
    {
      type: "reasoning",
      id: "rs_resp_abc_1",
      summary: [],
      content: [],
      encrypted_content: "anthropic-redacted:opaque",
    },
    {
      type: "message",
      id: "msg_resp_abc",
      status: "completed",
      role: "assistant",
      content: [{
        type: "output_text",
        text: "Checking both.",
        annotations: [],
        logprobs: [],
      }],
    },
    {
      type: "function_call",
      id: "fc_resp_abc_0",
      call_id: "call_1",
      name: "weather",
      arguments: '{"city":"Paris"}',
      status: "completed",
    },
    {
      type: "function_call",
      id: "fc_resp_abc_1",
      call_id: "call_2",
      name: "weather",
      arguments: '{"city":"Rome"}',
      status: "completed",
    },
  ]);
  assert.deepEqual(out.usage, {
    input_tokens: 120,
    input_tokens_details: { cached_tokens: 100 },
    output_tokens: 30,
    output_tokens_details: { reasoning_tokens: 12 },
    total_tokens: 150,
  });
});

Deno.test("chatToResponsesResponse() marks a length-cut answer incomplete (max_output_tokens) and a filtered one (content_filter)", () => {
  for (
    const [finish, reason] of [
      ["length", "max_output_tokens"],
      ["content_filter", "content_filter"],
    ]
  ) {
    const out = chatToResponsesResponse({
      id: "chatcmpl-1",
      choices: [{
        index: 0,
        message: { role: "assistant", content: "Partial" },
        finish_reason: finish,
      }],
    }, context());
    assert.equal(out.status, "incomplete");
    assert.deepEqual(out.incomplete_details, { reason });
    assert.equal((out.output as { status: string }[])[0].status, "incomplete");
  }
});

Deno.test("chatToResponsesResponse() answers a free-form tool as custom_tool_call and a namespaced one with its namespace", () => {
  const ctx = context();
  responsesToChatRequest({
    model: "m",
    input: "x",
    tools: [
      { type: "custom", name: "apply_patch", description: "Patch" },
      {
        type: "namespace",
        name: "multi_agent_v1",
        tools: [{ type: "function", name: "spawn_agent", parameters: {} }],
      },
    ],
  }, ctx);
  const out = chatToResponsesResponse({
    id: "chatcmpl-t",
    choices: [{
      index: 0,
      message: {
        role: "assistant",
        content: null,
        tool_calls: [
          {
            id: "c1",
            type: "function",
            function: {
              name: "apply_patch",
              arguments: '{"input":"*** Begin Patch\\n"}',
            },
          },
          {
            id: "c2",
            type: "function",
            function: { name: "spawn_agent", arguments: "{}" },
          },
        ],
      },
      finish_reason: "tool_calls",
    }],
  }, ctx);
  assert.deepEqual(out.output, [
    {
      type: "custom_tool_call",
      id: "ctc_resp_t_0",
      call_id: "c1",
      name: "apply_patch",
      input: "*** Begin Patch\n",
      status: "completed",
    },
    {
      type: "function_call",
      id: "fc_resp_t_1",
      call_id: "c2",
      name: "spawn_agent",
      arguments: "{}",
      status: "completed",
      namespace: "multi_agent_v1",
    },
  ]);
  // Another request's context knows none of those tools.
  const plain = chatToResponsesResponse({
    choices: [{
      message: {
        tool_calls: [{
          id: "c1",
          function: { name: "apply_patch", arguments: "{}" },
        }],
      },
      finish_reason: "tool_calls",
    }],
  }, context());
  assert.equal((plain.output as { type: string }[])[0].type, "function_call");
});

Deno.test("chatToResponsesResponse() gives a refusal as a refusal part", () => {
  const out = chatToResponsesResponse({
    choices: [{
      message: { role: "assistant", content: null, refusal: "I can't." },
      finish_reason: "stop",
    }],
  }, context());
  const message = (out.output as { content: unknown[] }[])[0];
  assert.deepEqual(message.content, [{ type: "refusal", refusal: "I can't." }]);
});
