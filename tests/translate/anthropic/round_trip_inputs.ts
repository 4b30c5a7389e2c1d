// The wire formats (Anthropic, OpenAI) are snake_case.
// deno-lint-ignore-file camelcase
/**
 * Inputs for the round trips of round_trip_test.ts, drawn from a seeded
 * PRNG: only what docs/translation.md's tables say survives (one text
 * block per turn, tool results before the rest of a user turn, no
 * temperature with thinking, budgets of 1024/2048/4096), and the
 * Anthropic event stream of a Message with the Message an SDK builds back.
 */
import assert from "node:assert/strict";
import type { Json, StreamEvent } from "../../../src/translate/types.ts";

/** The model every input names. */
export const MODEL = "anthropic.claude-4-5-sonnet";

/** mulberry32: a small seeded PRNG, so a failure can be replayed. */
export function prng(seed: number): Random {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    int: (n) => Math.floor(next() * n),
    bool: (p = 0.5) => next() < p,
    pick: (items) => items[Math.floor(next() * items.length)],
  };
}

/** The draws the generators make. */
export interface Random {
  int(n: number): number;
  bool(p?: number): boolean;
  pick<T>(items: readonly T[]): T;
}

const WORDS = ["ls", "read", "a.txt", "é", "日本", "line\nbreak", '"q"', "x"];

function text(r: Random): string {
  const n = 1 + r.int(4);
  return Array.from({ length: n }, () => r.pick(WORDS)).join(" ");
}

function id(r: Random, prefix: string): string {
  return `${prefix}${r.int(1e9).toString(36)}`;
}

function input(r: Random): Json {
  const out: Json = {};
  for (let i = r.int(3); i > 0; i--) {
    out[`k${i}`] = r.pick<unknown>([text(r), r.int(100), true, null, [1, 2], {
      n: { deep: "y" },
    }]);
  }
  return out;
}

function schema(r: Random): Json {
  return {
    type: "object",
    properties: { path: { type: "string" }, n: { type: "integer" } },
    ...(r.bool() ? { required: ["path"] } : {}),
  };
}

// --- Anthropic requests -----------------------------------------------------

function anthropicImage(r: Random): Json {
  return r.bool()
    ? {
      type: "image",
      source: { type: "base64", media_type: "image/png", data: "iVBORw0K" },
    }
    : {
      type: "image",
      source: { type: "url", url: "https://example.com/i.png" },
    };
}

export function anthropicRequest(r: Random): Json {
  const thinking = r.bool(0.4);
  const tools = r.bool(0.6) ? ["Read", "Bash"].slice(0, 1 + r.int(2)) : [];
  const messages: Json[] = [];
  let pending: string[] = [];
  for (let turn = 0, n = 1 + r.int(5); turn < n; turn++) {
    const user: Json[] = pending.map((use) => ({
      type: "tool_result",
      tool_use_id: use,
      content: text(r),
    }));
    if (pending.length === 0 || r.bool()) {
      user.push({ type: "text", text: text(r) });
    }
    if (r.bool(0.3)) user.push(anthropicImage(r));
    messages.push({ role: "user", content: user });
    if (turn === n - 1) break;
    const assistant: Json[] = [];
    if (r.bool(0.5)) {
      assistant.push({
        type: "thinking",
        thinking: text(r),
        signature: id(r, "sig"),
      });
    }
    if (r.bool(0.2)) {
      assistant.push({ type: "redacted_thinking", data: id(r, "rd") });
    }
    if (r.bool(0.7)) assistant.push({ type: "text", text: text(r) });
    pending = [];
    if (tools.length > 0) {
      for (let i = r.int(3); i > 0; i--) {
        const use = id(r, "toolu_");
        pending.push(use);
        assistant.push({
          type: "tool_use",
          id: use,
          name: r.pick(tools),
          input: input(r),
        });
      }
    }
    if (assistant.length === 0) assistant.push({ type: "text", text: text(r) });
    messages.push({ role: "assistant", content: assistant });
  }
  const req: Json = {
    model: MODEL,
    max_tokens: thinking ? 8192 + r.int(8192) : 1 + r.int(60_000),
    messages,
  };
  if (r.bool()) req.system = text(r);
  if (!thinking && r.bool()) req.temperature = r.int(10) / 10;
  if (!thinking && r.bool()) req.top_p = r.int(10) / 10;
  if (r.bool()) req.stop_sequences = [text(r)];
  if (r.bool()) req.stream = true;
  if (r.bool()) req.metadata = { user_id: id(r, "user-") };
  if (thinking) {
    req.thinking = {
      type: "enabled",
      budget_tokens: r.pick([1024, 2048, 4096]),
    };
  }
  if (tools.length > 0) {
    req.tools = tools.map((name) => ({
      name,
      ...(r.bool() ? { description: text(r) } : {}),
      input_schema: schema(r),
    }));
    const choices = thinking
      ? ["auto", "none"]
      : ["auto", "any", "none", "tool"];
    const type = r.pick(choices);
    const choice: Json = type === "tool" ? { type, name: tools[0] } : { type };
    if (type !== "none" && r.bool()) choice.disable_parallel_tool_use = true;
    if (r.bool(0.8)) req.tool_choice = choice;
  }
  return req;
}

