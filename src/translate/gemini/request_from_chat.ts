/**
 * A Chat Completions request as a Gemini `generateContent` body: the
 * reverse of request_to_chat.ts, for what both carry. Flow has no
 * Gemini-native route by default, so the proxy never sends one; the round
 * trip tests (Gemini → Chat → Gemini) use it to check what is kept.
 */
import type { Json, RequestContext, RequestTranslation } from "../types.ts";
import { parseArgs } from "./response_from_chat.ts";

/** Translates a Chat Completions request to a Gemini `generateContent` body. */
export function chatToGeminiRequest(
  chat: Json,
  _context: RequestContext,
): RequestTranslation {
  const dropped = new Set<string>();
  const body: Json = {};
  const contents: Json[] = [];
  const names = new Map<string, string>();
  const system: string[] = [];
  for (const message of asArray(chat.messages).map(asObject)) {
    if (message.role === "system" || message.role === "developer") {
      system.push(textOf(message.content));
    } else if (message.role === "assistant") {
      contents.push(modelContent(message, names));
    } else if (message.role === "tool") {
      appendUser(contents, [responsePart(message, names)]);
    } else appendUser(contents, userParts(message.content, dropped));
  }
  if (system.length > 0) {
    body.systemInstruction = { parts: [{ text: system.join("\n\n") }] };
  }
  body.contents = contents;
  const tools = asArray(chat.tools).map(asObject);
  if (tools.length > 0) {
    body.tools = [{ functionDeclarations: tools.map(declaration) }];
  }
  const toolConfig = functionCalling(chat.tool_choice);
  if (toolConfig !== null) body.toolConfig = toolConfig;
  const config = generationConfig(chat);
  if (Object.keys(config).length > 0) body.generationConfig = config;
  return { body, dropped: [...dropped] };
}

function asObject(value: unknown): Json {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? value as Json
    : {};
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  return asArray(content).map((p) => String(asObject(p).text ?? "")).join("");
}

/** Consecutive user turns (tool results, then text) are one Gemini turn. */
function appendUser(contents: Json[], parts: Json[]): void {
  const last = contents.at(-1);
  if (last?.role === "user") (last.parts as Json[]).push(...parts);
  else contents.push({ role: "user", parts });
}

function modelContent(message: Json, names: Map<string, string>): Json {
  const parts: Json[] = [];
  const thinking = message.reasoning_content;
  if (typeof thinking === "string" && thinking !== "") {
    parts.push({ text: thinking, thought: true });
  }
  const text = textOf(message.content);
  if (text !== "") parts.push({ text });
  for (const call of asArray(message.tool_calls).map(asObject)) {
    const fn = asObject(call.function);
    const name = String(fn.name ?? "");
    if (typeof call.id === "string") names.set(call.id, name);
    parts.push({
      functionCall: { id: call.id, name, args: parseArgs(fn.arguments) },
    });
  }
  return { role: "model", parts };
}

function responsePart(message: Json, names: Map<string, string>): Json {
  const id = String(message.tool_call_id ?? "");
  const text = textOf(message.content);
  let response: Json;
  try {
    const parsed = JSON.parse(text);
    response = parsed !== null && typeof parsed === "object" &&
        !Array.isArray(parsed)
      ? parsed
      : { output: parsed };
  } catch {
    response = { output: text };
  }
  return { functionResponse: { id, name: names.get(id) ?? "", response } };
}

function userParts(content: unknown, dropped: Set<string>): Json[] {
  if (typeof content === "string") return [{ text: content }];
  const parts: Json[] = [];
  for (const part of asArray(content).map(asObject)) {
    if (part.type === "text") parts.push({ text: String(part.text ?? "") });
    else if (part.type === "image_url") {
      parts.push(imagePart(String(asObject(part.image_url).url ?? "")));
    } else dropped.add(`${String(part.type)} part`);
  }
  return parts;
}

const DATA_URL = /^data:([^;,]+);base64,(.*)$/s;

function imagePart(url: string): Json {
  const match = DATA_URL.exec(url);
  if (match !== null) {
    return { inlineData: { mimeType: match[1], data: match[2] } };
  }
  const ext = /\.(png|jpe?g|gif|webp)(?:$|\?)/i.exec(url)?.[1].toLowerCase();
  const mimeType = `image/${ext === "jpg" || ext === undefined ? "jpeg" : ext}`;
  return { fileData: { mimeType, fileUri: url } };
}

function declaration(tool: Json): Json {
  const fn = asObject(tool.function);
  const out: Json = { name: fn.name };
  if (typeof fn.description === "string") out.description = fn.description;
  if (fn.parameters !== undefined) out.parametersJsonSchema = fn.parameters;
  return out;
}

function functionCalling(choice: unknown): Json | null {
  if (choice === "none") return { functionCallingConfig: { mode: "NONE" } };
  if (choice === "auto") return { functionCallingConfig: { mode: "AUTO" } };
  if (choice === "required") return { functionCallingConfig: { mode: "ANY" } };
  const name = asObject(asObject(choice).function).name;
  if (typeof name !== "string") return null;
  return {
    functionCallingConfig: { mode: "ANY", allowedFunctionNames: [name] },
  };
}

const EFFORT_BUDGET: Record<string, number> = {
  minimal: 512,
  low: 1024,
  medium: 8192,
  high: 24576,
};

function generationConfig(chat: Json): Json {
  const config: Json = {};
  if (typeof chat.temperature === "number") {
    config.temperature = chat.temperature;
  }
  if (typeof chat.top_p === "number") config.topP = chat.top_p;
  const max = chat.max_completion_tokens ?? chat.max_tokens;
  if (typeof max === "number") config.maxOutputTokens = max;
  if (typeof chat.stop === "string") config.stopSequences = [chat.stop];
  else if (Array.isArray(chat.stop)) config.stopSequences = chat.stop;
  for (
    const [from, to] of [
      ["presence_penalty", "presencePenalty"],
      ["frequency_penalty", "frequencyPenalty"],
      ["seed", "seed"],
    ]
  ) {
    if (typeof chat[from] === "number") config[to] = chat[from];
  }
  const format = asObject(chat.response_format);
  if (format.type === "json_object") {
    config.responseMimeType = "application/json";
  } else if (format.type === "json_schema") {
    config.responseMimeType = "application/json";
    config.responseJsonSchema = asObject(format.json_schema).schema;
  }
  const effort = chat.reasoning_effort;
  if (typeof effort === "string" && effort in EFFORT_BUDGET) {
    config.thinkingConfig = {
      thinkingBudget: EFFORT_BUDGET[effort],
      includeThoughts: true,
    };
  }
  return config;
}
