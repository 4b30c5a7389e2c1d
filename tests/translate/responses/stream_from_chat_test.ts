import assert from "node:assert/strict";
import { ResponsesFromChatStream } from "../../../src/translate/responses/stream_from_chat.ts";
import { responsesToChatRequest } from "../../../src/translate/responses/request_to_chat.ts";
import { StreamPipe } from "../../../src/translate/stream_pipe.ts";
import { NAMED_EVENTS } from "../../../src/translate/sse.ts";
import type { RequestContext } from "../../../src/translate/types.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function pipe(context: RequestContext = { model: "m", stream: true }) {
  return new StreamPipe(new ResponsesFromChatStream(context), NAMED_EVENTS);
}

function sse(chunks: unknown[], done = true): string {
  return chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`).join("") +
    (done ? "data: [DONE]\n\n" : "");
}

type Event = { type: string; [key: string]: unknown };

/** The client's bytes as events; each `event:` line must name its data's type. */
function events(text: string): Event[] {
  return text.split("\n\n").filter((e) => e !== "").map((e) => {
    const [name, data] = e.split("\n");
    const parsed = JSON.parse(data.slice(6));
    assert.equal(name.slice(7), parsed.type);
    return parsed;
  });
}

function run(text: string, context?: RequestContext): Event[] {
  const t = pipe(context);
  return events(
    decoder.decode(t.push(encoder.encode(text))) +
      decoder.decode(t.end()),
  );
}

const base = {
  id: "chatcmpl-s1",
  object: "chat.completion.chunk",
  created: 1_700_000_000,
  model: "anthropic.claude-4-5-sonnet",
};
const chunk = (delta: unknown, finish: string | null = null) => ({
  ...base,
  choices: [{ index: 0, delta, finish_reason: finish }],
});
const call = (index: number, fields: Record<string, unknown>) =>
  chunk({ tool_calls: [{ index, ...fields }] });

/** Thinking with its signature, text, then two parallel calls with argument deltas. */
const TOOL_STREAM = sse([
  chunk({ role: "assistant", content: "" }),
  chunk({ reasoning_content: "Two " }),
  chunk({ reasoning_content: "cities." }),
  chunk({
    thinking_blocks: [{ type: "thinking", thinking: "", signature: "sig-1" }],
  }),
  chunk({ content: "Checking " }),
  chunk({ content: "both." }),
  call(0, {
    id: "call_a",
    type: "function",
    function: { name: "weather", arguments: "" },
  }),
  call(0, { function: { arguments: '{"city":' } }),
  call(1, {
    id: "call_b",
    type: "function",
    function: { name: "weather", arguments: '{"city":"Rome"}' },
  }),
  call(0, { function: { arguments: '"Paris"}' } }),
  chunk({}, "tool_calls"),
  {
    ...base,
    choices: [],
    usage: {
      prompt_tokens: 20,
      completion_tokens: 9,
      total_tokens: 29,
      prompt_tokens_details: { cached_tokens: 5 },
    },
  },
]);

const TOOL_NAMES = [
  "response.created",
  "response.in_progress",
  "response.output_item.added",
  "response.reasoning_text.delta",
  "response.reasoning_text.delta",
  "response.reasoning_text.done",
  "response.output_item.done",
  "response.output_item.added",
  "response.content_part.added",
  "response.output_text.delta",
  "response.output_text.delta",
  "response.output_text.done",
  "response.content_part.done",
  "response.output_item.done",
  "response.output_item.added",
  "response.function_call_arguments.delta",
  "response.output_item.added",
  "response.function_call_arguments.delta",
  "response.function_call_arguments.delta",
  "response.function_call_arguments.done",
  "response.output_item.done",
  "response.function_call_arguments.done",
  "response.output_item.done",
  "response.completed",
];

Deno.test("ResponsesFromChatStream: reasoning, text and parallel tool calls become numbered response.* events", () => {
  const out = run(TOOL_STREAM);
  assert.deepEqual(out.map((e) => e.type), TOOL_NAMES);
  assert.deepEqual(out.map((e) => e.sequence_number), out.map((_, i) => i));
  assert.equal((out[0].response as Event).id, "resp_s1");
  assert.equal((out[0].response as Event).status, "in_progress");
  assert.deepEqual(out[6].item, {
    type: "reasoning",
    id: "rs_resp_s1_0",
    summary: [],
    content: [{ type: "reasoning_text", text: "Two cities." }],
    encrypted_content: "anthropic-thinking:sig-1",
  });
  assert.deepEqual(out[9], {
    type: "response.output_text.delta",
    sequence_number: 9,
    item_id: "msg_resp_s1_1",
    output_index: 1,
    content_index: 0,
    delta: "Checking ",
    logprobs: [],
  });
  assert.deepEqual(out[14].item, {
    type: "function_call",
    id: "fc_resp_s1_2",
    call_id: "call_a",
    name: "weather",
    arguments: "",
    status: "in_progress",
  });
  // The first call's last piece arrives after the second call began.
  assert.deepEqual(out[18], {
    type: "response.function_call_arguments.delta",
    sequence_number: 18,
    item_id: "fc_resp_s1_2",
    output_index: 2,
    delta: '"Paris"}',
  });
  assert.equal(out[19].arguments, '{"city":"Paris"}');
  const completed = out.at(-1)!.response as Event;
  assert.equal(completed.status, "completed");
  assert.deepEqual(
    (completed.output as Event[]).map((i) => [i.type, i.id]),
    [
      ["reasoning", "rs_resp_s1_0"],
      ["message", "msg_resp_s1_1"],
      ["function_call", "fc_resp_s1_2"],
      ["function_call", "fc_resp_s1_3"],
    ],
  );
  assert.deepEqual(
    (completed.output as Event[])[3].arguments,
    '{"city":"Rome"}',
  );
  assert.deepEqual(completed.usage, {
    input_tokens: 20,
    input_tokens_details: { cached_tokens: 5 },
    output_tokens: 9,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: 29,
  });
});

Deno.test("ResponsesFromChatStream: the same stream split at every byte offset gives the same events", () => {
  const expected = run(TOOL_STREAM);
  const bytes = encoder.encode(TOOL_STREAM);
  for (let cut = 0; cut <= bytes.length; cut++) {
    const t = pipe();
    const out = decoder.decode(t.push(bytes.subarray(0, cut))) +
      decoder.decode(t.push(bytes.subarray(cut))) + decoder.decode(t.end());
    const got = events(out);
    // created_at is the chunk's, so whole events compare equal.
    assert.deepEqual(got, expected, `cut at ${cut}`);
  }
});

Deno.test("ResponsesFromChatStream: text reaches the client with the chunk that carried it", () => {
  const t = pipe();
  const first = decoder.decode(
    t.push(encoder.encode(sse([chunk({ content: "Hi" })], false))),
  );
  assert.deepEqual(events(first).map((e) => e.type), [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.content_part.added",
    "response.output_text.delta",
  ]);
});

Deno.test("ResponsesFromChatStream: a length finish ends with response.incomplete (max_output_tokens)", () => {
  const out = run(sse([chunk({ content: "Part" }), chunk({}, "length")]));
  const last = out.at(-1)!;
  assert.equal(last.type, "response.incomplete");
  assert.deepEqual((last.response as Event).incomplete_details, {
    reason: "max_output_tokens",
  });
});

Deno.test("ResponsesFromChatStream: a stream cut before its finish, an error chunk or a failed read ends with response.failed, never completed", async (t) => {
  await t.step("cut", () => {
    const out = run(sse([chunk({ content: "Hi" })], false));
    assert.deepEqual(out.map((e) => e.type).slice(-1), ["response.failed"]);
    const response = out.at(-1)!.response as Event;
    assert.equal(response.status, "failed");
    assert.deepEqual(response.error, {
      code: "server_error",
      message: "The upstream's stream ended before the answer did",
    });
  });
  await t.step("[DONE] is Chat's own end, even without a finish reason", () => {
    const out = run(sse([chunk({ content: "Hi" })]));
    assert.equal(out.at(-1)!.type, "response.completed");
  });
  await t.step("error chunk", () => {
    const out = run(
      sse([chunk({ content: "Hi" }), {
        error: { message: "Overloaded", type: "overloaded_error" },
      }]),
    );
    const names = out.map((e) => e.type);
    assert.equal(names.at(-1), "response.failed");
    assert.ok(!names.includes("response.completed"));
    assert.equal(
      ((out.at(-1)!.response as Event).error as Event).message,
      "Overloaded",
    );
  });
  await t.step("failed read", () => {
    const p = pipe();
    p.push(encoder.encode(sse([chunk({ content: "Hi" })], false)));
    const out = events(
      decoder.decode(p.fail({ status: 429, message: "Slow down" })),
    );
    assert.deepEqual(out.map((e) => e.type), ["response.failed"]);
    assert.deepEqual((out[0].response as Event).error, {
      code: "rate_limit_exceeded",
      message: "Slow down",
    });
    assert.equal(decoder.decode(p.end()), "");
  });
  await t.step(
    "an error before any chunk still starts with response.created",
    () => {
      const p = pipe();
      const out = events(
        decoder.decode(p.fail({ status: 502, message: "Reset" })),
      );
      assert.deepEqual(out.map((e) => e.type), [
        "response.created",
        "response.in_progress",
        "response.failed",
      ]);
    },
  );
});

Deno.test("ResponsesFromChatStream: a free-form tool's call comes as a custom_tool_call with its input whole", () => {
  const context: RequestContext = { model: "m", stream: true };
  responsesToChatRequest({
    model: "m",
    input: "x",
    tools: [{ type: "custom", name: "apply_patch" }],
  }, context);
  const out = run(
    sse([
      call(0, {
        id: "c1",
        type: "function",
        function: { name: "apply_patch", arguments: '{"input":' },
      }),
      call(0, { function: { arguments: '"*** Begin"}' } }),
      chunk({}, "tool_calls"),
    ]),
    context,
  );
  assert.deepEqual(out.map((e) => e.type), [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.custom_tool_call_input.delta",
    "response.custom_tool_call_input.done",
    "response.output_item.done",
    "response.completed",
  ]);
  assert.deepEqual(out[5].item, {
    type: "custom_tool_call",
    id: "fc_resp_s1_0",
    call_id: "c1",
    name: "apply_patch",
    input: "*** Begin",
    status: "completed",
  });
});

Deno.test("ResponsesFromChatStream: parallel calls that all say index 0 but carry their own ids stay apart", () => {
  const out = run(
    sse([
      call(0, {
        id: "call_a",
        type: "function",
        function: { name: "weather", arguments: '{"city":"Paris"}' },
      }),
      call(0, {
        id: "call_b",
        type: "function",
        function: { name: "weather", arguments: '{"city":"Rome"}' },
      }),
      chunk({}, "tool_calls"),
    ]),
  );
  const completed = out.at(-1)!.response as Event;
  assert.deepEqual(
    (completed.output as Event[]).map((i) => [i.call_id, i.arguments]),
    [["call_a", '{"city":"Paris"}'], ["call_b", '{"city":"Rome"}']],
  );
});