// --- Chat requests ----------------------------------------------------------

function chatUser(r: Random): Json {
  if (r.bool()) return { role: "user", content: text(r) };
  const parts: Json[] = [{ type: "text", text: text(r) }];
  if (r.bool()) {
    parts.push({
      type: "image_url",
      image_url: {
        url: r.bool()
          ? "data:image/jpeg;base64,/9j/4AAQ"
          : "https://example.com/p.jpg",
      },
    });
  }
  if (r.bool(0.3)) parts.push({ type: "text", text: text(r) });
  return { role: "user", content: parts };
}

export function chatRequest(r: Random): Json {
  const reasoning = r.bool(0.4);
  const tools = r.bool(0.6) ? ["read", "bash"].slice(0, 1 + r.int(2)) : [];
  const messages: Json[] = [];
  if (r.bool()) messages.push({ role: "system", content: text(r) });
  for (let turn = 0, n = 1 + r.int(5); turn < n; turn++) {
    messages.push(chatUser(r));
    if (turn === n - 1) break;
    const calls = tools.length === 0 ? [] : Array.from(
      { length: r.int(3) },
      () => ({
        id: id(r, "call_"),
        type: "function",
        function: { name: r.pick(tools), arguments: JSON.stringify(input(r)) },
      }),
    );
    const assistant: Json = {
      role: "assistant",
      content: calls.length > 0 && r.bool() ? null : text(r),
    };
    if (calls.length > 0) assistant.tool_calls = calls;
    if (r.bool(0.4)) {
      const thought = text(r);
      assistant.reasoning_content = thought;
      assistant.thinking_blocks = [{
        type: "thinking",
        thinking: thought,
        signature: id(r, "sig"),
      }];
    }
    messages.push(assistant);
    for (const call of calls) {
      messages.push({ role: "tool", tool_call_id: call.id, content: text(r) });
    }
  }
  const req: Json = {
    model: MODEL,
    messages,
    max_tokens: reasoning ? 8192 + r.int(8192) : 1 + r.int(60_000),
  };
  if (!reasoning && r.bool()) req.temperature = r.int(10) / 10;
  if (!reasoning && r.bool()) req.top_p = r.int(10) / 10;
  if (r.bool()) req.stop = [text(r)];
  if (r.bool()) {
    req.stream = true;
    req.stream_options = { include_usage: true };
  }
  if (r.bool()) req.user = id(r, "u-");
  if (reasoning) req.reasoning_effort = r.pick(["low", "medium", "high"]);
  if (tools.length > 0) {
    req.tools = tools.map((name) => ({
      type: "function",
      function: {
        name,
        ...(r.bool() ? { description: text(r) } : {}),
        parameters: schema(r),
      },
    }));
    const choice = r.pick(
      reasoning ? ["auto", "none"] : ["auto", "required", "none", "named"],
    );
    req.tool_choice = choice === "named"
      ? { type: "function", function: { name: tools[0] } }
      : choice;
    if (choice !== "none" && r.bool()) req.parallel_tool_calls = false;
  }
  return req;
}

// --- Answers ----------------------------------------------------------------

export function anthropicMessage(r: Random): Json {
  const content: Json[] = [];
  if (r.bool(0.4)) {
    content.push({
      type: "thinking",
      thinking: text(r),
      signature: id(r, "sig"),
    });
  }
  if (r.bool(0.2)) {
    content.push({ type: "redacted_thinking", data: id(r, "rd") });
  }
  if (r.bool(0.8)) content.push({ type: "text", text: text(r) });
  for (let i = r.int(3); i > 0; i--) {
    content.push({
      type: "tool_use",
      id: id(r, "toolu_"),
      name: "Read",
      input: input(r),
    });
  }
  return {
    id: id(r, "msg_"),
    type: "message",
    role: "assistant",
    model: MODEL,
    content,
    stop_reason: r.pick(["end_turn", "max_tokens", "tool_use", "refusal"]),
    stop_sequence: null,
    usage: {
      input_tokens: r.int(1000),
      output_tokens: r.int(1000),
      cache_read_input_tokens: r.int(5000),
      cache_creation_input_tokens: r.int(500),
    },
  };
}

