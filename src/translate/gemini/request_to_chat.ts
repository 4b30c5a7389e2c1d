/**
 * A Gemini `generateContent` request body as a Chat Completions one. Pure:
 * JSON in, JSON out, with what could not be carried across (for the DEBUG
 * line). Gemini's function calls have no ids (or optional ones): each call
 * without one gets `call_<n>`, and each `functionResponse` without one
 * answers the earliest unanswered call of the same name.
 */
import type { Json, RequestContext, RequestTranslation } from "../types.ts";
import { cleanJsonSchema, openApiToJsonSchema } from "./schema.ts";

/** OpenAI models that take `max_completion_tokens` only. */
const REASONING_MODEL = /^(?:[\w.-]+\/)?(?:gpt-5|o\d)/;
/** Models that take `reasoning_effort` through Flow's LiteLLM. */
const THINKING_MODEL = /(?:^|[./])(?:gpt-5|o\d|gemini-(?:2\.5|[3-9])|claude)/;

/** The answer of {@linkcode geminiToChatRequest} when it refuses. */
function refusal(message: string): RequestTranslation {
  return { body: {}, dropped: [], refused: message };
}

/** Translates a Gemini `generateContent` request to Chat Completions. */
export function geminiToChatRequest(
  req: Json,
  context: RequestContext,
): RequestTranslation {
  const config = asObject(req.generationConfig);
  const count = config.candidateCount;
  if (typeof count === "number" && count > 1) {
    return refusal(
      `generationConfig.candidateCount ${count} is not supported for this model: ` +
        "it is reached through Chat Completions, and flow-proxy answers one candidate",
    );
  }
  if (!Array.isArray(req.contents)) {
    return refusal('"contents" must be an array of Content objects');
  }
  const dropped = new Set<string>();
  const messages: Json[] = [];
  const system = systemText(req.systemInstruction);
  if (system !== null) messages.push({ role: "system", content: system });
  const calls = new CallIds();
  for (const content of req.contents as unknown[]) {
    messages.push(...chatMessages(asObject(content), calls, dropped));
  }
  const body: Json = { model: context.model, messages };
  applyGenerationConfig(config, body, context.model, dropped);
  if (context.stream) {
    body.stream = true;
    body.stream_options = { include_usage: true };
  }
  const tools = chatTools(req.tools, dropped);
  if (tools.length > 0) body.tools = tools;
  applyToolConfig(asObject(req.toolConfig), body);
  for (const key of ["safetySettings", "cachedContent", "labels"]) {
    if (req[key] !== undefined) dropped.add(key);
  }
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

/** `systemInstruction` (a Content, or a bare string) as one string. */
function systemText(instruction: unknown): string | null {
  if (typeof instruction === "string") {
    return instruction === "" ? null : instruction;
  }
  const texts = asArray(asObject(instruction).parts)
    .map((p) => asObject(p).text)
    .filter((t): t is string => typeof t === "string");
  const text = texts.join("\n\n");
  return text === "" ? null : text;
}

/** Ids for function calls, and which call a response answers. */
class CallIds {
  #next = 1;
  #pending: { name: string; id: string }[] = [];

  /** The id of a call (its own, or `call_<n>`), remembered as unanswered. */
  call(name: string, own: unknown): string {
    const id = typeof own === "string" && own !== ""
      ? own
      : `call_${this.#next++}`;
    this.#pending.push({ name, id });
    return id;
  }

  /** The id a response answers: its own, else the first open call of that name. */
  answer(name: string, own: unknown): string {
    if (typeof own === "string" && own !== "") {
      this.#pending = this.#pending.filter((p) => p.id !== own);
      return own;
    }
    let at = this.#pending.findIndex((p) => p.name === name);
    if (at === -1 && this.#pending.length > 0) at = 0;
    if (at === -1) return `call_${this.#next++}`;
    return this.#pending.splice(at, 1)[0].id;
  }
}

/** One Gemini Content as Chat messages. */
function chatMessages(
  content: Json,
  calls: CallIds,
  dropped: Set<string>,
): Json[] {
  const parts = asArray(content.parts).map(asObject);
  return content.role === "model"
    ? [assistantMessage(parts, calls, dropped)]
    : userMessages(parts, calls, dropped);
}

/** A model turn: text, thought text and function calls in one message. */
function assistantMessage(
  parts: Json[],
  calls: CallIds,
  dropped: Set<string>,
): Json {
  let text = "";
  let thinking = "";
  const toolCalls: Json[] = [];
  for (const part of parts) {
    if (part.thoughtSignature !== undefined) dropped.add("thoughtSignature");
    if (typeof part.text === "string") {
      if (part.thought === true) thinking += part.text;
      else text += part.text;
    } else if (part.functionCall !== undefined) {
      const call = asObject(part.functionCall);
      const name = String(call.name ?? "");
      toolCalls.push({
        id: calls.call(name, call.id),
        type: "function",
        function: { name, arguments: JSON.stringify(call.args ?? {}) },
      });
    } else dropped.add(partKind(part));
  }
  const out: Json = { role: "assistant", content: text === "" ? null : text };
  if (thinking !== "") out.reasoning_content = thinking;
  if (toolCalls.length > 0) out.tool_calls = toolCalls;
  return out;
}

/**
 * A user turn: each functionResponse becomes a `tool` message (first, in
 * order, right after the assistant's calls), the rest one user message.
 */
function userMessages(
  parts: Json[],
  calls: CallIds,
  dropped: Set<string>,
): Json[] {
  const tools: Json[] = [];
  const content: Json[] = [];
  for (const part of parts) {
    if (part.thought === true) {
      dropped.add("thought in a user turn");
    } else if (typeof part.text === "string") {
      content.push({ type: "text", text: part.text });
    } else if (part.functionResponse !== undefined) {
      const response = asObject(part.functionResponse);
      const name = String(response.name ?? "");
      tools.push({
        role: "tool",
        tool_call_id: calls.answer(name, response.id),
        content: JSON.stringify(response.response ?? {}),
      });
    } else {
      const image = imagePart(part);
      if (image !== null) content.push(image);
      else dropped.add(partKind(part));
    }
  }
  const out = [...tools];
  if (content.length === 1 && content[0].type === "text") {
    out.push({ role: "user", content: content[0].text });
  } else if (content.length > 0) out.push({ role: "user", content });
  return out;
}

/** An image part (`inlineData` base64, `fileData` URI) as an `image_url` part. */
function imagePart(part: Json): Json | null {
  const inline = asObject(part.inlineData);
  if (isImage(inline.mimeType) && typeof inline.data === "string") {
    return {
      type: "image_url",
      image_url: { url: `data:${inline.mimeType};base64,${inline.data}` },
    };
  }
  const file = asObject(part.fileData);
  if (isImage(file.mimeType) && typeof file.fileUri === "string") {
    return { type: "image_url", image_url: { url: file.fileUri } };
  }
  return null;
}

function isImage(mime: unknown): mime is string {
  return typeof mime === "string" && mime.startsWith("image/");
}

/** The DEBUG line's name for a part that was dropped. */
function partKind(part: Json): string {
  for (const kind of ["inlineData", "fileData"]) {
    const mime = asObject(part[kind]).mimeType;
    if (part[kind] !== undefined) return `${kind} ${String(mime)}`;
  }
  const key = Object.keys(part).find((k) => k !== "thoughtSignature");
  return key === undefined ? "empty part" : `${key} part`;
}

/** `tools[].functionDeclarations` as Chat function tools; other tools dropped. */
function chatTools(tools: unknown, dropped: Set<string>): Json[] {
  const out: Json[] = [];
  for (const tool of asArray(tools).map(asObject)) {
    for (const key of Object.keys(tool)) {
      if (key !== "functionDeclarations") dropped.add(`tool ${key}`);
    }
    for (const decl of asArray(tool.functionDeclarations).map(asObject)) {
      out.push({ type: "function", function: chatFunction(decl) });
    }
  }
  return out;
}

function chatFunction(decl: Json): Json {
  const parameters = decl.parametersJsonSchema !== undefined
    ? cleanJsonSchema(decl.parametersJsonSchema)
    : decl.parameters !== undefined
    ? openApiToJsonSchema(decl.parameters)
    : { type: "object", properties: {} };
  const fn: Json = { name: decl.name, parameters };
  if (typeof decl.description === "string") fn.description = decl.description;
  return fn;
}

/** `toolConfig.functionCallingConfig` as `tool_choice` (and the allowed tools). */
function applyToolConfig(config: Json, body: Json): void {
  const calling = asObject(config.functionCallingConfig);
  const mode = calling.mode;
  if (mode === "NONE") body.tool_choice = "none";
  else if (mode === "AUTO" || mode === "VALIDATED") body.tool_choice = "auto";
  else if (mode === "ANY") {
    const allowed = asArray(calling.allowedFunctionNames)
      .filter((n): n is string => typeof n === "string");
    if (allowed.length > 0 && Array.isArray(body.tools)) {
      body.tools = (body.tools as Json[]).filter((t) =>
        allowed.includes(String(asObject(t.function).name))
      );
    }
    body.tool_choice = allowed.length === 1
      ? { type: "function", function: { name: allowed[0] } }
      : "required";
  }
}

/** `generationConfig` as Chat's sampling, limits, stop and output format. */
function applyGenerationConfig(
  config: Json,
  body: Json,
  model: string,
  dropped: Set<string>,
): void {
  if (typeof config.temperature === "number") {
    body.temperature = config.temperature;
  }
  if (typeof config.topP === "number") body.top_p = config.topP;
  if (typeof config.maxOutputTokens === "number") {
    const key = REASONING_MODEL.test(model)
      ? "max_completion_tokens"
      : "max_tokens";
    body[key] = config.maxOutputTokens;
  }
  const stops = asArray(config.stopSequences);
  if (stops.length > 0) body.stop = stops;
  if (typeof config.presencePenalty === "number") {
    body.presence_penalty = config.presencePenalty;
  }
  if (typeof config.frequencyPenalty === "number") {
    body.frequency_penalty = config.frequencyPenalty;
  }
  if (typeof config.seed === "number") body.seed = config.seed;
  for (
    const key of [
      "topK",
      "responseLogprobs",
      "logprobs",
      "mediaResolution",
      "speechConfig",
      "responseModalities",
    ]
  ) {
    if (config[key] !== undefined) dropped.add(`generationConfig.${key}`);
  }
  applyResponseFormat(config, body, dropped);
  applyThinking(asObject(config.thinkingConfig), body, model, dropped);
}

function applyResponseFormat(
  config: Json,
  body: Json,
  dropped: Set<string>,
): void {
  const mime = config.responseMimeType;
  if (mime === undefined || mime === "text/plain") return;
  if (mime !== "application/json") {
    dropped.add(`responseMimeType ${String(mime)}`);
    return;
  }
  const schema = config.responseJsonSchema !== undefined
    ? cleanJsonSchema(config.responseJsonSchema)
    : config.responseSchema !== undefined
    ? openApiToJsonSchema(config.responseSchema)
    : undefined;
  body.response_format = schema === undefined
    ? { type: "json_object" }
    : { type: "json_schema", json_schema: { name: "response", schema } };
}

/**
 * `thinkingConfig` as `reasoning_effort`, for models that take it: a
 * budget of 1–1024 tokens is `low`, up to 8192 `medium`, more `high`;
 * `thinkingLevel` is taken as it is; a budget of 0 or -1 (off, dynamic)
 * leaves the model's default.
 */
function applyThinking(
  thinking: Json,
  body: Json,
  model: string,
  dropped: Set<string>,
): void {
  if (Object.keys(thinking).length === 0) return;
  const budget = thinking.thinkingBudget;
  const level = thinking.thinkingLevel;
  let effort: string | null = null;
  if (typeof level === "string" && /^(?:low|medium|high)$/i.test(level)) {
    effort = level.toLowerCase();
  } else if (typeof budget === "number" && budget > 0) {
    effort = budget <= 1024 ? "low" : budget <= 8192 ? "medium" : "high";
  }
  if (effort !== null && THINKING_MODEL.test(model)) {
    body.reasoning_effort = effort;
  } else dropped.add("thinkingConfig");
}
