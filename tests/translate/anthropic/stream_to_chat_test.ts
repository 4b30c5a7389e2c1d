import assert from "node:assert/strict";
import { ChatFromAnthropicStream } from "../../../src/translate/anthropic/stream_to_chat.ts";
import { StreamPipe } from "../../../src/translate/stream_pipe.ts";
import { DATA_EVENTS } from "../../../src/translate/sse.ts";

/** The translation as the proxy runs it: Anthropic bytes in, Chat chunk bytes out. */
function pipe(): StreamPipe {
  return new StreamPipe(
    new ChatFromAnthropicStream({ model: "anthropic.claude-4-5-sonnet" }),
    DATA_EVENTS,
  );
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Anthropic events as the Messages API streams them. */
function sse(events: Record<string, unknown>[]): string {
  return events.map((e) => `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`)
    .join("");
}

const START = {
  type: "message_start",
  message: {
    id: "msg_01abc",
    type: "message",
    role: "assistant",
    model: "anthropic.claude-4-5-sonnet",
    content: [],
    stop_reason: null,
    stop_sequence: null,
    usage: {
      input_tokens: 25,
      cache_creation_input_tokens: 100,
      cache_read_input_tokens: 2000,
      output_tokens: 1,
    },
  },
};

const block = (index: number, content_block: unknown) => ({
  type: "content_block_start",
  index,
  content_block,
});
const delta = (index: number, d: unknown) => ({
  type: "content_block_delta",
  index,
  delta: d,
});
const stop = (index: number) => ({ type: "content_block_stop", index });

/** A thinking turn with text and two parallel tool calls, argument pieces split. */
const TOOL_STREAM = sse([
  START,
  { type: "ping" },
  block(0, { type: "thinking", thinking: "", signature: "" }),
  delta(0, { type: "thinking_delta", thinking: "Two files" }),
  delta(0, { type: "thinking_delta", thinking: " to read." }),
  delta(0, { type: "signature_delta", signature: "EqQBsig" }),
  stop(0),
  block(1, { type: "text", text: "" }),
  delta(1, { type: "text_delta", text: "Reading — " }),
  delta(1, { type: "text_delta", text: "both." }),
  stop(1),
  block(2, { type: "tool_use", id: "toolu_A", name: "Read", input: {} }),
  delta(2, { type: "input_json_delta", partial_json: "" }),
  delta(2, { type: "input_json_delta", partial_json: '{"pa' }),
  delta(2, { type: "input_json_delta", partial_json: 'th":"a.txt"}' }),
  stop(2),
  block(3, { type: "tool_use", id: "toolu_B", name: "Read", input: {} }),
  delta(3, { type: "input_json_delta", partial_json: '{"path":"b.txt"}' }),
  stop(3),
  {
    type: "message_delta",
    delta: { stop_reason: "tool_use", stop_sequence: null },
    usage: { output_tokens: 42 },
  },
  { type: "message_stop" },
]);

const chunk = (d: unknown, finish: string | null = null) => ({
  id: "chatcmpl-01abc",
  object: "chat.completion.chunk",
  model: "anthropic.claude-4-5-sonnet",
  choices: [{ index: 0, delta: d, finish_reason: finish }],
});

const EXPECTED: unknown[] = [
  chunk({ role: "assistant", content: "" }),
  chunk({ reasoning_content: "Two files" }),
  chunk({ reasoning_content: " to read." }),
  chunk({
    thinking_blocks: [{ type: "thinking", thinking: "", signature: "EqQBsig" }],
  }),
  chunk({ content: "Reading — " }),
  chunk({ content: "both." }),
  chunk({
    tool_calls: [{
      index: 0,
      id: "toolu_A",
      type: "function",
      function: { name: "Read", arguments: "" },
    }],
  }),
  chunk({ tool_calls: [{ index: 0, function: { arguments: '{"pa' } }] }),
  chunk({
    tool_calls: [{ index: 0, function: { arguments: 'th":"a.txt"}' } }],
  }),
  chunk({
    tool_calls: [{
      index: 1,
      id: "toolu_B",
      type: "function",
      function: { name: "Read", arguments: "" },
    }],
  }),
  chunk({
    tool_calls: [{ index: 1, function: { arguments: '{"path":"b.txt"}' } }],
  }),
  chunk({}, "tool_calls"),
  {
    id: "chatcmpl-01abc",
    object: "chat.completion.chunk",
    model: "anthropic.claude-4-5-sonnet",
    choices: [],
    usage: {
      prompt_tokens: 2125,
      completion_tokens: 42,
      total_tokens: 2167,
      prompt_tokens_details: { cached_tokens: 2000 },
      cache_creation_input_tokens: 100,
    },
  },
  "[DONE]",
];

/** The chunks written, `created` left out (it is the clock's). */
function chunks(text: string): unknown[] {
  return text.split("\n\n").filter((e) => e !== "").map((e) => {
    assert.ok(e.startsWith("data: "), e);
    const data = e.slice(6);
    if (data === "[DONE]") return data;
    const parsed = JSON.parse(data);
    if (parsed.created !== undefined) {
      assert.equal(typeof parsed.created, "number");
      delete parsed.created;
    }
    return parsed;
  });
}

function run(text: string, cut?: number): string {
  const bytes = encoder.encode(text);
  const p = pipe();
  let out = "";
  if (cut === undefined) out += decoder.decode(p.push(bytes));
  else {
    out += decoder.decode(p.push(bytes.subarray(0, cut)));
    out += decoder.decode(p.push(bytes.subarray(cut)));
  }
  return out + decoder.decode(p.end());
}

Deno.test("ChatFromAnthropicStream: thinking, text and parallel tool calls become Chat chunks, usage with cache reads and writes", () => {
  assert.deepEqual(chunks(run(TOOL_STREAM)), EXPECTED);
});

Deno.test("ChatFromAnthropicStream: the stream split at every byte offset gives the same chunks", () => {
  const bytes = encoder.encode(TOOL_STREAM).length;
  for (let cut = 0; cut <= bytes; cut++) {
    assert.deepEqual(chunks(run(TOOL_STREAM, cut)), EXPECTED, `cut ${cut}`);
  }
});

Deno.test("ChatFromAnthropicStream: each event gives its chunk at once", () => {
  const t = new ChatFromAnthropicStream({ model: "m" });
  assert.equal(t.push({ event: "message_start", data: START }).length, 1);
  assert.equal(t.push({ event: "ping", data: { type: "ping" } }).length, 0);
  assert.equal(
    t.push({
      event: "content_block_delta",
      data: delta(0, { type: "text_delta", text: "x" }),
    }).length,
    1,
  );
});

Deno.test("ChatFromAnthropicStream: a redacted thinking block is a thinking_blocks delta", () => {
  const out = chunks(run(sse([
    START,
    block(0, { type: "redacted_thinking", data: "opaque" }),
    stop(0),
  ])));
  assert.deepEqual(
    out[1],
    chunk({
      thinking_blocks: [{ type: "redacted_thinking", data: "opaque" }],
    }),
  );
});

Deno.test("ChatFromAnthropicStream: an error event ends the stream with an OpenAI error chunk and nothing after", () => {
  const out = chunks(run(sse([
    START,
    delta(0, { type: "text_delta", text: "Hi" }),
    {
      type: "error",
      error: { type: "overloaded_error", message: "Overloaded" },
    },
    { type: "message_stop" },
  ])));
  assert.deepEqual(out.at(-1), {
    error: {
      message: "Overloaded",
      type: "overloaded_error",
      param: null,
      code: null,
    },
  });
  assert.equal(out.length, 3);
});

Deno.test("ChatFromAnthropicStream: a stream cut before message_stop ends with an error chunk, never [DONE]", async (t) => {
  for (
    const [label, events] of [
      ["mid-text", [START, delta(0, { type: "text_delta", text: "Hi" })]],
      ["after message_delta", [START, {
        type: "message_delta",
        delta: { stop_reason: "end_turn" },
        usage: { output_tokens: 1 },
      }]],
    ] as const
  ) {
    await t.step(label, () => {
      const out = chunks(run(sse([...events])));
      assert.ok(!out.includes("[DONE]"));
      assert.deepEqual(out.at(-1), {
        error: {
          message: "The upstream's stream ended before the answer did",
          type: "server_error",
          param: null,
          code: null,
        },
      });
    });
  }
});

Deno.test("ChatFromAnthropicStream: a failed read gives the error chunk of its status", () => {
  const p = pipe();
  p.push(encoder.encode(sse([START])));
  const out = chunks(decoder.decode(
    p.fail({ status: 504, message: "Upstream idle for too long" }),
  ));
  assert.deepEqual(out, [{
    error: {
      message: "Upstream idle for too long",
      type: "server_error",
      param: null,
      code: null,
    },
  }]);
  assert.ok(p.ended);
});
