/**
 * A Chat Completions request (the hub, src/translate/types.ts) as an
 * Anthropic Messages request, for a model Flow serves on `/v1/messages`
 * only. Pure: JSON in, JSON out, with what could not be carried across.
 *
 * Anthropic needs what Chat leaves open: `max_tokens` (defaulted to the
 * model's output limit, else {@linkcode DEFAULT_MAX_TOKENS}), turns that
 * alternate and start with the user, tool results inside a user turn, and
 * with thinking on, no `temperature`/`top_p` and `max_tokens` above the
 * budget. `response_format` is dropped: Anthropic on Bedrock has no JSON
 * mode, and a forced tool would change the answer's shape.
 */
import type { Json, RequestContext, RequestTranslation } from "../types.ts";
import { messagesOf } from "./messages_from_chat.ts";
import { EFFORT_BUDGET, MIN_BUDGET_TOKENS } from "./thinking.ts";

/** `max_tokens` when the request gives none and the model's limit is unknown. */
export const DEFAULT_MAX_TOKENS = 4096;

/** Chat fields Anthropic has no counterpart for: dropped, by name. */
const DROPPED_FIELDS = [
  "n",
  "logprobs",
  "top_logprobs",
  "seed",
  "presence_penalty",
  "frequency_penalty",
  "logit_bias",
  "response_format",
  "modalities",
  "audio",
  "prediction",
  "store",
  "metadata",
  "service_tier",
  "functions",
  "function_call",
  "web_search_options",
  "verbosity",
];

/** Fields read below (or harmless) that are never reported as dropped. */
const READ_FIELDS = new Set([
  "model",
  "messages",
  "max_tokens",
  "max_completion_tokens",
  "temperature",
  "top_p",
  "stop",
  "stream",
  "stream_options",
  "user",
  "tools",
  "tool_choice",
  "parallel_tool_calls",
  "reasoning_effort",
  ...DROPPED_FIELDS,
]);

/** Translates a Chat Completions request to Anthropic Messages. */
export function chatToAnthropicRequest(
  chat: Json,
  context: RequestContext,
): RequestTranslation {
  const dropped = new Set<string>();
  const { system, messages } = messagesOf(chat.messages, dropped);
  const body: Json = { model: context.model };
  if (system !== null) body.system = system;
  body.messages = messages;
  body.max_tokens = maxTokens(chat, context);
  for (const key of ["temperature", "top_p"] as const) {
    if (typeof chat[key] === "number") body[key] = chat[key];
  }
  const stop = stopSequences(chat.stop);
  if (stop.length > 0) body.stop_sequences = stop;
  if (chat.stream === true) body.stream = true;
  if (typeof chat.user === "string" && chat.user !== "") {
    body.metadata = { user_id: chat.user };
  }
  applyTools(chat, body, dropped);
  applyThinking(chat.reasoning_effort, body, {
    dropped,
    takes: context.thinking,
  });
  for (const key of DROPPED_FIELDS) {
    const value = chat[key];
    if (value === undefined || value === null || value === false) continue;
    if (key === "n" && value === 1) continue;
    dropped.add(key);
  }
  for (const key of Object.keys(chat)) {
    if (!READ_FIELDS.has(key)) dropped.add(key);
  }
  return { body, dropped: [...dropped] };
}

/** The request's `max_tokens`: the client's, else the model's limit; never above it. */
function maxTokens(chat: Json, context: RequestContext): number {
  const limit = context.outputLimit;
  const asked = [chat.max_completion_tokens, chat.max_tokens].find((v) =>
    typeof v === "number" && Number.isInteger(v) && v > 0
  ) as number | undefined;
  if (asked === undefined) return limit ?? DEFAULT_MAX_TOKENS;
  return limit !== undefined && asked > limit ? limit : asked;
}

/** Chat's `stop` (a string or an array) as `stop_sequences`. */
function stopSequences(stop: unknown): string[] {
  if (typeof stop === "string") return stop === "" ? [] : [stop];
  if (!Array.isArray(stop)) return [];
  return stop.filter((s): s is string => typeof s === "string" && s !== "");
}

