import assert from "node:assert/strict";
import {
  chatToAnthropicRequest,
  DEFAULT_MAX_TOKENS,
} from "../../../src/translate/anthropic/request_from_chat.ts";
import { OPENING_USER_TEXT } from "../../../src/translate/anthropic/messages_from_chat.ts";

const SONNET = {
  model: "anthropic.claude-4-5-sonnet",
  stream: false,
  outputLimit: 64_000,
};

Deno.test("chatToAnthropicRequest: a tool loop with images, parallel calls and results becomes a Messages body", () => {
  const { body, dropped } = chatToAnthropicRequest({
    model: "claude-sonnet-4-5",
    messages: [
      { role: "system", content: "You are terse." },
      { role: "developer", content: [{ type: "text", text: "Use tools." }] },
      {
        role: "user",
        content: [
          { type: "text", text: "What is here?" },
          {
            type: "image_url",
            image_url: { url: "data:image/png;base64,iVBORw0KGgo=" },
          },
          {
            type: "image_url",
            image_url: { url: "https://example.com/cat.jpg", detail: "low" },
          },
        ],
      },
      { role: "user", content: "And list the dir." },
      {
        role: "assistant",
        content: "Looking.",
        tool_calls: [
          {
            id: "toolu_1",
            type: "function",
            function: { name: "Bash", arguments: '{"command":"ls"}' },
          },
          {
            id: "toolu_2",
            type: "function",
            function: { name: "Read", arguments: '{"path":"a.txt"}' },
          },
        ],
      },
      { role: "tool", tool_call_id: "toolu_1", content: "a.txt\nb.txt" },
      {
        role: "tool",
        tool_call_id: "toolu_2",
        content: [{ type: "text", text: "hello" }],
      },
      { role: "user", content: "Thanks, sum up." },
    ],
    tools: [{
      type: "function",
      function: {
        name: "Bash",
        description: "Run a command",
        parameters: {
          type: "object",
          properties: { command: { type: "string" } },
          required: ["command"],
        },
      },
    }, {
      type: "function",
      function: { name: "Read" },
    }],
    tool_choice: "required",
    parallel_tool_calls: false,
    max_completion_tokens: 1000,
    temperature: 0.2,
    top_p: 0.9,
    stop: "END",
    stream: true,
    stream_options: { include_usage: true },
    user: "user-7",
  }, SONNET);
  assert.deepEqual(body, {
    model: "anthropic.claude-4-5-sonnet",
    system: "You are terse.\n\nUse tools.",
    messages: [
      {
        role: "user",
        content: [
          { type: "text", text: "What is here?" },
          {
            type: "image",
            source: {
              type: "base64",
              media_type: "image/png",
              data: "iVBORw0KGgo=",
            },
          },
          {
            type: "image",
            source: { type: "url", url: "https://example.com/cat.jpg" },
          },
          { type: "text", text: "And list the dir." },
        ],
      },
      {
        role: "assistant",
        content: [
          { type: "text", text: "Looking." },
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
            input: { path: "a.txt" },
          },
        ],
      },
      {
        role: "user",
        content: [
          {
            type: "tool_result",
            tool_use_id: "toolu_1",
            content: "a.txt\nb.txt",
          },
          { type: "tool_result", tool_use_id: "toolu_2", content: "hello" },
          { type: "text", text: "Thanks, sum up." },
        ],
      },
    ],
    max_tokens: 1000,
    temperature: 0.2,
    top_p: 0.9,
    stop_sequences: ["END"],
    stream: true,
    metadata: { user_id: "user-7" },
    tools: [
      {
        name: "Bash",
        input_schema: {
          type: "object",
          properties: { command: { type: "string" } },
          required: ["command"],
        },
        description: "Run a command",
      },
      { name: "Read", input_schema: { type: "object", properties: {} } },
    ],
    tool_choice: { type: "any", disable_parallel_tool_use: true },
  });
  assert.deepEqual(dropped, []);
});