export function chatAnswer(r: Random): Json {
  const message: Json = { role: "assistant" };
  const calls = Array.from({ length: r.int(3) }, () => ({
    id: id(r, "call_"),
    type: "function",
    function: { name: "read", arguments: JSON.stringify(input(r)) },
  }));
  message.content = calls.length > 0 && r.bool() ? null : text(r);
  if (calls.length > 0) message.tool_calls = calls;
  if (r.bool(0.4)) {
    const thought = text(r);
    message.reasoning_content = thought;
    message.thinking_blocks = [{
      type: "thinking",
      thinking: thought,
      signature: id(r, "sig"),
    }];
  }
  const prompt = r.int(5000);
  const cached = r.int(prompt + 1);
  const written = r.int(prompt - cached + 1);
  const completion = r.int(1000);
  return {
    id: id(r, "chatcmpl-"),
    object: "chat.completion",
    created: 1,
    model: MODEL,
    choices: [{
      index: 0,
      message,
      finish_reason: r.pick(["stop", "length", "tool_calls", "content_filter"]),
    }],
    usage: {
      prompt_tokens: prompt,
      completion_tokens: completion,
      total_tokens: prompt + completion,
      prompt_tokens_details: { cached_tokens: cached },
      cache_creation_input_tokens: written,
    },
  };
}

// --- Streams ----------------------------------------------------------------

/** `message` as the Messages API streams it, each text cut in random pieces. */
export function eventsOf(message: Json, r: Random): StreamEvent[] {
  const out: StreamEvent[] = [];
  const emit = (data: Json) => out.push({ event: data.type as string, data });
  const pieces = (s: string) => {
    const cuts: string[] = [];
    for (let at = 0; at < s.length;) {
      const n = 1 + r.int(6);
      cuts.push(s.slice(at, at + n));
      at += n;
    }
    return cuts;
  };
  emit({
    type: "message_start",
    message: {
      ...message,
      content: [],
      stop_reason: null,
      usage: { ...(message.usage as Json), output_tokens: 1 },
    },
  });
  (message.content as Json[]).forEach((block, index) => {
    const start = block.type === "text"
      ? { type: "text", text: "" }
      : block.type === "thinking"
      ? { type: "thinking", thinking: "", signature: "" }
      : block.type === "tool_use"
      ? { ...block, input: {} }
      : block;
    emit({ type: "content_block_start", index, content_block: start });
    const delta = (d: Json) =>
      emit({ type: "content_block_delta", index, delta: d });
    if (block.type === "text") {
      for (const p of pieces(block.text as string)) {
        delta({ type: "text_delta", text: p });
      }
    } else if (block.type === "thinking") {
      for (const p of pieces(block.thinking as string)) {
        delta({ type: "thinking_delta", thinking: p });
      }
      delta({ type: "signature_delta", signature: block.signature });
    } else if (block.type === "tool_use") {
      for (const p of pieces(JSON.stringify(block.input))) {
        delta({ type: "input_json_delta", partial_json: p });
      }
    }
    emit({ type: "content_block_stop", index });
    if (r.bool(0.2)) emit({ type: "ping" });
  });
  emit({
    type: "message_delta",
    delta: { stop_reason: message.stop_reason, stop_sequence: null },
    usage: { output_tokens: (message.usage as Json).output_tokens },
  });
  emit({ type: "message_stop" });
  return out;
}

/** The Message an Anthropic event stream builds, as an SDK assembles it. */
export function assemble(events: StreamEvent[]): Json {
  let message: Json = {};
  const json: string[] = [];
  for (const { data } of events) {
    assert.notEqual(data, "[DONE]");
    const e = data as Json;
    if (e.type === "message_start") {
      message = structuredClone(e.message as Json);
    }
    const content = message.content as Json[];
    const i = e.index as number;
    if (e.type === "content_block_start") {
      content[i] = structuredClone(e.content_block as Json);
      json[i] = "";
    } else if (e.type === "content_block_delta") {
      const d = e.delta as Json;
      if (d.type === "text_delta") content[i].text += d.text as string;
      if (d.type === "thinking_delta") {
        content[i].thinking += d.thinking as string;
      }
      if (d.type === "signature_delta") content[i].signature = d.signature;
      if (d.type === "input_json_delta") json[i] += d.partial_json as string;
    } else if (
      e.type === "content_block_stop" && content[i].type === "tool_use"
    ) {
      content[i].input = json[i] === "" ? {} : JSON.parse(json[i]);
    } else if (e.type === "message_delta") {
      Object.assign(message, e.delta as Json);
      message.usage = { ...(message.usage as Json), ...(e.usage as Json) };
    }
    assert.notEqual(e.type, "error", JSON.stringify(e));
  }
  assert.equal((events.at(-1)?.data as Json).type, "message_stop");
  return message;
}
