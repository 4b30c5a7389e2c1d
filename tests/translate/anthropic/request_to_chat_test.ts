import assert from "node:assert/strict";
import {
  anthropicToChatRequest,
  cleanSchema,
} from "../../../src/translate/anthropic/request_to_chat.ts";

Deno.test("anthropicToChatRequest: a Claude Code turn with tools, images and results becomes a Chat body", () => {
  const { body, dropped } = anthropicToChatRequest({
    model: "claude-sonnet-4-5",
    max_tokens: 32000,
    system: [
      { type: "text", text: "You are Claude Code." },
      { type: "text", text: "Be brief.", cache_control: { type: "ephemeral" } },
    ],
    messages: [
      {
        role: "user",
        content: [
          { type: "text", text: "What is in this picture and this dir?" },
          {
            type: "image",
            source: { type: "base64", media_type: "image/png", data: "iVBO" },
          },
          {
            type: "image",
            source: { type: "url", url: "https://example.com/a.jpg" },
          },
        ],
      },
      {
        role: "assistant",
        content: [
          { type: "thinking", thinking: "hmm", signature: "x" },
          { type: "text", text: "Let me look." },
          {
            type: "tool_use",
            id: "toolu_1",
            name: "Bash",
            input: { command: "ls" },
          },
          {
            type: "tool_use",
            id: "toolu_2",
            name: "Read",
            input: { path: "a" },
          },
        ],
      },
      {
        role: "user",
        content: [
          { type: "tool_result", tool_use_id: "toolu_1", content: "a\nb" },
          {
            type: "tool_result",
            tool_use_id: "toolu_2",
            is_error: true,
            content: [{ type: "text", text: "no such file" }],
          },
          { type: "text", text: "Go on." },
        ],
      },
    ],
    tools: [{
      name: "Bash",
      description: "Runs a command",
      input_schema: {
        type: "object",
        properties: {
          command: { type: "string" },
          env: { type: "object" },
        },
        required: ["command"],
      },
    }, { name: "NoArgs", input_schema: { type: "object" } }],
    tool_choice: { type: "auto", disable_parallel_tool_use: true },
    stop_sequences: ["\n\nHuman:"],
    temperature: 0.5,
    top_p: 0.9,
    stream: true,
    metadata: { user_id: "user_abc" },
    thinking: { type: "enabled", budget_tokens: 1024 },
  }, { model: "gpt-5" });
  assert.deepEqual(body, {
    model: "gpt-5",
    messages: [
      { role: "system", content: "You are Claude Code.\n\nBe brief." },
      {
        role: "user",
        content: [
          { type: "text", text: "What is in this picture and this dir?" },
          {
            type: "image_url",
            image_url: { url: "data:image/png;base64,iVBO" },
          },
          {
            type: "image_url",
            image_url: { url: "https://example.com/a.jpg" },
          },
        ],
      },
      {
        role: "assistant",
        content: "Let me look.",
        tool_calls: [
          {
            id: "toolu_1",
            type: "function",
            function: { name: "Bash", arguments: '{"command":"ls"}' },
          },
          {
            id: "toolu_2",
            type: "function",
            function: { name: "Read", arguments: '{"path":"a"}' },
          },
        ],
      },
      { role: "tool", tool_call_id: "toolu_1", content: "a\nb" },
      {
        role: "tool",
        tool_call_id: "toolu_2",
        content: "Error: no such file",
      },
      { role: "user", content: "Go on." },
    ],
    max_completion_tokens: 32000,
    temperature: 0.5,
    top_p: 0.9,
    stop: ["\n\nHuman:"],
    stream: true,
    stream_options: { include_usage: true },
    user: "user_abc",
    tools: [
      {
        type: "function",
        function: {
          name: "Bash",
          description: "Runs a command",
          parameters: {
            type: "object",
            properties: {
              command: { type: "string" },
              env: { type: "object", properties: {} },
            },
            required: ["command"],
          },
        },
      },
      {
        type: "function",
        function: {
          name: "NoArgs",
          parameters: { type: "object", properties: {} },
        },
      },
    ],
    tool_choice: "auto",
    parallel_tool_calls: false,
    reasoning_effort: "low",
  });
  assert.deepEqual(dropped.sort(), ["cache_control", "thinking blocks"]);
});

Deno.test("anthropicToChatRequest: a string system and content, max_tokens kept for non-reasoning models", () => {
  const { body, dropped } = anthropicToChatRequest({
    model: "x",
    system: "Be kind.",
    max_tokens: 100,
    messages: [
      { role: "user", content: "Hi" },
      { role: "assistant", content: "Hello" },
      { role: "user", content: "Bye" },
    ],
  }, { model: "gemini-2.5-pro" });
  assert.deepEqual(body, {
    model: "gemini-2.5-pro",
    messages: [
      { role: "system", content: "Be kind." },
      { role: "user", content: "Hi" },
      { role: "assistant", content: "Hello" },
      { role: "user", content: "Bye" },
    ],
    max_tokens: 100,
  });
  assert.deepEqual(dropped, []);
});