/** `tools`, `tool_choice` and `parallel_tool_calls` in Anthropic's shape. */
function applyTools(chat: Json, body: Json, dropped: Set<string>): void {
  const tools: Json[] = [];
  for (const tool of Array.isArray(chat.tools) ? chat.tools as Json[] : []) {
    const fn = tool?.function as Json | undefined;
    if (tool?.type !== "function" || typeof fn?.name !== "string") {
      dropped.add(`tool (${String(tool?.type)})`);
      continue;
    }
    const out: Json = {
      name: fn.name,
      "input_schema": inputSchema(fn.parameters),
    };
    if (typeof fn.description === "string") out.description = fn.description;
    tools.push(out);
  }
  if (tools.length > 0) body.tools = tools;
  const choice = toolChoice(chat.tool_choice);
  if (tools.length === 0) {
    if (chat.tool_choice !== undefined) dropped.add("tool_choice");
    return;
  }
  if (chat.parallel_tool_calls === false) {
    const base = choice ?? { type: "auto" };
    if (base.type !== "none") base.disable_parallel_tool_use = true;
    body.tool_choice = base;
  } else if (choice !== null) body.tool_choice = choice;
}

/** A function's `parameters` as an `input_schema` (which must be an object schema). */
function inputSchema(parameters: unknown): Json {
  if (
    parameters === null || typeof parameters !== "object" ||
    Array.isArray(parameters)
  ) return { type: "object", properties: {} };
  const schema = parameters as Json;
  return schema.type === undefined ? { type: "object", ...schema } : schema;
}

/** Chat's `tool_choice` as Anthropic's; null when absent or unknown. */
function toolChoice(choice: unknown): Json | null {
  if (choice === "auto") return { type: "auto" };
  if (choice === "required") return { type: "any" };
  if (choice === "none") return { type: "none" };
  if (choice !== null && typeof choice === "object") {
    const name = ((choice as Json).function as Json | undefined)?.name;
    if (typeof name === "string") return { type: "tool", name };
  }
  return null;
}

/** What {@linkcode applyThinking} needs besides the effort and the body. */
interface ThinkingOptions {
  dropped: Set<string>;
  /** The thinking types the model takes; absent: unknown, `enabled` assumed. */
  takes: readonly string[] | undefined;
}

/**
 * `reasoning_effort` as `thinking: {type: "enabled", budget_tokens}`
 * (`EFFORT_BUDGET` in thinking.ts, lowered to fit under `max_tokens`), with
 * `temperature` and `top_p` removed as Anthropic requires. Thinking is
 * dropped instead when `max_tokens` leaves no room for the minimum budget,
 * the tool choice forces a tool (Anthropic refuses both together), or the
 * catalogue says the model takes no thinking; a model that takes only
 * adaptive thinking gets `{type: "adaptive"}`.
 */
function applyThinking(
  effort: unknown,
  body: Json,
  { dropped, takes }: ThinkingOptions,
): void {
  if (effort === undefined || effort === null || effort === "none") return;
  if (takes !== undefined && !takes.includes("enabled")) {
    if (takes.includes("adaptive")) {
      body.thinking = { type: "adaptive" };
      dropTemperature(body, dropped);
    } else dropped.add("reasoning_effort (the model takes no thinking)");
    return;
  }
  const wanted = typeof effort === "string" ? EFFORT_BUDGET[effort] : undefined;
  if (wanted === undefined) {
    dropped.add(`reasoning_effort ${JSON.stringify(effort)}`);
    return;
  }
  const max = body.max_tokens as number;
  const forced = (body.tool_choice as Json | undefined)?.type;
  if (max - 1 < MIN_BUDGET_TOKENS || forced === "any" || forced === "tool") {
    dropped.add("reasoning_effort");
    return;
  }
  body.thinking = {
    type: "enabled",
    budget_tokens: Math.min(wanted, max - 1),
  };
  dropTemperature(body, dropped);
}

/** Anthropic takes neither `temperature` nor `top_p` with thinking. */
function dropTemperature(body: Json, dropped: Set<string>): void {
  for (const key of ["temperature", "top_p"]) {
    if (body[key] !== undefined) {
      delete body[key];
      dropped.add(`${key} (with thinking)`);
    }
  }
}