Deno.test("chatToAnthropicRequest: max_tokens defaults to the model's output limit, else 4096, and never exceeds the limit", () => {
  const messages = [{ role: "user", content: "Hi" }];
  assert.equal(
    chatToAnthropicRequest({ messages }, SONNET).body.max_tokens,
    64_000,
  );
  assert.equal(
    chatToAnthropicRequest({ messages }, { model: "x", stream: false }).body
      .max_tokens,
    DEFAULT_MAX_TOKENS,
  );
  assert.equal(
    chatToAnthropicRequest({ messages, max_tokens: 200_000 }, SONNET).body
      .max_tokens,
    64_000,
  );
  assert.equal(
    chatToAnthropicRequest({ messages, max_tokens: 50 }, SONNET).body
      .max_tokens,
    50,
  );
});

Deno.test("chatToAnthropicRequest: tool_choice auto, none and a named function; stop as an array", async (t) => {
  const tools = [{ type: "function", function: { name: "f" } }];
  const messages = [{ role: "user", content: "Hi" }];
  for (
    const [choice, expected] of [
      ["auto", { type: "auto" }],
      ["none", { type: "none" }],
      [{ type: "function", function: { name: "f" } }, {
        type: "tool",
        name: "f",
      }],
    ] as const
  ) {
    await t.step(JSON.stringify(choice), () => {
      const { body } = chatToAnthropicRequest(
        { messages, tools, tool_choice: choice, stop: ["a", "b"] },
        SONNET,
      );
      assert.deepEqual(body.tool_choice, expected);
      assert.deepEqual(body.stop_sequences, ["a", "b"]);
    });
  }
  await t.step(
    "parallel_tool_calls false alone gives auto without parallel use",
    () => {
      const { body } = chatToAnthropicRequest(
        { messages, tools, parallel_tool_calls: false },
        SONNET,
      );
      assert.deepEqual(body.tool_choice, {
        type: "auto",
        disable_parallel_tool_use: true,
      });
    },
  );
});

Deno.test("chatToAnthropicRequest: reasoning_effort becomes an enabled thinking budget below max_tokens, without temperature", async (t) => {
  const messages = [{ role: "user", content: "Think." }];
  for (
    const [effort, budget] of [
      ["minimal", 1024],
      ["low", 1024],
      ["medium", 2048],
      ["high", 4096],
    ] as const
  ) {
    await t.step(effort, () => {
      const { body, dropped } = chatToAnthropicRequest(
        { messages, reasoning_effort: effort, temperature: 0.5 },
        SONNET,
      );
      assert.deepEqual(body.thinking, {
        type: "enabled",
        budget_tokens: budget,
      });
      assert.equal(body.temperature, undefined);
      assert.deepEqual(dropped, ["temperature (with thinking)"]);
    });
  }
  await t.step("the budget is lowered to fit max_tokens", () => {
    const { body } = chatToAnthropicRequest(
      { messages, reasoning_effort: "high", max_tokens: 3000 },
      SONNET,
    );
    assert.deepEqual(body.thinking, { type: "enabled", budget_tokens: 2999 });
  });
  await t.step("no room for the minimum budget: dropped", () => {
    const { body, dropped } = chatToAnthropicRequest(
      { messages, reasoning_effort: "low", max_tokens: 1024 },
      SONNET,
    );
    assert.equal(body.thinking, undefined);
    assert.deepEqual(dropped, ["reasoning_effort"]);
  });
  await t.step("a forced tool: dropped", () => {
    const { body, dropped } = chatToAnthropicRequest({
      messages,
      reasoning_effort: "low",
      tools: [{ type: "function", function: { name: "f" } }],
      tool_choice: "required",
    }, SONNET);
    assert.equal(body.thinking, undefined);
    assert.deepEqual(dropped, ["reasoning_effort"]);
  });
});

Deno.test("chatToAnthropicRequest: signed thinking blocks go back before the text; unsigned reasoning is dropped and said", () => {
  const { body, dropped } = chatToAnthropicRequest({
    messages: [
      { role: "user", content: "Hi" },
      {
        role: "assistant",
        content: "Done.",
        reasoning_content: "hmm",
        thinking_blocks: [
          { type: "thinking", thinking: "hmm", signature: "sig-1" },
          { type: "redacted_thinking", data: "opaque" },
          { type: "thinking", thinking: "lost" },
        ],
      },
      { role: "user", content: "More" },
      { role: "assistant", content: "Ok.", reasoning_content: "bare" },
      { role: "user", content: "Again" },
    ],
  }, SONNET);
  const turns = body.messages as { content: unknown }[];
  assert.deepEqual(turns[1].content, [
    { type: "thinking", thinking: "hmm", signature: "sig-1" },
    { type: "redacted_thinking", data: "opaque" },
    { type: "text", text: "Done." },
  ]);
  assert.deepEqual(turns[3].content, [{ type: "text", text: "Ok." }]);
  assert.deepEqual(dropped.sort(), [
    "reasoning_content without a signature",
    "thinking block without a signature",
  ]);
});