Deno.test("anthropicToChatRequest: each tool_choice", () => {
  const tools = [{ name: "f", input_schema: { type: "object" } }];
  const choice = (c: unknown) =>
    anthropicToChatRequest({ messages: [], tools, tool_choice: c }, {
      model: "gpt-5",
    }).body.tool_choice;
  assert.equal(choice({ type: "auto" }), "auto");
  assert.equal(choice({ type: "any" }), "required");
  assert.equal(choice({ type: "none" }), "none");
  assert.deepEqual(choice({ type: "tool", name: "f" }), {
    type: "function",
    function: { name: "f" },
  });
});

Deno.test("anthropicToChatRequest: a server tool without a schema is dropped and named", () => {
  const { body, dropped } = anthropicToChatRequest({
    messages: [{ role: "user", content: "hi" }],
    tools: [{ type: "web_search_20250305", name: "web_search" }],
  }, { model: "gpt-5" });
  assert.equal(body.tools, undefined);
  assert.deepEqual(dropped, ["tool web_search (web_search_20250305)"]);
});

Deno.test("cleanSchema: nested objects in arrays and anyOf get properties", () => {
  assert.deepEqual(
    cleanSchema({
      type: "object",
      properties: {
        list: { type: "array", items: { type: "object" } },
        either: { anyOf: [{ type: "object" }, { type: "string" }] },
      },
    }),
    {
      type: "object",
      properties: {
        list: { type: "array", items: { type: "object", properties: {} } },
        either: {
          anyOf: [{ type: "object", properties: {} }, { type: "string" }],
        },
      },
    },
  );
});

Deno.test("anthropicToChatRequest: consecutive user turns become one user message, as Anthropic combines them", () => {
  const { body } = anthropicToChatRequest({
    messages: [
      { role: "user", content: [{ type: "text", text: "List the files" }] },
      { role: "user", content: "Available agents: …" },
    ],
  }, { model: "gpt-5" });
  assert.deepEqual(body.messages, [{
    role: "user",
    content: [
      { type: "text", text: "List the files" },
      { type: "text", text: "Available agents: …" },
    ],
  }]);
});

Deno.test("anthropicToChatRequest: thinking becomes reasoning_effort for a model that reasons, and is dropped for one that does not", async (t) => {
  const messages = [{ role: "user", content: "Think." }];
  const effort = (thinking: unknown, model: string, outputConfig?: unknown) =>
    anthropicToChatRequest(
      { messages, thinking, output_config: outputConfig },
      { model },
    );
  for (
    const [thinking, expected] of [
      [{ type: "enabled", budget_tokens: 1024 }, "low"],
      [{ type: "enabled", budget_tokens: 2048 }, "medium"],
      [{ type: "enabled", budget_tokens: 31999 }, "high"],
      [{ type: "adaptive" }, "high"],
    ] as const
  ) {
    await t.step(JSON.stringify(thinking), () => {
      const { body, dropped } = effort(thinking, "gpt-5");
      assert.equal(body.reasoning_effort, expected);
      assert.deepEqual(dropped, []);
    });
  }
  await t.step("adaptive with output_config.effort", () => {
    assert.equal(
      effort({ type: "adaptive" }, "anthropic.claude-4-5-sonnet", {
        effort: "medium",
      }).body.reasoning_effort,
      "medium",
    );
  });
  await t.step("disabled thinking is nothing", () => {
    const { body, dropped } = effort({ type: "disabled" }, "gpt-5");
    assert.equal(body.reasoning_effort, undefined);
    assert.deepEqual(dropped, []);
  });
  await t.step("gpt-4o takes no reasoning: dropped", () => {
    const { body, dropped } = effort(
      { type: "enabled", budget_tokens: 2048 },
      "gpt-4o",
    );
    assert.equal(body.reasoning_effort, undefined);
    assert.deepEqual(dropped, ["thinking"]);
  });
});

Deno.test("anthropicToChatRequest: past thinking blocks become thinking_blocks and reasoning_content for Claude, signatures kept", () => {
  const { body, dropped } = anthropicToChatRequest({
    messages: [
      { role: "user", content: "Hi" },
      {
        role: "assistant",
        content: [
          { type: "thinking", thinking: "Plan: ", signature: "sig-1" },
          { type: "redacted_thinking", data: "opaque" },
          { type: "thinking", thinking: "read a.", signature: "sig-2" },
          { type: "tool_use", id: "t1", name: "Read", input: { p: "a" } },
        ],
      },
    ],
  }, { model: "anthropic.claude-4-7-opus" });
  assert.deepEqual((body.messages as unknown[])[1], {
    role: "assistant",
    content: null,
    tool_calls: [{
      id: "t1",
      type: "function",
      function: { name: "Read", arguments: '{"p":"a"}' },
    }],
    reasoning_content: "Plan: read a.",
    thinking_blocks: [
      { type: "thinking", thinking: "Plan: ", signature: "sig-1" },
      { type: "redacted_thinking", data: "opaque" },
      { type: "thinking", thinking: "read a.", signature: "sig-2" },
    ],
  });
  assert.deepEqual(dropped, []);
});
