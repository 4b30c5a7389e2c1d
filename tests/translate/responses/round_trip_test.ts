/**
 * Property-style round trips through the hub, on inputs generated from a
 * seeded PRNG (the same every run): Responses → Chat → Responses for
 * requests, Chat → Responses → Chat for answers and for streams, each
 * keeping every field the table in docs/translation.md says is kept.
 */
import assert from "node:assert/strict";
import { responsesToChatRequest } from "../../../src/translate/responses/request_to_chat.ts";
import { chatToResponsesRequest } from "../../../src/translate/responses/request_from_chat.ts";
import { chatToResponsesResponse } from "../../../src/translate/responses/response_from_chat.ts";
import { responsesToChatResponse } from "../../../src/translate/responses/response_to_chat.ts";
import { ResponsesFromChatStream } from "../../../src/translate/responses/stream_from_chat.ts";
import { ChatFromResponsesStream } from "../../../src/translate/responses/stream_to_chat.ts";
import { chainStreams } from "../../../src/translate/chain.ts";
import type { Json, RequestContext } from "../../../src/translate/types.ts";

const RUNS = 300;

/** mulberry32: a small seeded PRNG. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const chance = (p: number) => next() < p;
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
  const WORDS = ["alpha", "βeta", "gamma", "δ", '"quoted"', "new\nline", "🙂"];
  const text = () =>
    Array.from({ length: 1 + int(4) }, () => pick(WORDS)).join(" ");
  const id = (prefix: string) => `${prefix}_${int(1e9).toString(36)}`;
  return { int, chance, pick, text, id };
}
type Rng = ReturnType<typeof prng>;

const ctx = (): RequestContext => ({ model: "m", stream: false });

// ---- requests: Responses → Chat → Responses ----

function genTools(r: Rng): Json[] {
  return Array.from({ length: 1 + r.int(3) }, (_, i) => ({
    type: "function",
    name: `tool_${i}`,
    description: r.text(),
    strict: r.chance(0.5),
    parameters: {
      type: "object",
      properties: { q: { type: r.pick(["string", "number"]) } },
      required: r.chance(0.5) ? ["q"] : [],
    },
  }));
}

function genInput(r: Rng, tools: Json[]): Json[] {
  const items: Json[] = [];
  const user = (): Json => {
    const content: Json[] = [{ type: "input_text", text: r.text() }];
    if (r.chance(0.3)) {
      content.push({
        type: "input_image",
        image_url: r.chance(0.5)
          ? "https://example.com/a.png"
          : "data:image/png;base64,iVBORw0KGgo=",
        detail: r.pick(["auto", "low", "high"]),
      });
    }
    return { type: "message", role: "user", content };
  };
  items.push(user());
  for (let turn = r.int(4); turn > 0; turn--) {
    if (r.chance(0.2)) {
      items.push({
        type: "message",
        role: "developer",
        content: [{ type: "input_text", text: r.text() }],
      });
    }
    if (r.chance(0.4)) {
      const reasoning: Json = {
        type: "reasoning",
        summary: [],
        content: [{ type: "reasoning_text", text: r.text() }],
      };
      if (r.chance(0.6)) {
        reasoning.encrypted_content = "anthropic-thinking:" + r.id("sig");
      }
      items.push(reasoning);
    }
    const says = r.chance(0.6);
    const calls = tools.length > 0 && (!says || r.chance(0.5))
      ? 1 + r.int(3)
      : 0;
    if (says || calls === 0) {
      items.push({
        type: "message",
        role: "assistant",
        content: [{ type: "output_text", text: r.text() }],
      });
    }
    const ids: string[] = [];
    for (let c = 0; c < calls; c++) {
      const callId = r.id("call");
      ids.push(callId);
      items.push({
        type: "function_call",
        call_id: callId,
        name: r.pick(tools).name,
        arguments: JSON.stringify({ q: r.text() }),
      });
    }
    for (const callId of ids) {
      items.push({
        type: "function_call_output",
        call_id: callId,
        output: r.text(),
      });
    }
    items.push(user());
  }
  return items;
}

function genRequest(r: Rng): Json {
  const tools = r.chance(0.7) ? genTools(r) : [];
  const req: Json = { model: "m", input: genInput(r, tools) };
  if (r.chance(0.5)) req.instructions = r.text();
  if (tools.length > 0) {
    req.tools = tools;
    req.tool_choice = r.pick([
      "auto",
      "none",
      "required",
      { type: "function", name: tools[0].name },
    ]);
    req.parallel_tool_calls = r.chance(0.5);
  }
  if (r.chance(0.5)) req.max_output_tokens = 1 + r.int(4000);
  if (r.chance(0.5)) req.temperature = r.int(20) / 10;
  if (r.chance(0.5)) req.top_p = r.int(10) / 10;
  if (r.chance(0.5)) {
    req.reasoning = { effort: r.pick(["minimal", "low", "medium", "high"]) };
  }
  if (r.chance(0.3)) {
    req.text = {
      format: r.chance(0.5) ? { type: "json_object" } : {
        type: "json_schema",
        name: "out",
        schema: { type: "object", properties: { a: { type: "string" } } },
        strict: true,
      },
    };
  }
  if (r.chance(0.5)) req.stream = true;
  if (r.chance(0.3)) req.user = r.id("user");
  return req;
}

/** What the table keeps of an input item, in one shape for both sides. */
function normalItem(item: Json): Json {
  if (item.type === "message" || item.type === undefined) {
    const parts = typeof item.content === "string"
      ? [{ type: "input_text", text: item.content }]
      : item.content as Json[];
    const text = parts.filter((p) => p.type !== "input_image")
      .map((p) => p.text).join("");
    const images = parts.filter((p) => p.type === "input_image")
      .map((p) => `${p.image_url} ${p.detail ?? "auto"}`);
    const role = item.role === "developer" ? "system" : item.role;
    return { role, text, images };
  }
  if (item.type === "reasoning") {
    return {
      reasoning: (item.content as Json[]).map((p) => p.text).join(""),
      encrypted: item.encrypted_content ?? null,
    };
  }
  const { id: _id, status: _status, ...rest } = item;
  return rest;
}

