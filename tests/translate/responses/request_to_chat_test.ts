import assert from "node:assert/strict";
import { responsesToChatRequest } from "../../../src/translate/responses/request_to_chat.ts";
import type { RequestContext } from "../../../src/translate/types.ts";

const context = (model = "anthropic.claude-4-5-sonnet"): RequestContext => ({
  model,
  stream: false,
});

const WEATHER = {
  type: "object",
  properties: { city: { type: "string" } },
  required: ["city"],
};

Deno.test("responsesToChatRequest() turns a tool loop with images, parallel calls and signed reasoning into Chat messages", () => {
  const out = responsesToChatRequest({
    model: "claude-sonnet-4-5",
    instructions: "You are terse.",
    input: [
      {
        type: "message",
        role: "developer",
        content: [{ type: "input_text", text: "Use tools." }],
      },
      {
        role: "user",
        content: [
          { type: "input_text", text: "Weather here and in Rome?" },
          {
            type: "input_image",
            image_url: "data:image/png;base64,iVBORw0KGgo=",
            detail: "high",
          },
          { type: "input_image", file_id: "file-123" },
        ],
      },
      {
        type: "reasoning",
        id: "rs_1",
        summary: [],
        content: [{ type: "reasoning_text", text: "Two cities." }],
        encrypted_content: "anthropic-thinking:sig-abc",
      },
      {
        type: "message",
        role: "assistant",
        content: [{ type: "output_text", text: "Checking." }],
      },
      {
        type: "function_call",
        call_id: "call_1",
        name: "weather",
        arguments: '{"city":"Paris"}',
      },
      {
        type: "function_call",
        call_id: "call_2",
        name: "weather",
        arguments: '{"city":"Rome"}',
      },
      { type: "function_call_output", call_id: "call_1", output: "Sunny" },
      {
        type: "function_call_output",
        call_id: "call_2",
        output: [{ type: "input_text", text: "Rain" }],
      },
    ],
    tools: [{
      type: "function",
      name: "weather",
      description: "Weather in a city",
      strict: true,
      parameters: WEATHER,
    }],
    tool_choice: "auto",
    parallel_tool_calls: true,
    max_output_tokens: 800,
    temperature: 0.2,
    top_p: 0.9,
    stream: true,
    store: false,
    user: "u-1",
  }, context());
  assert.equal(out.refused, undefined);
  assert.deepEqual(out.body, {
    model: "anthropic.claude-4-5-sonnet",
    messages: [
      { role: "system", content: "You are terse." },
      { role: "system", content: "Use tools." },
      {
        role: "user",
        content: [
          { type: "text", text: "Weather here and in Rome?" },
          {
            type: "image_url",
            image_url: {
              url: "data:image/png;base64,iVBORw0KGgo=",
              detail: "high",
            },
          },
        ],
      },
      {
        role: "assistant",
        content: "Checking.",
        reasoning_content: "Two cities.",
        thinking_blocks: [{
          type: "thinking",
          thinking: "Two cities.",
          signature: "sig-abc",
        }],
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
      { role: "tool", tool_call_id: "call_1", content: "Sunny" },
      { role: "tool", tool_call_id: "call_2", content: "Rain" },
    ],
    max_tokens: 800,
    temperature: 0.2,
    top_p: 0.9,
    tools: [{
      type: "function",
      function: {
        name: "weather",
        parameters: WEATHER,
        description: "Weather in a city",
        strict: true,
      },
    }],
    tool_choice: "auto",
    parallel_tool_calls: true,
    stream: true,
    stream_options: { include_usage: true },
    user: "u-1",
  });
  assert.deepEqual(out.dropped, ["input_image file_id"]);
});

Deno.test("responsesToChatRequest() flattens Codex's namespaces, maps free-form tools to functions and drops built-in tools", () => {
  const out = responsesToChatRequest({
    model: "m",
    input: "List the files",
    tools: [
      {
        type: "function",
        name: "exec_command",
        parameters: { type: "object" },
      },
      {
        type: "namespace",
        name: "multi_agent_v1",
        description: "Agents",
        tools: [{ type: "function", name: "spawn_agent", parameters: WEATHER }],
      },
      {
        type: "custom",
        name: "apply_patch",
        description: "Apply a patch.",
        format: { type: "grammar", syntax: "lark", definition: "start: x" },
      },
      { type: "web_search", external_web_access: false },
      { type: "local_shell" },
    ],
    tool_choice: { type: "function", name: "exec_command" },
    reasoning: { effort: "high", summary: "auto" },
    include: ["reasoning.encrypted_content"],
    prompt_cache_key: "k",
    client_metadata: { a: 1 },
  }, context());
  const tools = out.body.tools as { function: Record<string, unknown> }[];
  assert.deepEqual(tools.map((t) => t.function.name), [
    "exec_command",
    "spawn_agent",
    "apply_patch",
  ]);
  // A schema without properties gets them (Bedrock refuses it otherwise).
  assert.deepEqual(tools[0].function.parameters, {
    type: "object",
    properties: {},
  });
  assert.deepEqual(tools[2].function.parameters, {
    type: "object",
    properties: {
      input: { type: "string", description: "The tool's free-form input" },
    },
    required: ["input"],
  });
  assert.match(
    String(tools[2].function.description),
    /^Apply a patch\.\n\nThe input is free-form text \(not JSON\), following this lark grammar:\nstart: x$/,
  );
  assert.deepEqual(out.body.tool_choice, {
    type: "function",
    function: { name: "exec_command" },
  });
  assert.equal(out.body.reasoning_effort, "high");
  assert.deepEqual(out.body.messages, [{
    role: "user",
    content: "List the files",
  }]);
  assert.deepEqual(out.dropped.sort(), [
    "client_metadata",
    "include",
    "prompt_cache_key",
    "reasoning.summary",
    "tool local_shell",
    "tool web_search",
  ]);
});

Deno.test("responsesToChatRequest() sends free-form tool calls back as {input} arguments and their outputs as tool messages", () => {
  const out = responsesToChatRequest({
    model: "m",
    input: [
      { role: "user", content: "patch it" },
      {
        type: "custom_tool_call",
        call_id: "c1",
        name: "apply_patch",
        input: "*** Begin Patch",
      },
      { type: "custom_tool_call_output", call_id: "c1", output: "Done" },
    ],
  }, context());
  assert.deepEqual((out.body.messages as unknown[]).slice(1), [
    {
      role: "assistant",
      content: null,
      tool_calls: [{
        id: "c1",
        type: "function",
        function: {
          name: "apply_patch",
          arguments: '{"input":"*** Begin Patch"}',
        },
      }],
    },
    { role: "tool", tool_call_id: "c1", content: "Done" },
  ]);
});

Deno.test("responsesToChatRequest() maps text.format to response_format and max_output_tokens to max_completion_tokens for OpenAI's reasoning models", () => {
  const schema = { type: "object", properties: { a: { type: "string" } } };
  const out = responsesToChatRequest({
    model: "m",
    input: "x",
    max_output_tokens: 50,
    text: {
      format: { type: "json_schema", name: "out", schema, strict: true },
      verbosity: "low",
    },
    safety_identifier: "s-1",
  }, context("gpt-5"));
  assert.equal(out.body.max_completion_tokens, 50);
  assert.equal(out.body.max_tokens, undefined);
  assert.deepEqual(out.body.response_format, {
    type: "json_schema",
    json_schema: { name: "out", schema, strict: true },
  });
  assert.equal(out.body.user, "s-1");
  assert.deepEqual(out.dropped, ["text.verbosity"]);
  const json = responsesToChatRequest({
    model: "m",
    input: "x",
    text: { format: { type: "json_object" } },
  }, context());
  assert.deepEqual(json.body.response_format, { type: "json_object" });
});

Deno.test("responsesToChatRequest() keeps OpenAI's own encrypted reasoning out and says so", () => {
  const out = responsesToChatRequest({
    model: "m",
    input: [
      { role: "user", content: "hi" },
      {
        type: "reasoning",
        summary: [{ type: "summary_text", text: "Thought." }],
        encrypted_content: "gAAAAB-openai-blob",
      },
      { role: "assistant", content: "Hello" },
    ],
  }, context());
  assert.deepEqual((out.body.messages as unknown[])[1], {
    role: "assistant",
    content: "Hello",
    reasoning_content: "Thought.",
  });
  assert.deepEqual(out.dropped, ["encrypted_content"]);
});

Deno.test("responsesToChatRequest() refuses what needs stored state, naming the option, and accepts store: false", async (t) => {
  const cases: [string, Record<string, unknown>][] = [
    ["previous_response_id", { previous_response_id: "resp_1" }],
    ["store", { store: true }],
    ["conversation", { conversation: { id: "conv_1" } }],
    ["background", { background: true }],
  ];
  for (const [option, extra] of cases) {
    await t.step(option, () => {
      const out = responsesToChatRequest(
        { model: "m", input: "x", ...extra },
        context(),
      );
      assert.match(
        String(out.refused),
        new RegExp("^`" + option + "` is not supported"),
      );
      assert.match(String(out.refused), /stateless/);
    });
  }
  for (const extra of [{ store: false }, {}, { previous_response_id: null }]) {
    const out = responsesToChatRequest(
      { model: "m", input: "x", ...extra },
      context(),
    );
    assert.equal(out.refused, undefined);
  }
});

Deno.test("responsesToChatRequest() drops reasoning that no assistant turn follows, and says so", () => {
  const out = responsesToChatRequest({
    model: "m",
    input: [
      { type: "reasoning", summary: [{ type: "summary_text", text: "Hm." }] },
      { role: "user", content: "hi" },
      { role: "assistant", content: "Hello" },
      { type: "reasoning", summary: [{ type: "summary_text", text: "End." }] },
    ],
  }, context());
  assert.deepEqual(out.body.messages, [
    { role: "user", content: "hi" },
    { role: "assistant", content: "Hello" },
  ]);
  assert.deepEqual(out.dropped, [
    "reasoning not followed by an assistant turn",
  ]);
});

Deno.test("responsesToChatRequest() takes tools from an additional_tools input item too", () => {
  const out = responsesToChatRequest({
    model: "m",
    input: [
      {
        type: "additional_tools",
        tools: [{ type: "function", name: "exec_command", parameters: {} }],
      },
      { role: "user", content: "ls" },
    ],
  }, context());
  assert.deepEqual(out.body.messages, [{ role: "user", content: "ls" }]);
  assert.deepEqual(
    (out.body.tools as { function: { name: string } }[]).map((t) =>
      t.function.name
    ),
    ["exec_command"],
  );
  assert.deepEqual(out.dropped, []);
});
