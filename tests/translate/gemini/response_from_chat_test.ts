import assert from "node:assert/strict";
import { chatToGeminiResponse } from "../../../src/translate/gemini/response_from_chat.ts";
import { geminiErrorBody } from "../../../src/translate/gemini/error.ts";
import { GEMINI_ADAPTER } from "../../../src/translate/gemini/adapter.ts";
import { DATA_EVENTS, JSON_ARRAY } from "../../../src/translate/sse.ts";
import { translationFor } from "../../../src/translate/registry.ts";

Deno.test("chatToGeminiResponse: text, thoughts, usage with cache and reasoning", () => {
  const out = chatToGeminiResponse({
    id: "chatcmpl-9",
    object: "chat.completion",
    model: "gemini-2.5-pro",
    choices: [{
      index: 0,
      message: {
        role: "assistant",
        content: "Paris.",
        reasoning_content: "The capital…",
      },
      finish_reason: "stop",
    }],
    usage: {
      prompt_tokens: 100,
      completion_tokens: 30,
      total_tokens: 130,
      prompt_tokens_details: { cached_tokens: 40 },
      completion_tokens_details: { reasoning_tokens: 20 },
    },
  }, "gemini-2.5-pro");
  assert.deepEqual(out, {
    candidates: [{
      content: {
        role: "model",
        parts: [{ text: "The capital…", thought: true }, { text: "Paris." }],
      },
      finishReason: "STOP",
      index: 0,
    }],
    usageMetadata: {
      promptTokenCount: 100,
      candidatesTokenCount: 10,
      totalTokenCount: 130,
      cachedContentTokenCount: 40,
      thoughtsTokenCount: 20,
    },
    modelVersion: "gemini-2.5-pro",
    responseId: "chatcmpl-9",
  });
});

Deno.test("chatToGeminiResponse: tool calls become functionCall parts with parsed args and Chat's id", () => {
  const out = chatToGeminiResponse({
    id: "c",
    model: "gpt-4o",
    choices: [{
      message: {
        role: "assistant",
        content: null,
        tool_calls: [
          {
            id: "call_a",
            type: "function",
            function: { name: "ls", arguments: '{"dir":"."}' },
          },
          {
            id: "call_b",
            type: "function",
            function: { name: "now", arguments: "" },
          },
        ],
      },
      finish_reason: "tool_calls",
    }],
    usage: { prompt_tokens: 5, completion_tokens: 7 },
  }, "gpt-4o");
  const candidate = (out.candidates as Record<string, unknown>[])[0];
  assert.deepEqual(candidate.content, {
    role: "model",
    parts: [
      { functionCall: { name: "ls", args: { dir: "." }, id: "call_a" } },
      { functionCall: { name: "now", args: {}, id: "call_b" } },
    ],
  });
  assert.equal(candidate.finishReason, "STOP");
  assert.deepEqual(out.usageMetadata, {
    promptTokenCount: 5,
    candidatesTokenCount: 7,
    totalTokenCount: 12,
  });
});

Deno.test("chatToGeminiResponse: finish reasons", () => {
  const reason = (finish: unknown) =>
    (chatToGeminiResponse(
      { choices: [{ message: {}, finish_reason: finish }] },
      "m",
    )
      .candidates as Record<string, unknown>[])[0].finishReason;
  assert.equal(reason("stop"), "STOP");
  assert.equal(reason("length"), "MAX_TOKENS");
  assert.equal(reason("content_filter"), "SAFETY");
  assert.equal(reason("tool_calls"), "STOP");
  assert.equal(reason("something_new"), "OTHER");
});

Deno.test("geminiErrorBody: Google's status for the HTTP status, an upstream's own kept", () => {
  assert.deepEqual(geminiErrorBody({ status: 400, message: "Bad" }), {
    error: { code: 400, message: "Bad", status: "INVALID_ARGUMENT" },
  });
  const statuses: [number, string][] = [
    [401, "UNAUTHENTICATED"],
    [403, "PERMISSION_DENIED"],
    [404, "NOT_FOUND"],
    [429, "RESOURCE_EXHAUSTED"],
    [500, "INTERNAL"],
    [502, "UNAVAILABLE"],
    [503, "UNAVAILABLE"],
    [504, "DEADLINE_EXCEEDED"],
    [422, "INVALID_ARGUMENT"],
  ];
  for (const [status, name] of statuses) {
    assert.equal(
      (geminiErrorBody({ status, message: "m" }).error as { status: string })
        .status,
      name,
    );
  }
  assert.deepEqual(
    geminiErrorBody({ status: 400, message: "m", type: "FAILED_PRECONDITION" }),
    { error: { code: 400, message: "m", status: "FAILED_PRECONDITION" } },
  );
  assert.equal(
    (geminiErrorBody({
      status: 400,
      message: "m",
      type: "invalid_request_error",
    })
      .error as { status: string }).status,
    "INVALID_ARGUMENT",
  );
});

Deno.test("Gemini's framing is DATA_EVENTS with alt=sse, a JSON array without", () => {
  assert.equal(
    GEMINI_ADAPTER.framing({ model: "m", stream: true, sse: true }),
    DATA_EVENTS,
  );
  assert.equal(
    GEMINI_ADAPTER.framing({ model: "m", stream: true, sse: false }),
    JSON_ARRAY,
  );
  assert.equal(
    GEMINI_ADAPTER.framing({ model: "m", stream: true }),
    JSON_ARRAY,
  );
});

Deno.test("translationFor: Gemini clients reach Chat models; Gemini is never Flow's side", () => {
  const t = translationFor("gemini", "chat");
  assert.equal(t?.name, "gemini->chat");
  assert.equal(t?.title, "Gemini generateContent to Chat Completions");
  assert.equal(translationFor("chat", "gemini"), null);
  assert.equal(translationFor("messages", "gemini"), null);
  assert.deepEqual(
    t?.error(
      429,
      '{"error":{"message":"Slow down","type":"rate_limit_error"}}',
    ),
    {
      error: { code: 429, message: "Slow down", status: "RESOURCE_EXHAUSTED" },
    },
  );
});