function normalRequest(req: Json): Json {
  const out: Json = { ...req };
  out.input = (req.input as Json[]).map(normalItem);
  delete out.store;
  return out;
}

Deno.test("a Responses request → Chat → Responses keeps every field the table keeps", () => {
  for (let seed = 1; seed <= RUNS; seed++) {
    const req = genRequest(prng(seed));
    const chat = responsesToChatRequest(req, ctx());
    assert.equal(chat.refused, undefined);
    assert.deepEqual(chat.dropped, [], `seed ${seed}`);
    const back = chatToResponsesRequest(chat.body, ctx());
    assert.deepEqual(
      normalRequest(back.body),
      normalRequest(req),
      `seed ${seed}`,
    );
  }
});

// ---- answers and streams: Chat → Responses → Chat ----

function genAnswer(r: Rng): Json {
  const message: Json = { role: "assistant", content: null };
  if (r.chance(0.4)) {
    const blocks: Json[] = Array.from(
      { length: 1 + r.int(2) },
      () =>
        r.chance(0.8)
          ? { type: "thinking", thinking: r.text(), signature: r.id("sig") }
          : { type: "redacted_thinking", data: r.id("data") },
    );
    message.thinking_blocks = blocks;
    const text = blocks.map((b) => b.thinking ?? "").join("");
    if (text !== "") message.reasoning_content = text;
  } else if (r.chance(0.3)) message.reasoning_content = r.text();
  if (r.chance(0.7)) message.content = r.text();
  const calls = r.chance(0.5) ? r.int(3) + 1 : 0;
  if (calls > 0) {
    message.tool_calls = Array.from({ length: calls }, (_, i) => ({
      id: r.id("call"),
      type: "function",
      function: {
        name: `tool_${i}`,
        arguments: JSON.stringify({ q: r.text(), n: r.int(100) }),
      },
    }));
  }
  if (message.content === null && calls === 0) message.content = r.text();
  const finish = r.chance(0.15)
    ? r.pick(["length", "content_filter"])
    : calls > 0
    ? "tool_calls"
    : "stop";
  const prompt = r.int(10_000);
  const completion = r.int(2000);
  return {
    id: `chatcmpl-${r.id("x")}`,
    object: "chat.completion",
    created: 1_700_000_000 + r.int(1e6),
    model: "anthropic.claude-4-5-sonnet",
    choices: [{ index: 0, message, finish_reason: finish }],
    usage: {
      prompt_tokens: prompt,
      completion_tokens: completion,
      total_tokens: prompt + completion,
      prompt_tokens_details: { cached_tokens: r.int(prompt + 1) },
      completion_tokens_details: { reasoning_tokens: r.int(completion + 1) },
    },
  };
}

Deno.test("a Chat answer → Responses → Chat keeps every field the table keeps", () => {
  for (let seed = 1; seed <= RUNS; seed++) {
    const answer = genAnswer(prng(seed));
    const back = responsesToChatResponse(
      chatToResponsesResponse(answer, ctx()),
      ctx(),
    );
    assert.deepEqual(back, answer, `seed ${seed}`);
  }
});

