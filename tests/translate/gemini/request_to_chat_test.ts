import assert from "node:assert/strict";
import { geminiToChatRequest } from "../../../src/translate/gemini/request_to_chat.ts";
import type { Json } from "../../../src/translate/types.ts";

const CONTEXT = { model: "gemini-2.5-pro", stream: false };

function translate(body: Json, context = CONTEXT) {
  return geminiToChatRequest(body, context);
}

Deno.test("geminiToChatRequest: system, text turns, sampling, limits and stop", () => {
  const out = translate({
    systemInstruction: { parts: [{ text: "Be brief." }, { text: "Be kind." }] },
    contents: [
      { role: "user", parts: [{ text: "Hi" }] },
      { role: "model", parts: [{ text: "Hello" }, { text: "!" }] },
      { role: "user", parts: [{ text: "Bye" }] },
    ],
    generationConfig: {
      temperature: 0.2,
      topP: 0.9,
      topK: 40,
      maxOutputTokens: 256,
      stopSequences: ["END"],
      seed: 7,
    },
    safetySettings: [{ category: "HARM_CATEGORY_HARASSMENT" }],
    cachedContent: "cachedContents/abc",
  });
  assert.equal(out.refused, undefined);
  assert.deepEqual(out.body, {
    model: "gemini-2.5-pro",
    messages: [
      { role: "system", content: "Be brief.\n\nBe kind." },
      { role: "user", content: "Hi" },
      { role: "assistant", content: "Hello!" },
      { role: "user", content: "Bye" },
    ],
    temperature: 0.2,
    top_p: 0.9,
    max_tokens: 256,
    stop: ["END"],
    seed: 7,
  });
  assert.deepEqual(out.dropped.sort(), [
    "cachedContent",
    "generationConfig.topK",
    "safetySettings",
  ]);
});

Deno.test("geminiToChatRequest: the stream flag comes from the context, with usage asked for", () => {
  const out = translate({
    contents: [{ role: "user", parts: [{ text: "x" }] }],
  }, {
    model: "gpt-4o",
    stream: true,
  });
  assert.equal(out.body.stream, true);
  assert.deepEqual(out.body.stream_options, { include_usage: true });
  assert.equal(translate({ contents: [] }).body.stream, undefined);
});

Deno.test("geminiToChatRequest: OpenAI reasoning models get max_completion_tokens", () => {
  const out = translate({
    contents: [],
    generationConfig: { maxOutputTokens: 100 },
  }, { model: "gpt-5", stream: false });
  assert.equal(out.body.max_completion_tokens, 100);
  assert.equal(out.body.max_tokens, undefined);
});

Deno.test("geminiToChatRequest: images inline and by URI; other files dropped", () => {
  const out = translate({
    contents: [{
      role: "user",
      parts: [
        { text: "What is this?" },
        { inlineData: { mimeType: "image/png", data: "iVBORw0KGgo=" } },
        {
          fileData: {
            mimeType: "image/jpeg",
            fileUri: "https://example.com/cat.jpg",
          },
        },
        {
          fileData: { mimeType: "application/pdf", fileUri: "gs://b/doc.pdf" },
        },
        { inlineData: { mimeType: "audio/wav", data: "UklGRg==" } },
      ],
    }],
  });
  assert.deepEqual(out.body.messages, [{
    role: "user",
    content: [
      { type: "text", text: "What is this?" },
      {
        type: "image_url",
        image_url: { url: "data:image/png;base64,iVBORw0KGgo=" },
      },
      { type: "image_url", image_url: { url: "https://example.com/cat.jpg" } },
    ],
  }]);
  assert.deepEqual(out.dropped.sort(), [
    "fileData application/pdf",
    "inlineData audio/wav",
  ]);
});

