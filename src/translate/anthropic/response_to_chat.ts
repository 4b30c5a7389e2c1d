/**
 * An Anthropic Messages answer as a Chat Completions one (the hub's, with
 * LiteLLM's `reasoning_content`, `thinking_blocks` and
 * `cache_creation_input_tokens`). Pure but for `created`, the current time.
 */
import type { Json } from "../types.ts";

/** Anthropic's `stop_reason` as Chat's `finish_reason`. */
export function finishReason(stop: unknown): string {
  switch (stop) {
    case "max_tokens":
    case "model_context_window_exceeded":
      return "length";
    case "tool_use":
      return "tool_calls";
    case "refusal":
      return "content_filter";
    default:
      // end_turn, stop_sequence, pause_turn
      return "stop";
  }
}

/**
 * Anthropic's `usage` as Chat's: `prompt_tokens` counts the input, the
 * cache reads and the cache writes (Anthropic's `input_tokens` counts
 * neither); reads are `cached_tokens`, writes LiteLLM's
 * `cache_creation_input_tokens`.
 */
export function chatUsage(usage: unknown): Json {
  const u = (usage ?? {}) as Json;
  const input = count(u.input_tokens);
  const read = count(u.cache_read_input_tokens);
  const write = count(u.cache_creation_input_tokens);
  const output = count(u.output_tokens);
  const prompt = input + read + write;
  return {
    prompt_tokens: prompt,
    completion_tokens: output,
    total_tokens: prompt + output,
    prompt_tokens_details: { cached_tokens: read },
    cache_creation_input_tokens: write,
  };
}

function count(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) ? value : 0;
}

/** Anthropic's message id as a Chat one (`msg_…` → `chatcmpl-…`). */
export function completionId(id: unknown): string {
  const raw = typeof id === "string" && id !== "" ? id : crypto.randomUUID();
  return "chatcmpl-" + raw.replace(/^msg_/, "");
}

/** An Anthropic Messages response body as a Chat Completions one. */
export function anthropicToChatResponse(res: Json, model: string): Json {
  let text = "";
  let reasoning = "";
  const thinking: Json[] = [];
  const calls: Json[] = [];
  for (const block of Array.isArray(res.content) ? res.content as Json[] : []) {
    if (block?.type === "text") text += String(block.text ?? "");
    else if (block?.type === "thinking") {
      reasoning += String(block.thinking ?? "");
      thinking.push({
        type: "thinking",
        thinking: String(block.thinking ?? ""),
        signature: String(block.signature ?? ""),
      });
    } else if (block?.type === "redacted_thinking") {
      thinking.push({ type: "redacted_thinking", data: block.data ?? "" });
    } else if (block?.type === "tool_use") {
      calls.push({
        id: block.id,
        type: "function",
        function: {
          name: block.name,
          arguments: JSON.stringify(block.input ?? {}),
        },
      });
    }
  }
  const message: Json = {
    role: "assistant",
    content: text === "" && calls.length > 0 ? null : text,
  };
  if (calls.length > 0) message.tool_calls = calls;
  if (reasoning !== "") message.reasoning_content = reasoning;
  if (thinking.length > 0) message.thinking_blocks = thinking;
  return {
    id: completionId(res.id),
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model: typeof res.model === "string" ? res.model : model,
    choices: [{
      index: 0,
      message,
      finish_reason: finishReason(res.stop_reason),
    }],
    usage: chatUsage(res.usage),
  };
}
