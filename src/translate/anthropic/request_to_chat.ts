/**
 * An Anthropic Messages request body as an OpenAI Chat Completions one
 * (issue 15, first direction). Pure: JSON in, JSON out, with the list of
 * what could not be carried across (for the DEBUG line). Thinking becomes
 * `reasoning_effort` (thinking.ts) for a model that reasons, and past
 * thinking blocks LiteLLM's `thinking_blocks` and `reasoning_content` for
 * Claude; elsewhere both are dropped.
 */
import {
  effortForThinking,
  keepsThinkingBlocks,
  takesReasoning,
} from "./thinking.ts";

/** A JSON object as parsed. */
type Json = Record<string, unknown>;

/** What {@linkcode anthropicToChatRequest} gives back. */
export interface ChatRequestTranslation {
  /** The Chat Completions body. */
  body: Json;
  /** What was dropped, one short phrase each (`thinking`, `cache_control`, …). */
  dropped: string[];
}

/** Options of {@linkcode anthropicToChatRequest}. */
export interface ChatRequestOptions {
  /** The model to name upstream (the mapped Flow name). */
  model: string;
}

/**
 * Translates an Anthropic Messages request to Chat Completions.
 * `max_tokens` stays `max_tokens` (every Chat provider takes it) except for
 * OpenAI's reasoning models (`gpt-5*`, `o1`/`o3`/`o4*`), which refuse it and
 * take `max_completion_tokens`.
 */
export function anthropicToChatRequest(
  req: Json,
  options: ChatRequestOptions,
): ChatRequestTranslation {
  const dropped = new Set<string>();
  const messages: Json[] = [];
  const system = systemText(req.system, dropped);
  if (system !== null) messages.push({ role: "system", content: system });
  const keepThinking = keepsThinkingBlocks(options.model);
  for (const message of asArray(req.messages)) {
    const chats = chatMessages(message as Json, dropped, keepThinking);
    for (const chat of chats) {
      pushMerged(messages, chat);
    }
  }
  const body: Json = { model: options.model, messages };
  if (typeof req.max_tokens === "number") {
    const key = REASONING_MODEL.test(options.model)
      ? "max_completion_tokens"
      : "max_tokens";
    body[key] = req.max_tokens;
  }
  for (const key of ["temperature", "top_p"] as const) {
    if (typeof req[key] === "number") body[key] = req[key];
  }
  if (Array.isArray(req.stop_sequences) && req.stop_sequences.length > 0) {
    body.stop = req.stop_sequences;
  }
  if (req.stream === true) {
    body.stream = true;
    body.stream_options = { include_usage: true };
  }
  const user = (req.metadata as Json | undefined)?.user_id;
  if (typeof user === "string") body.user = user;
  if (Array.isArray(req.tools) && req.tools.length > 0) {
    const tools = req.tools.map((t) => chatTool(t as Json, dropped))
      .filter((t) => t !== null);
    if (tools.length > 0) body.tools = tools;
  }
  applyToolChoice(req.tool_choice as Json | undefined, body);
  const effort = effortForThinking(req.thinking, req.output_config);
  if (effort !== null && takesReasoning(options.model)) {
    body.reasoning_effort = effort;
  } else if (effort !== null) dropped.add("thinking");
  if (req.top_k !== undefined) dropped.add("top_k");
  return { body, dropped: [...dropped] };
}

/** OpenAI models that take `max_completion_tokens` only. */
const REASONING_MODEL = /^(?:[\w.-]+\/)?(?:gpt-5|o\d)/;

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/**
 * Appends `message`, joined to the previous one when both are user turns:
 * Anthropic's API combines consecutive user turns into one, and Chat
 * models read the last user message as the request.
 */
function pushMerged(messages: Json[], message: Json): void {
  const last = messages.at(-1);
  if (last?.role !== "user" || message.role !== "user") {
    messages.push(message);
    return;
  }
  last.content = [...parts(last.content), ...parts(message.content)];
}

/** A user message's content as content parts. */
function parts(content: unknown): Json[] {
  return typeof content === "string"
    ? [{ type: "text", text: content }]
    : content as Json[];
}

/** The system prompt as one string (blocks joined by blank lines). */
function systemText(system: unknown, dropped: Set<string>): string | null {
  if (typeof system === "string") return system === "" ? null : system;
  if (!Array.isArray(system)) return null;
  const parts: string[] = [];
  for (const block of system as Json[]) {
    if (block.cache_control !== undefined) dropped.add("cache_control");
    if (block.type === "text" && typeof block.text === "string") {
      parts.push(block.text);
    }
  }
  return parts.length === 0 ? null : parts.join("\n\n");
}

/** One Anthropic message as one or more Chat messages. */
function chatMessages(
  message: Json,
  dropped: Set<string>,
  keepThinking: boolean,
): Json[] {
  const role = message.role === "assistant" ? "assistant" : "user";
  if (typeof message.content === "string") {
    return [{ role, content: message.content }];
  }
  const blocks = asArray(message.content) as Json[];
  return role === "assistant"
    ? [assistantMessage(blocks, dropped, keepThinking)]
    : userMessages(blocks, dropped);
}

/**
 * Text and tool_use blocks as one assistant message with `tool_calls`;
 * thinking blocks as `thinking_blocks` and `reasoning_content` when kept.
 */
