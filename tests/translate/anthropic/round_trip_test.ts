/**
 * Property-style round trips (issue 15): Anthropic → Chat → Anthropic and
 * Chat → Anthropic → Chat, for requests, answers and streams, over inputs
 * drawn from a seeded PRNG (round_trip_inputs.ts). Each keeps every field
 * docs/translation.md says is kept.
 */
import assert from "node:assert/strict";
import { anthropicToChatRequest } from "../../../src/translate/anthropic/request_to_chat.ts";
import { chatToAnthropicRequest } from "../../../src/translate/anthropic/request_from_chat.ts";
import { chatToAnthropicResponse } from "../../../src/translate/anthropic/response_from_chat.ts";
import { anthropicToChatResponse } from "../../../src/translate/anthropic/response_to_chat.ts";
import { ChatFromAnthropicStream } from "../../../src/translate/anthropic/stream_to_chat.ts";
import { AnthropicFromChatStream } from "../../../src/translate/anthropic/stream_from_chat.ts";
import { chainStreams } from "../../../src/translate/chain.ts";
import type { Json } from "../../../src/translate/types.ts";
import {
  anthropicMessage,
  anthropicRequest,
  assemble,
  chatAnswer,
  chatRequest,
  eventsOf,
  MODEL,
  prng,
} from "./round_trip_inputs.ts";

const CONTEXT = { model: MODEL, stream: false, outputLimit: 64_000 };
const RUNS = 300;

Deno.test("round trip: an Anthropic request through Chat and back keeps what the table keeps", () => {
  for (let seed = 1; seed <= RUNS; seed++) {
    const req = anthropicRequest(prng(seed));
    const chat = anthropicToChatRequest(req, { model: MODEL });
    const back = chatToAnthropicRequest(chat.body, CONTEXT);
    assert.deepEqual(back.dropped, [], `seed ${seed}`);
    assert.deepEqual(back.body, req, `seed ${seed}`);
  }
});

/** A user message's lone text part is its string content, as the trip gives it. */
function normalChat(req: Json): Json {
  const messages = (req.messages as Json[]).map((m) =>
    m.role === "user" && Array.isArray(m.content) && m.content.length === 1
      ? { ...m, content: (m.content[0] as Json).text }
      : m
  );
  return { ...req, messages };
}

Deno.test("round trip: a Chat request through Anthropic and back keeps what the table keeps", () => {
  for (let seed = 1; seed <= RUNS; seed++) {
    const req = chatRequest(prng(seed));
    const anthropic = chatToAnthropicRequest(req, CONTEXT);
    assert.deepEqual(anthropic.dropped, [], `seed ${seed}`);
    const back = anthropicToChatRequest(anthropic.body, { model: MODEL });
    assert.deepEqual(back.dropped, [], `seed ${seed}`);
    assert.deepEqual(back.body, normalChat(req), `seed ${seed}`);
  }
});

Deno.test("round trip: an Anthropic answer through Chat and back is the same Message", () => {
  for (let seed = 1; seed <= RUNS; seed++) {
    const message = anthropicMessage(prng(seed));
    const back = chatToAnthropicResponse(
      anthropicToChatResponse(message, MODEL),
    );
    assert.deepEqual(back, message, `seed ${seed}`);
  }
});

Deno.test("round trip: a Chat answer through Anthropic and back is the same completion", () => {
  for (let seed = 1; seed <= RUNS; seed++) {
    const answer = chatAnswer(prng(seed));
    const back = anthropicToChatResponse(
      chatToAnthropicResponse(answer),
      MODEL,
    );
    back.created = 1;
    assert.deepEqual(back, answer, `seed ${seed}`);
  }
});

Deno.test("round trip: an Anthropic stream through Chat chunks and back builds the same Message", () => {
  for (let seed = 1; seed <= RUNS; seed++) {
    const r = prng(seed);
    const message = anthropicMessage(r);
    const chain = chainStreams(
      new ChatFromAnthropicStream({ model: MODEL }),
      new AnthropicFromChatStream({ model: MODEL }),
    );
    const out = eventsOf(message, r).flatMap((e) => chain.push(e));
    out.push(...chain.end());
    assert.deepEqual(assemble(out), message, `seed ${seed}`);
  }
});
