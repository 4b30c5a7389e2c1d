/**
 * Gemini → Chat → Gemini keeps every field the table in docs/translation.md
 * says it keeps: requests drawn from a seeded PRNG, in the shape the
 * translation writes (one text part per kind and turn, thoughts first,
 * function responses before text).
 */
import assert from "node:assert/strict";
import { geminiToChatRequest } from "../../../src/translate/gemini/request_to_chat.ts";
import { chatToGeminiRequest } from "../../../src/translate/gemini/request_from_chat.ts";
import type { Json } from "../../../src/translate/types.ts";

/** mulberry32: a small seeded PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rng = () => number;
const pick = <T>(rng: Rng, items: readonly T[]): T =>
  items[Math.floor(rng() * items.length)];
const chance = (rng: Rng, p: number) => rng() < p;
const word = (rng: Rng) =>
  pick(rng, ["ls", "hello", "ünïcode ✓", "line\nbreak", '"quoted"', "42"]);

const TOOL_NAMES = ["run_shell_command", "read_file", "glob"] as const;

function userTurn(rng: Rng, pending: string[]): Json {
  const parts: Json[] = [];
  for (const name of pending) {
    parts.push({
      functionResponse: {
        name,
        response: chance(rng, 0.5)
          ? { output: word(rng) }
          : { error: word(rng), code: 1 },
      },
    });
  }
  pending.length = 0;
  if (parts.length === 0 || chance(rng, 0.5)) parts.push({ text: word(rng) });
  if (chance(rng, 0.3)) {
    parts.push({ inlineData: { mimeType: "image/png", data: "iVBORw0KGgo=" } });
  }
  if (chance(rng, 0.2)) {
    parts.push({
      fileData: { mimeType: "image/png", fileUri: "https://example.com/a.png" },
    });
  }
  return { role: "user", parts };
}

function modelTurn(rng: Rng, pending: string[]): Json {
  const parts: Json[] = [];
  if (chance(rng, 0.4)) parts.push({ text: word(rng), thought: true });
  if (chance(rng, 0.7)) parts.push({ text: word(rng) });
  const calls = Math.floor(rng() * 3);
  for (let i = 0; i < calls; i++) {
    const name = pick(rng, TOOL_NAMES);
    pending.push(name);
    parts.push({ functionCall: { name, args: { arg: word(rng), n: i } } });
  }
  if (parts.length === 0) parts.push({ text: word(rng) });
  return { role: "model", parts };
}

function request(rng: Rng): Json {
  const contents: Json[] = [];
  const pending: string[] = [];
  const turns = 1 + Math.floor(rng() * 6);
  for (let i = 0; i < turns; i++) {
    contents.push(
      i % 2 === 0 ? userTurn(rng, pending) : modelTurn(rng, pending),
    );
  }
  const body: Json = { contents };
  if (chance(rng, 0.6)) {
    body.systemInstruction = { parts: [{ text: word(rng) }] };
  }
  if (chance(rng, 0.6)) {
    body.tools = [{
      functionDeclarations: TOOL_NAMES.map((name) => ({
        name,
        description: `The ${name} tool`,
        parametersJsonSchema: {
          type: "object",
          properties: { arg: { type: "string" }, n: { type: "integer" } },
          required: ["arg"],
        },
      })),
    }];
    const mode = pick(rng, ["AUTO", "NONE", "ANY", "ONE", null]);
    if (mode === "ONE") {
      body.toolConfig = {
        functionCallingConfig: { mode: "ANY", allowedFunctionNames: ["glob"] },
      };
      const all = (body.tools as Json[])[0].functionDeclarations as Json[];
      body.tools = [{
        functionDeclarations: all.filter((d) => d.name === "glob"),
      }];
    } else if (mode !== null) {
      body.toolConfig = { functionCallingConfig: { mode } };
    }
  }
  const config: Json = {};
  if (chance(rng, 0.5)) config.temperature = Math.round(rng() * 10) / 10;
  if (chance(rng, 0.5)) config.topP = 0.5;
  if (chance(rng, 0.5)) config.maxOutputTokens = 1 + Math.floor(rng() * 8000);
  if (chance(rng, 0.3)) config.stopSequences = ["END", word(rng)];
  if (chance(rng, 0.3)) config.seed = 3;
  if (chance(rng, 0.3)) {
    config.responseMimeType = "application/json";
    if (chance(rng, 0.5)) {
      config.responseJsonSchema = {
        type: "object",
        properties: { answer: { type: "string" } },
      };
    }
  }
  if (chance(rng, 0.3)) {
    config.thinkingConfig = {
      thinkingBudget: pick(rng, [1024, 8192, 24576]),
      includeThoughts: true,
    };
  }
  if (Object.keys(config).length > 0) body.generationConfig = config;
  return body;
}

/** The ids the trip gave to calls that had none are not the table's to keep. */
function withoutIds(body: Json): Json {
  const copy = structuredClone(body);
  for (const content of copy.contents as Json[]) {
    for (const part of content.parts as Json[]) {
      delete (part.functionCall as Json | undefined)?.id;
      delete (part.functionResponse as Json | undefined)?.id;
    }
  }
  return copy;
}

Deno.test("Gemini → Chat → Gemini keeps what the table keeps (500 seeded requests)", () => {
  const context = { model: "gemini-2.5-pro", stream: false };
  for (let seed = 1; seed <= 500; seed++) {
    const original = request(prng(seed));
    const chat = geminiToChatRequest(original, context);
    assert.equal(chat.refused, undefined, `seed ${seed}`);
    assert.deepEqual(chat.dropped, [], `seed ${seed}`);
    const back = chatToGeminiRequest(chat.body, context);
    assert.deepEqual(withoutIds(back.body), original, `seed ${seed}`);
  }
});

Deno.test("Gemini → Chat → Gemini keeps function call ids the client sent", () => {
  const original = {
    contents: [
      { role: "user", parts: [{ text: "go" }] },
      {
        role: "model",
        parts: [{ functionCall: { id: "fc-1", name: "glob", args: {} } }],
      },
      {
        role: "user",
        parts: [{
          functionResponse: {
            id: "fc-1",
            name: "glob",
            response: { output: "a" },
          },
        }],
      },
    ],
  };
  const context = { model: "gemini-2.5-pro", stream: false };
  const chat = geminiToChatRequest(original, context).body;
  assert.deepEqual(chatToGeminiRequest(chat, context).body, original);
});