function assistantMessage(
  blocks: Json[],
  dropped: Set<string>,
  keepThinking: boolean,
): Json {
  let text = "";
  let reasoning = "";
  const thinking: Json[] = [];
  const calls: Json[] = [];
  for (const block of blocks) {
    if (block.cache_control !== undefined) dropped.add("cache_control");
    if (block.type === "text") text += String(block.text ?? "");
    else if (block.type === "tool_use") {
      calls.push({
        id: block.id,
        type: "function",
        function: {
          name: block.name,
          arguments: JSON.stringify(block.input ?? {}),
        },
      });
    } else if (!keepThinking && isThinking(block)) {
      dropped.add("thinking blocks");
    } else if (block.type === "thinking") {
      reasoning += String(block.thinking ?? "");
      thinking.push({
        type: "thinking",
        thinking: String(block.thinking ?? ""),
        signature: String(block.signature ?? ""),
      });
    } else if (block.type === "redacted_thinking") {
      thinking.push({ type: "redacted_thinking", data: block.data ?? "" });
    } else dropped.add(`${block.type} block`);
  }
  const out: Json = { role: "assistant", content: text === "" ? null : text };
  if (calls.length > 0) out.tool_calls = calls;
  if (reasoning !== "") out.reasoning_content = reasoning;
  if (thinking.length > 0) out.thinking_blocks = thinking;
  return out;
}

function isThinking(block: Json): boolean {
  return block.type === "thinking" || block.type === "redacted_thinking";
}

/**
 * A user turn: each tool_result becomes a `tool` message (first, in order,
 * as Chat wants them right after the assistant's calls), the rest one user
 * message of content parts.
 */
function userMessages(blocks: Json[], dropped: Set<string>): Json[] {
  const tools: Json[] = [];
  const parts: Json[] = [];
  for (const block of blocks) {
    if (block.cache_control !== undefined) dropped.add("cache_control");
    if (block.type === "tool_result") {
      tools.push({
        role: "tool",
        tool_call_id: block.tool_use_id,
        content: toolResultText(block, dropped),
      });
    } else if (block.type === "text") {
      parts.push({ type: "text", text: block.text });
    } else if (block.type === "image") {
      const part = imagePart(block);
      if (part !== null) parts.push(part);
      else dropped.add("image source");
    } else dropped.add(`${block.type} block`);
  }
  const out = [...tools];
  if (parts.length === 1 && parts[0].type === "text") {
    out.push({ role: "user", content: parts[0].text });
  } else if (parts.length > 0) out.push({ role: "user", content: parts });
  return out;
}

/** A tool_result's content as text (an error result says so). */
function toolResultText(block: Json, dropped: Set<string>): string {
  let text: string;
  if (typeof block.content === "string") text = block.content;
  else {
    text = (asArray(block.content) as Json[]).map((part) => {
      if (part.type === "text") return String(part.text ?? "");
      dropped.add(`${part.type} in tool_result`);
      return "";
    }).join("");
  }
  return block.is_error === true ? `Error: ${text}` : text;
}

/** An image block (base64 or URL source) as an `image_url` part. */
function imagePart(block: Json): Json | null {
  const source = block.source as Json | undefined;
  if (source?.type === "base64") {
    return {
      type: "image_url",
      image_url: { url: `data:${source.media_type};base64,${source.data}` },
    };
  }
  if (source?.type === "url" && typeof source.url === "string") {
    return { type: "image_url", image_url: { url: source.url } };
  }
  return null;
}

/** A custom tool as a function tool; a server tool (no schema) is dropped. */
function chatTool(tool: Json, dropped: Set<string>): Json | null {
  if (tool.input_schema === undefined) {
    dropped.add(`tool ${String(tool.name)} (${String(tool.type)})`);
    return null;
  }
  if (tool.cache_control !== undefined) dropped.add("cache_control");
  const fn: Json = {
    name: tool.name,
    parameters: cleanSchema(tool.input_schema),
  };
  if (typeof tool.description === "string") fn.description = tool.description;
  return { type: "function", function: fn };
}

/**
 * A JSON schema with every `type: "object"` that lacks `properties` given
 * `properties: {}` (some providers behind Chat refuse it otherwise).
 */
export function cleanSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(cleanSchema);
  if (schema === null || typeof schema !== "object") return schema;
  const out: Json = {};
  for (const [key, value] of Object.entries(schema)) {
    out[key] = cleanSchema(value);
  }
  if (out.type === "object" && out.properties === undefined) {
    out.properties = {};
  }
  return out;
}

/** Anthropic's `tool_choice` as Chat's (with `disable_parallel_tool_use`). */
function applyToolChoice(choice: Json | undefined, body: Json): void {
  if (choice === undefined || choice === null) return;
  if (choice.type === "auto") body.tool_choice = "auto";
  else if (choice.type === "any") body.tool_choice = "required";
  else if (choice.type === "none") body.tool_choice = "none";
  else if (choice.type === "tool") {
    body.tool_choice = { type: "function", function: { name: choice.name } };
  }
  if (choice.disable_parallel_tool_use === true && body.tools !== undefined) {
    body.parallel_tool_calls = false;
  }
}