Deno.test("chatToAnthropicRequest: bad tool arguments become {} and are said; an assistant first turn gets a user turn before it", () => {
  const { body, dropped } = chatToAnthropicRequest({
    messages: [
      {
        role: "assistant",
        content: null,
        tool_calls: [{
          id: "t1",
          type: "function",
          function: { name: "f", arguments: "{not json" },
        }],
      },
      { role: "tool", tool_call_id: "t1", content: "ok" },
    ],
  }, SONNET);
  assert.deepEqual(body.messages, [
    { role: "user", content: [{ type: "text", text: OPENING_USER_TEXT }] },
    {
      role: "assistant",
      content: [{ type: "tool_use", id: "t1", name: "f", input: {} }],
    },
    {
      role: "user",
      content: [{ type: "tool_result", tool_use_id: "t1", content: "ok" }],
    },
  ]);
  assert.deepEqual(dropped, [
    "tool call arguments that are not a JSON object (sent as {})",
  ]);
});

Deno.test("chatToAnthropicRequest: n, logprobs, seed, penalties and response_format are dropped by name", () => {
  const { body, dropped } = chatToAnthropicRequest({
    messages: [{ role: "user", content: "Hi" }],
    n: 2,
    logprobs: true,
    top_logprobs: 2,
    seed: 7,
    presence_penalty: 0.1,
    frequency_penalty: 0.1,
    response_format: { type: "json_object" },
    something_new: 1,
  }, SONNET);
  assert.deepEqual(Object.keys(body).sort(), [
    "max_tokens",
    "messages",
    "model",
  ]);
  assert.deepEqual(dropped.sort(), [
    "frequency_penalty",
    "logprobs",
    "n",
    "presence_penalty",
    "response_format",
    "seed",
    "something_new",
    "top_logprobs",
  ]);
  assert.deepEqual(
    chatToAnthropicRequest({
      messages: [{ role: "user", content: "Hi" }],
      n: 1,
      logprobs: false,
    }, SONNET).dropped,
    [],
  );
});

Deno.test("chatToAnthropicRequest: a tool result after a user message still leads its user turn", () => {
  const { body } = chatToAnthropicRequest({
    messages: [
      { role: "user", content: "Go" },
      {
        role: "assistant",
        content: null,
        tool_calls: [{
          id: "t1",
          type: "function",
          function: { name: "f", arguments: "{}" },
        }],
      },
      { role: "user", content: "(hook note)" },
      { role: "tool", tool_call_id: "t1", content: "done" },
    ],
  }, SONNET);
  assert.deepEqual((body.messages as { content: unknown }[])[2].content, [
    { type: "tool_result", tool_use_id: "t1", content: "done" },
    { type: "text", text: "(hook note)" },
  ]);
});

Deno.test("chatToAnthropicRequest: reasoning_effort follows the thinking types the catalogue gives the model", async (t) => {
  const messages = [{ role: "user", content: "Think." }];
  await t.step("none (Opus 4.7 on Flow): dropped and said", () => {
    const { body, dropped } = chatToAnthropicRequest(
      { messages, reasoning_effort: "high" },
      { ...SONNET, thinking: [] },
    );
    assert.equal(body.thinking, undefined);
    assert.deepEqual(dropped, [
      "reasoning_effort (the model takes no thinking)",
    ]);
  });
  await t.step("adaptive only: adaptive thinking, no temperature", () => {
    const { body, dropped } = chatToAnthropicRequest(
      { messages, reasoning_effort: "high", temperature: 1 },
      { ...SONNET, thinking: ["adaptive"] },
    );
    assert.deepEqual(body.thinking, { type: "adaptive" });
    assert.deepEqual(dropped, ["temperature (with thinking)"]);
  });
  await t.step("enabled: a budget", () => {
    const { body } = chatToAnthropicRequest(
      { messages, reasoning_effort: "medium" },
      { ...SONNET, thinking: ["enabled"] },
    );
    assert.deepEqual(body.thinking, { type: "enabled", budget_tokens: 2048 });
  });
});