/** An answer as Chat streams it, pieces cut at random. */
function toChunks(r: Rng, answer: Json): Json[] {
  const choice = (answer.choices as Json[])[0];
  const message = choice.message as Json;
  const head = {
    id: answer.id,
    object: "chat.completion.chunk",
    created: answer.created,
    model: answer.model,
  };
  const out: Json[] = [];
  const delta = (d: Json, finish: unknown = null) =>
    out.push({
      ...head,
      choices: [{ index: 0, delta: d, finish_reason: finish }],
    });
  const pieces = (s: string) => {
    const cut: string[] = [];
    for (let i = 0; i < s.length;) {
      const n = 1 + r.int(6);
      cut.push(s.slice(i, i + n));
      i += n;
    }
    return cut;
  };
  delta({ role: "assistant", content: "" });
  for (const block of (message.thinking_blocks ?? []) as Json[]) {
    if (block.type === "thinking") {
      for (const p of pieces(String(block.thinking))) {
        delta({ reasoning_content: p });
      }
    }
    delta({ thinking_blocks: [block] });
  }
  if (message.thinking_blocks === undefined && message.reasoning_content) {
    for (const p of pieces(String(message.reasoning_content))) {
      delta({ reasoning_content: p });
    }
  }
  if (typeof message.content === "string") {
    for (const p of pieces(message.content)) delta({ content: p });
  }
  ((message.tool_calls ?? []) as Json[]).forEach((call, index) => {
    const fn = call.function as Json;
    delta({
      tool_calls: [{
        index,
        id: call.id,
        type: "function",
        function: { name: fn.name, arguments: "" },
      }],
    });
    for (const p of pieces(String(fn.arguments))) {
      delta({ tool_calls: [{ index, function: { arguments: p } }] });
    }
  });
  delta({}, choice.finish_reason);
  out.push({ ...head, choices: [], usage: answer.usage });
  return out;
}

/** Chat chunks accumulated into an answer. */
function accumulate(chunks: (Json | "[DONE]")[]): Json {
  const message: Json = { role: "assistant", content: null };
  let finish: unknown = null;
  let usage: unknown = null;
  let reasoning = "";
  let content = "";
  const calls: Json[] = [];
  const blocks: Json[] = [];
  for (const chunk of chunks) {
    if (chunk === "[DONE]") continue;
    assert.equal(chunk.error, undefined, JSON.stringify(chunk));
    if (chunk.usage) usage = chunk.usage;
    const choice = (chunk.choices as Json[])[0];
    if (!choice) continue;
    if (choice.finish_reason) finish = choice.finish_reason;
    const d = choice.delta as Json;
    if (typeof d.content === "string") content += d.content;
    if (typeof d.reasoning_content === "string") {
      reasoning += d.reasoning_content;
    }
    for (const b of (d.thinking_blocks ?? []) as Json[]) {
      blocks.push(b.type === "thinking" ? { ...b, thinking: "" } : b);
    }
    for (const c of (d.tool_calls ?? []) as Json[]) {
      const fn = c.function as Json;
      const at = c.index as number;
      calls[at] ??= {
        id: c.id,
        type: "function",
        function: { name: fn.name, arguments: "" },
      };
      ((calls[at].function) as Json).arguments += String(fn.arguments ?? "");
    }
  }
  if (content !== "") message.content = content;
  if (reasoning !== "") message.reasoning_content = reasoning;
  if (blocks.length > 0) message.thinking_blocks = blocks;
  if (calls.length > 0) message.tool_calls = calls;
  return { message, finish, usage };
}

Deno.test("a Chat stream → Responses events → Chat chunks keeps every field the table keeps", () => {
  for (let seed = 1; seed <= RUNS; seed++) {
    const r = prng(seed);
    const answer = genAnswer(r);
    const t = chainStreams(
      new ResponsesFromChatStream(ctx()),
      new ChatFromResponsesStream(ctx()),
    );
    const out = toChunks(r, answer).flatMap((data) => t.push({ data }));
    out.push(...t.push({ data: "[DONE]" }), ...t.end());
    assert.ok(t.ended);
    const got = accumulate(out.map((e) => e.data));
    const choice = (answer.choices as Json[])[0];
    const want = structuredClone(choice.message) as Json;
    // A signature travels apart from its text in a stream (the text came as reasoning_content).
    if (Array.isArray(want.thinking_blocks)) {
      want.thinking_blocks = (want.thinking_blocks as Json[]).map((b) =>
        b.type === "thinking" ? { ...b, thinking: "" } : b
      );
    }
    assert.deepEqual(got.message, want, `seed ${seed}`);
    assert.equal(got.finish, choice.finish_reason, `seed ${seed}`);
    assert.deepEqual(got.usage, answer.usage, `seed ${seed}`);
  }
});
