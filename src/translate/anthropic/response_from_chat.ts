/**
 * An OpenAI Chat Completions answer as an Anthropic Messages one. Pure.
 */
import type { Json } from "../types.ts";

/** Chat's `finish_reason` as Anthropic's `stop_reason`. */
export function stopReason(finish: unknown): string | null {
  switch (finish) {
    case "stop":
      return "end_turn";
    case "length":
      return "max_tokens";
    case "tool_calls":
    case "function_call":
      return "tool_use";
    case "content_filter":
      return "refusal";
    case null:
    case undefined:
      return null;
    default:
      return "end_turn";
  }
}

/** Chat's `usage` as Anthropic's (cached prompt tokens are cache reads). */
export function anthropicUsage(usage: unknown): Json {
  const u = (usage ?? {}) as Json;
  const prompt = typeof u.prompt_tokens === "number" ? u.prompt_tokens : 0;
  const cached = (u.prompt_tokens_details as Json | undefined)?.cached_tokens;
  const read = typeof cached === "number" ? cached : 0;
  // LiteLLM's own field for Anthropic cache writes; absent elsewhere.
  const write = typeof u.cache_creation_input_tokens === "number"
    ? u.cache_creation_input_tokens
    : 0;
  return {
    // Anthropic's input_tokens exclude cache reads and writes; Chat's
    // prompt_tokens include both (LiteLLM's count).
    input_tokens: Math.max(0, prompt - read - write),
    output_tokens: typeof u.completion_tokens === "number"
      ? u.completion_tokens
      : 0,
    cache_read_input_tokens: read,
    cache_creation_input_tokens: write,
  };
}

/** A tool call's `arguments` string as the tool_use `input` object. */
export function parseArguments(args: unknown): unknown {
  if (typeof args !== "string" || args.trim() === "") return {};
  try {
    return JSON.parse(args);
  } catch {
    return {};
  }
}

/** A Chat Completions response body as an Anthropic Messages one. */
export function chatToAnthropicResponse(res: Json): Json {
  const choice = (asArray(res.choices)[0] ?? {}) as Json;
  const message = (choice.message ?? {}) as Json;
  const content: Json[] = [];
  const blocks = asArray(message.thinking_blocks) as Json[];
  for (const block of blocks) {
    if (block.type === "redacted_thinking") {
      content.push({ type: "redacted_thinking", data: block.data ?? "" });
    } else {
      content.push({
        type: "thinking",
        thinking: typeof block.thinking === "string" ? block.thinking : "",
        signature: typeof block.signature === "string" ? block.signature : "",
      });
    }
  }
  if (
    blocks.length === 0 && typeof message.reasoning_content === "string" &&
    message.reasoning_content !== ""
  ) {
    content.push({
      type: "thinking",
      thinking: message.reasoning_content,
      signature: "",
    });
  }
  if (typeof message.content === "string" && message.content !== "") {
    content.push({ type: "text", text: message.content });
  }
  if (typeof message.refusal === "string" && message.refusal !== "") {
    content.push({ type: "text", text: message.refusal });
  }
  for (const call of asArray(message.tool_calls) as Json[]) {
    const fn = (call.function ?? {}) as Json;
    content.push({
      type: "tool_use",
      id: call.id,
      name: fn.name,
      input: parseArguments(fn.arguments),
    });
  }
  return {
    id: messageId(res.id),
    type: "message",
    role: "assistant",
    model: res.model,
    content,
    stop_reason: stopReason(choice.finish_reason),
    stop_sequence: null,
    usage: anthropicUsage(res.usage),
  };
}

/** An Anthropic-looking message id from Chat's (`chatcmpl-…` → `msg_…`). */
export function messageId(id: unknown): string {
  const raw = typeof id === "string" && id !== "" ? id : crypto.randomUUID();
  return "msg_" + raw.replace(/^chatcmpl-/, "");
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}
