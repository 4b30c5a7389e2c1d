import assert from "node:assert/strict";
import { AnthropicFromChatStream } from "../../../src/translate/anthropic/stream_from_chat.ts";
import { StreamPipe } from "../../../src/translate/stream_pipe.ts";
import { NAMED_EVENTS } from "../../../src/translate/sse.ts";

/** The translation as the proxy runs it: bytes in, Anthropic event bytes out. */
function pipe(): StreamPipe {
  return new StreamPipe(
    new AnthropicFromChatStream({ model: "gpt-5" }),
    NAMED_EVENTS,
  );
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Chat chunks as OpenAI streams them (one `data:` line each). */
function sse(chunks: unknown[], done = true): string {
  return chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`).join("") +
    (done ? "data: [DONE]\n\n" : "");
}

const base = {
  id: "chatcmpl-xyz",
  object: "chat.completion.chunk",
  created: 1,
  model: "gpt-5",
};

const TOOL_STREAM = sse([
  {
    ...base,
    choices: [{ index: 0, delta: { role: "assistant", content: "" } }],
  },
  { ...base, choices: [{ index: 0, delta: { content: "Sure — " } }] },
  { ...base, choices: [{ index: 0, delta: { content: "listing." } }] },
  {
    ...base,
    choices: [{
      index: 0,
      delta: {
        tool_calls: [{
          index: 0,
          id: "call_a",
          type: "function",
          function: { name: "Bash", arguments: "" },
        }],
      },
    }],
  },
  {
    ...base,
    choices: [{
      index: 0,
      delta: { tool_calls: [{ index: 0, function: { arguments: '{"comm' } }] },
    }],
  },
  {
    ...base,
    choices: [{
      index: 0,
      delta: {
        tool_calls: [{ index: 0, function: { arguments: 'and":"ls"}' } }],
      },
    }],
  },
  {
    ...base,
    choices: [{
      index: 0,
      delta: {
        tool_calls: [{
          index: 1,
          id: "call_b",
          type: "function",
          function: { name: "Read", arguments: '{"path":"a"}' },
        }],
      },
    }],
  },
  { ...base, choices: [{ index: 0, delta: {}, finish_reason: "tool_calls" }] },
  {
    ...base,
    choices: [],
    usage: { prompt_tokens: 12, completion_tokens: 7, total_tokens: 19 },
  },
]);

/** The Anthropic events as [name, data] pairs. */
function events(text: string): [string, unknown][] {
  return text.split("\n\n").filter((e) => e !== "").map((e) => {
    const [name, data] = e.split("\n");
    return [name.slice(7), JSON.parse(data.slice(6))];
  });
}

const EXPECTED: [string, unknown][] = [
  ["message_start", {
    type: "message_start",
    message: {
      id: "msg_xyz",
      type: "message",
      role: "assistant",
      model: "gpt-5",
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: 0, output_tokens: 0 },
    },
  }],
  ["content_block_start", {
    type: "content_block_start",
    index: 0,
    content_block: { type: "text", text: "" },
  }],
  ["content_block_delta", {
    type: "content_block_delta",
    index: 0,
    delta: { type: "text_delta", text: "Sure — " },
  }],
  ["content_block_delta", {
    type: "content_block_delta",
    index: 0,
    delta: { type: "text_delta", text: "listing." },
  }],
  ["content_block_stop", { type: "content_block_stop", index: 0 }],
  ["content_block_start", {
    type: "content_block_start",
    index: 1,
    content_block: { type: "tool_use", id: "call_a", name: "Bash", input: {} },
  }],
  ["content_block_delta", {
    type: "content_block_delta",
    index: 1,
    delta: { type: "input_json_delta", partial_json: '{"comm' },
  }],
  ["content_block_delta", {
    type: "content_block_delta",
    index: 1,
    delta: { type: "input_json_delta", partial_json: 'and":"ls"}' },
  }],
  ["content_block_stop", { type: "content_block_stop", index: 1 }],
  ["content_block_start", {
    type: "content_block_start",
    index: 2,
    content_block: { type: "tool_use", id: "call_b", name: "Read", input: {} },
  }],
  ["content_block_delta", {
    type: "content_block_delta",
    index: 2,
    delta: { type: "input_json_delta", partial_json: '{"path":"a"}' },
  }],
  ["content_block_stop", { type: "content_block_stop", index: 2 }],
  ["message_delta", {
    type: "message_delta",
    delta: { stop_reason: "tool_use", stop_sequence: null },
    usage: {
      input_tokens: 12,
      output_tokens: 7,
      cache_read_input_tokens: 0,
      cache_creation_input_tokens: 0,
    },
  }],
  ["message_stop", { type: "message_stop" }],
];

Deno.test("AnthropicFromChatStream: a text then two tool calls stream, whole", () => {
  const t = pipe();
  const out = decoder.decode(t.push(encoder.encode(TOOL_STREAM))) +
    decoder.decode(t.end());
  assert.deepEqual(events(out), EXPECTED);
  assert.equal(t.ended, true);
});

Deno.test("AnthropicFromChatStream: the same stream split at every byte offset gives the same events", () => {
  const bytes = encoder.encode(TOOL_STREAM);
  for (let cut = 0; cut <= bytes.length; cut++) {
    const t = pipe();
    const out = decoder.decode(t.push(bytes.subarray(0, cut))) +
      decoder.decode(t.push(bytes.subarray(cut))) + decoder.decode(t.end());
    assert.deepEqual(events(out), EXPECTED, `cut at ${cut}`);
  }
});

Deno.test("AnthropicFromChatStream: byte by byte, events come out as soon as their line is complete", () => {
  const bytes = encoder.encode(TOOL_STREAM);
  const t = pipe();
  let out = "";
  let firstAt = -1;
  for (let i = 0; i < bytes.length; i++) {
    const piece = decoder.decode(t.push(bytes.subarray(i, i + 1)));
    if (piece !== "" && firstAt === -1) firstAt = i;
    out += piece;
  }
  out += decoder.decode(t.end());
  assert.deepEqual(events(out), EXPECTED);
  // message_start leaves with the first chunk's blank line, not at the end.
  assert.equal(firstAt, TOOL_STREAM.indexOf("\n\n") + 1);
});

Deno.test("AnthropicFromChatStream: CRLF lines, length finish, usage without [DONE]", () => {
  const text = sse([
    { ...base, choices: [{ index: 0, delta: { content: "abc" } }] },
    { ...base, choices: [{ index: 0, delta: {}, finish_reason: "length" }] },
  ], false).replaceAll("\n", "\r\n");
  const t = pipe();
  const got = events(
    decoder.decode(t.push(encoder.encode(text))) + decoder.decode(t.end()),
  );
  assert.deepEqual(got.map((e) => e[0]), [
    "message_start",
    "content_block_start",
    "content_block_delta",
    "content_block_stop",
    "message_delta",
    "message_stop",
  ]);
  assert.equal(
    (got[4][1] as { delta: { stop_reason: string } }).delta.stop_reason,
    "max_tokens",
  );
});

Deno.test("AnthropicFromChatStream: a stream cut before its finish ends with an Anthropic error event", () => {
  const t = pipe();
  const text = sse([{
    ...base,
    choices: [{ index: 0, delta: { content: "ab" } }],
  }], false);
  const got = events(
    decoder.decode(t.push(encoder.encode(text))) + decoder.decode(t.end()),
  );
  assert.deepEqual(got.at(-1), ["error", {
    type: "error",
    error: {
      type: "api_error",
      message: "The upstream's stream ended before the answer did",
    },
  }]);
});

Deno.test("AnthropicFromChatStream: an error chunk and fail() give Anthropic error events", () => {
  const t = pipe();
  const got = events(decoder.decode(t.push(encoder.encode(
    'data: {"error":{"message":"boom","type":"server_error"}}\n\n',
  ))));
  assert.deepEqual(got, [["error", {
    type: "error",
    error: { type: "api_error", message: "boom" },
  }]]);
  const u = pipe();
  assert.deepEqual(
    events(decoder.decode(u.fail({ status: 529, message: "gone" }))),
    [
      ["error", {
        type: "error",
        error: { type: "overloaded_error", message: "gone" },
      }],
    ],
  );
  assert.equal(decoder.decode(u.end()), "");
});

Deno.test("AnthropicFromChatStream: reasoning_content and LiteLLM's thinking_blocks deltas become a signed thinking block, then a redacted one", () => {
  const text = sse([
    {
      ...base,
      choices: [{ index: 0, delta: { role: "assistant", content: "" } }],
    },
    { ...base, choices: [{ index: 0, delta: { reasoning_content: "Hm" } }] },
    {
      ...base,
      choices: [{
        index: 0,
        // LiteLLM repeats the text in thinking_blocks; only the signature is new.
        delta: {
          reasoning_content: ", ok.",
          thinking_blocks: [{ type: "thinking", thinking: ", ok." }],
        },
      }],
    },
    {
      ...base,
      choices: [{
        index: 0,
        delta: {
          thinking_blocks: [{
            type: "thinking",
            thinking: "",
            signature: "S1",
          }],
        },
      }],
    },
    {
      ...base,
      choices: [{
        index: 0,
        delta: {
          thinking_blocks: [{ type: "redacted_thinking", data: "opaque" }],
        },
      }],
    },
    { ...base, choices: [{ index: 0, delta: { content: "Done." } }] },
    { ...base, choices: [{ index: 0, delta: {}, finish_reason: "stop" }] },
  ]);
  const p = pipe();
  const out = events(
    decoder.decode(p.push(encoder.encode(text))) + decoder.decode(p.end()),
  );
  assert.deepEqual(out.slice(1, -2), [
    ["content_block_start", {
      type: "content_block_start",
      index: 0,
      content_block: { type: "thinking", thinking: "", signature: "" },
    }],
    ["content_block_delta", {
      type: "content_block_delta",
      index: 0,
      delta: { type: "thinking_delta", thinking: "Hm" },
    }],
    ["content_block_delta", {
      type: "content_block_delta",
      index: 0,
      delta: { type: "thinking_delta", thinking: ", ok." },
    }],
    ["content_block_delta", {
      type: "content_block_delta",
      index: 0,
      delta: { type: "signature_delta", signature: "S1" },
    }],
    ["content_block_stop", { type: "content_block_stop", index: 0 }],
    ["content_block_start", {
      type: "content_block_start",
      index: 1,
      content_block: { type: "redacted_thinking", data: "opaque" },
    }],
    ["content_block_stop", { type: "content_block_stop", index: 1 }],
    ["content_block_start", {
      type: "content_block_start",
      index: 2,
      content_block: { type: "text", text: "" },
    }],
    ["content_block_delta", {
      type: "content_block_delta",
      index: 2,
      delta: { type: "text_delta", text: "Done." },
    }],
    ["content_block_stop", { type: "content_block_stop", index: 2 }],
  ]);
});