Deno.test("geminiToChatRequest: function calls get stable ids, matched by name and order", () => {
  const out = translate({
    contents: [
      { role: "user", parts: [{ text: "List and read" }] },
      {
        role: "model",
        parts: [
          { text: "Sure." },
          { functionCall: { name: "ls", args: { dir: "." } } },
          { functionCall: { name: "read", args: { path: "a" } } },
          { functionCall: { name: "ls", args: { dir: "b" } } },
        ],
      },
      {
        role: "user",
        parts: [
          { functionResponse: { name: "read", response: { output: "A" } } },
          { functionResponse: { name: "ls", response: { output: "x y" } } },
          { functionResponse: { name: "ls", response: { output: "z" } } },
        ],
      },
      {
        role: "model",
        parts: [{ functionCall: { id: "own-1", name: "ls", args: {} } }],
      },
      {
        role: "user",
        parts: [{
          functionResponse: {
            id: "own-1",
            name: "ls",
            response: { error: "no" },
          },
        }],
      },
    ],
  });
  assert.deepEqual(out.body.messages, [
    { role: "user", content: "List and read" },
    {
      role: "assistant",
      content: "Sure.",
      tool_calls: [
        {
          id: "call_1",
          type: "function",
          function: { name: "ls", arguments: '{"dir":"."}' },
        },
        {
          id: "call_2",
          type: "function",
          function: { name: "read", arguments: '{"path":"a"}' },
        },
        {
          id: "call_3",
          type: "function",
          function: { name: "ls", arguments: '{"dir":"b"}' },
        },
      ],
    },
    { role: "tool", tool_call_id: "call_2", content: '{"output":"A"}' },
    { role: "tool", tool_call_id: "call_1", content: '{"output":"x y"}' },
    { role: "tool", tool_call_id: "call_3", content: '{"output":"z"}' },
    {
      role: "assistant",
      content: null,
      tool_calls: [{
        id: "own-1",
        type: "function",
        function: { name: "ls", arguments: "{}" },
      }],
    },
    { role: "tool", tool_call_id: "own-1", content: '{"error":"no"}' },
  ]);
});

Deno.test("geminiToChatRequest: thought parts become reasoning_content; signatures dropped", () => {
  const out = translate({
    contents: [
      { role: "user", parts: [{ text: "Think" }] },
      {
        role: "model",
        parts: [
          { text: "Pondering…", thought: true },
          { text: "Done.", thoughtSignature: "c2ln" },
        ],
      },
    ],
  });
  assert.deepEqual(out.body.messages, [
    { role: "user", content: "Think" },
    { role: "assistant", content: "Done.", reasoning_content: "Pondering…" },
  ]);
  assert.deepEqual(out.dropped, ["thoughtSignature"]);
});

Deno.test("geminiToChatRequest: function declarations with OpenAPI and JSON schemas; server tools dropped", () => {
  const out = translate({
    contents: [],
    tools: [
      {
        functionDeclarations: [
          {
            name: "run_shell_command",
            description: "Runs a command",
            parameters: {
              type: "OBJECT",
              properties: {
                command: { type: "STRING", description: "The command" },
                timeout: { type: "INTEGER", nullable: true },
                mode: { type: "STRING", format: "enum", enum: ["a", "b"] },
                env: { type: "OBJECT" },
                args: { type: "ARRAY", items: { type: "STRING" } },
              },
              required: ["command"],
              propertyOrdering: ["command", "timeout"],
            },
          },
          {
            name: "read_file",
            parametersJsonSchema: {
              type: "object",
              properties: { opts: { type: "object" } },
            },
          },
          { name: "now" },
        ],
      },
      { googleSearch: {} },
      { codeExecution: {} },
    ],
  });
  assert.deepEqual(out.body.tools, [
    {
      type: "function",
      function: {
        name: "run_shell_command",
        parameters: {
          type: "object",
          properties: {
            command: { type: "string", description: "The command" },
            timeout: { type: "integer" },
            mode: { type: "string", enum: ["a", "b"] },
            env: { type: "object", properties: {} },
            args: { type: "array", items: { type: "string" } },
          },
          required: ["command"],
        },
        description: "Runs a command",
      },
    },
    {
      type: "function",
      function: {
        name: "read_file",
        parameters: {
          type: "object",
          properties: { opts: { type: "object", properties: {} } },
        },
      },
    },
    {
      type: "function",
      function: { name: "now", parameters: { type: "object", properties: {} } },
    },
  ]);
  assert.deepEqual(out.dropped.sort(), [
    "tool codeExecution",
    "tool googleSearch",
  ]);
});

