import assert from "node:assert/strict";
import { GeminiFromChatStream } from "../../../src/translate/gemini/stream_from_chat.ts";
import { StreamPipe } from "../../../src/translate/stream_pipe.ts";
import { DATA_EVENTS, JSON_ARRAY } from "../../../src/translate/sse.ts";
import type { StreamFraming } from "../../../src/translate/types.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function pipe(framing: StreamFraming = DATA_EVENTS): StreamPipe {
  return new StreamPipe(new GeminiFromChatStream({ model: "gpt-4o" }), framing);
}

/** Chat chunks as OpenAI streams them. */
function sse(chunks: unknown[], done = true): string {
  return chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`).join("") +
    (done ? "data: [DONE]\n\n" : "");
}

const base = {
  id: "chatcmpl-7",
  object: "chat.completion.chunk",
  model: "gpt-4o",
};

function delta(d: unknown, finish: string | null = null) {
  return { ...base, choices: [{ index: 0, delta: d, finish_reason: finish }] };
}

const USAGE = {
  ...base,
  choices: [],
  usage: {
    prompt_tokens: 50,
    completion_tokens: 12,
    total_tokens: 62,
    completion_tokens_details: { reasoning_tokens: 4 },
  },
};

const TOOL_STREAM = sse([
  delta({ role: "assistant", content: "" }),
  delta({ reasoning_content: "Need ls." }),
  delta({ content: "Listing " }),
  delta({ content: "now." }),
  delta({
    tool_calls: [{
      index: 0,
      id: "call_a",
      type: "function",
      function: { name: "run_shell_command", arguments: "" },
    }],
  }),
  delta({ tool_calls: [{ index: 0, function: { arguments: '{"command"' } }] }),
  delta({ tool_calls: [{ index: 0, function: { arguments: ':"ls"}' } }] }),
  delta({
    tool_calls: [{
      index: 1,
      id: "call_b",
      type: "function",
      function: { name: "read_file", arguments: '{"path":"a"}' },
    }],
  }),
  delta({}, "tool_calls"),
  USAGE,
]);

const chunk = (parts: unknown[]) => ({
  candidates: [{ content: { role: "model", parts }, index: 0 }],
  modelVersion: "gpt-4o",
  responseId: "chatcmpl-7",
});

const EXPECTED = [
  chunk([{ text: "Need ls.", thought: true }]),
  chunk([{ text: "Listing " }]),
  chunk([{ text: "now." }]),
  chunk([{
    functionCall: {
      name: "run_shell_command",
      args: { command: "ls" },
      id: "call_a",
    },
  }]),
  chunk([{
    functionCall: { name: "read_file", args: { path: "a" }, id: "call_b" },
  }]),
  {
    candidates: [{
      content: { role: "model", parts: [] },
      index: 0,
      finishReason: "STOP",
    }],
    modelVersion: "gpt-4o",
    responseId: "chatcmpl-7",
    usageMetadata: {
      promptTokenCount: 50,
      candidatesTokenCount: 8,
      totalTokenCount: 62,
      thoughtsTokenCount: 4,
    },
  },
];

/** Runs `input` through a pipe, cut at `at` (or whole), and gives the output text. */
function run(input: string, at: number | null, framing = DATA_EVENTS): string {
  const p = pipe(framing);
  const bytes = encoder.encode(input);
  let out = "";
  if (at === null) out += decoder.decode(p.push(bytes));
  else {
    out += decoder.decode(p.push(bytes.subarray(0, at)));
    out += decoder.decode(p.push(bytes.subarray(at)));
  }
  return out + decoder.decode(p.end());
}

function events(text: string): unknown[] {
  return text.split("\n\n").filter((e) => e !== "").map((e) => {
    assert.ok(e.startsWith("data: "), e);
    return JSON.parse(e.slice(6));
  });
}

Deno.test("GeminiFromChatStream: text, thoughts, a tool call once whole, usage last (alt=sse)", () => {
  assert.deepEqual(events(run(TOOL_STREAM, null)), EXPECTED);
});

Deno.test("GeminiFromChatStream: the same output wherever the bytes are split", () => {
  const whole = run(TOOL_STREAM, null);
  const length = encoder.encode(TOOL_STREAM).length;
  for (let at = 0; at <= length; at++) {
    assert.equal(run(TOOL_STREAM, at), whole, `split at ${at}`);
  }
});

Deno.test("GeminiFromChatStream: without alt=sse the stream is one JSON array, split anywhere", () => {
  const whole = run(TOOL_STREAM, null, JSON_ARRAY);
  assert.deepEqual(JSON.parse(whole), EXPECTED);
  assert.ok(whole.startsWith("[{"));
  const length = encoder.encode(TOOL_STREAM).length;
  for (let at = 0; at <= length; at += 7) {
    assert.equal(run(TOOL_STREAM, at, JSON_ARRAY), whole, `split at ${at}`);
  }
});

Deno.test("GeminiFromChatStream: a text delta goes out as soon as it arrives", () => {
  const p = pipe();
  const first = decoder.decode(
    p.push(encoder.encode(sse([delta({ content: "Hi" })], false))),
  );
  assert.deepEqual(events(first), [chunk([{ text: "Hi" }])]);
  // A tool call's pieces wait for the call to be complete.
  const held = p.push(encoder.encode(sse([
    delta({
      tool_calls: [{
        index: 0,
        id: "c",
        function: { name: "f", arguments: '{"a":' },
      }],
    }),
  ], false)));
  assert.equal(held.byteLength, 0);
});

Deno.test("GeminiFromChatStream: [DONE] without a usage chunk still ends with the finish reason", () => {
  const out = events(
    run(sse([delta({ content: "Hi" }), delta({}, "length")]), null),
  );
  assert.equal(out.length, 2);
  const last = out[1] as {
    candidates: { finishReason: string }[];
    usageMetadata: unknown;
  };
  assert.equal(last.candidates[0].finishReason, "MAX_TOKENS");
  assert.deepEqual(last.usageMetadata, {
    promptTokenCount: 0,
    candidatesTokenCount: 0,
    totalTokenCount: 0,
  });
});

Deno.test("GeminiFromChatStream: a cut stream ends with a Gemini error object", () => {
  const out = events(run(sse([delta({ content: "Hi" })], false), null));
  assert.deepEqual(out.at(-1), {
    error: {
      code: 502,
      message: "The upstream's stream ended before the answer did",
      status: "UNAVAILABLE",
    },
  });
  const array = JSON.parse(
    run(sse([delta({ content: "Hi" })], false), null, JSON_ARRAY),
  );
  assert.equal(array.length, 2);
  assert.equal(array[1].error.code, 502);
});

Deno.test("GeminiFromChatStream: an upstream error chunk and a mid-stream failure end as Gemini errors", () => {
  const out = events(run(
    sse([delta({ content: "Hi" }), {
      error: { message: "Overloaded", type: "server_error" },
    }], false),
    null,
  ));
  assert.deepEqual(out.at(-1), {
    error: { code: 500, message: "Overloaded", status: "INTERNAL" },
  });
  const p = pipe();
  p.push(encoder.encode(sse([delta({ content: "Hi" })], false)));
  const failed = events(
    decoder.decode(
      p.fail({ status: 504, message: "The upstream sent nothing for 1000 ms" }),
    ),
  );
  assert.deepEqual(failed, [{
    error: {
      code: 504,
      message: "The upstream sent nothing for 1000 ms",
      status: "DEADLINE_EXCEEDED",
    },
  }]);
  assert.ok(p.ended);
});