Deno.test("geminiToChatRequest: functionCallingConfig modes as tool_choice", async (t) => {
  const tools = [{
    functionDeclarations: [{ name: "a" }, { name: "b" }, { name: "c" }],
  }];
  const choice = (config: Json) =>
    translate({
      contents: [],
      tools,
      toolConfig: { functionCallingConfig: config },
    })
      .body;
  await t.step(
    "AUTO",
    () => assert.equal(choice({ mode: "AUTO" }).tool_choice, "auto"),
  );
  await t.step(
    "NONE",
    () => assert.equal(choice({ mode: "NONE" }).tool_choice, "none"),
  );
  await t.step("ANY", () => {
    const body = choice({ mode: "ANY" });
    assert.equal(body.tool_choice, "required");
    assert.equal((body.tools as Json[]).length, 3);
  });
  await t.step("ANY with one allowed name", () => {
    assert.deepEqual(
      choice({ mode: "ANY", allowedFunctionNames: ["b"] }).tool_choice,
      { type: "function", function: { name: "b" } },
    );
  });
  await t.step("ANY with two allowed names keeps those tools only", () => {
    const body = choice({ mode: "ANY", allowedFunctionNames: ["a", "c"] });
    assert.equal(body.tool_choice, "required");
    assert.deepEqual(
      (body.tools as Json[]).map((t) => (t.function as Json).name),
      ["a", "c"],
    );
  });
});

Deno.test("geminiToChatRequest: JSON output with and without a schema", async (t) => {
  const format = (config: Json) =>
    translate({ contents: [], generationConfig: config }).body.response_format;
  await t.step("responseSchema (OpenAPI)", () => {
    assert.deepEqual(
      format({
        responseMimeType: "application/json",
        responseSchema: {
          type: "OBJECT",
          properties: { n: { type: "NUMBER" } },
        },
      }),
      {
        type: "json_schema",
        json_schema: {
          name: "response",
          schema: { type: "object", properties: { n: { type: "number" } } },
        },
      },
    );
  });
  await t.step("responseJsonSchema", () => {
    assert.deepEqual(
      format({
        responseMimeType: "application/json",
        responseJsonSchema: { type: "object" },
      }),
      {
        type: "json_schema",
        json_schema: {
          name: "response",
          schema: { type: "object", properties: {} },
        },
      },
    );
  });
  await t.step("no schema", () => {
    assert.deepEqual(format({ responseMimeType: "application/json" }), {
      type: "json_object",
    });
  });
  await t.step("text/plain", () => {
    assert.equal(format({ responseMimeType: "text/plain" }), undefined);
  });
});

Deno.test("geminiToChatRequest: thinkingConfig as reasoning_effort for thinking models only", async (t) => {
  const effort = (thinkingConfig: Json, model = "gemini-2.5-pro") => {
    const out = translate({
      contents: [],
      generationConfig: { thinkingConfig },
    }, {
      model,
      stream: false,
    });
    return { effort: out.body.reasoning_effort, dropped: out.dropped };
  };
  await t.step("budgets", () => {
    assert.equal(effort({ thinkingBudget: 512 }).effort, "low");
    assert.equal(
      effort({ thinkingBudget: 8192, includeThoughts: true }).effort,
      "medium",
    );
    assert.equal(effort({ thinkingBudget: 30000 }).effort, "high");
    assert.equal(effort({ thinkingLevel: "HIGH" }).effort, "high");
  });
  await t.step("Claude and GPT-5 take it", () => {
    assert.equal(
      effort({ thinkingBudget: 512 }, "anthropic.claude-4-5-sonnet").effort,
      "low",
    );
    assert.equal(effort({ thinkingBudget: 512 }, "gpt-5").effort, "low");
  });
  await t.step("a model without thinking, or budget 0 / -1: dropped", () => {
    assert.deepEqual(effort({ thinkingBudget: 512 }, "gpt-4o"), {
      effort: undefined,
      dropped: ["thinkingConfig"],
    });
    assert.equal(effort({ thinkingBudget: 0 }).effort, undefined);
    assert.equal(effort({ thinkingBudget: -1 }).effort, undefined);
  });
});

Deno.test("geminiToChatRequest: refuses candidateCount above 1 and contents that are not an array", () => {
  const many = translate({
    contents: [],
    generationConfig: { candidateCount: 2 },
  });
  assert.match(
    many.refused ?? "",
    /generationConfig\.candidateCount 2 is not supported/,
  );
  assert.equal(
    translate({ contents: [], generationConfig: { candidateCount: 1 } })
      .refused,
    undefined,
  );
  assert.match(
    translate({ contents: "hi" }).refused ?? "",
    /"contents" must be an array/,
  );
});
