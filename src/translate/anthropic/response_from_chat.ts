/**
 * An OpenAI Chat Completions answer as an Anthropic Messages one: the JSON
 * body and Flow's OpenAI-shaped error (issue 15, first direction). Pure.
 */

type Json = Record<string, unknown>;

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
  return {
    // Anthropic's input_tokens exclude the cache reads; Chat's include them.
    input_tokens: prompt - read,
    output_tokens: typeof u.completion_tokens === "number"
      ? u.completion_tokens
      : 0,
    cache_read_input_tokens: read,
    cache_creation_input_tokens: 0,
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

/** Anthropic's error type for an HTTP status. */
export function anthropicErrorType(status: number): string {
  if (status === 400) return "invalid_request_error";
  if (status === 401) return "authentication_error";
  if (status === 402) return "billing_error";
  if (status === 403) return "permission_error";
  if (status === 404) return "not_found_error";
  if (status === 413) return "request_too_large";
  if (status === 429) return "rate_limit_error";
  if (status === 504) return "timeout_error";
  if (status === 529 || status === 503) return "overloaded_error";
  return status >= 500 ? "api_error" : "invalid_request_error";
}

/**
 * An upstream error body (OpenAI's `{error: {message, type}}`, or anything
 * else) as Anthropic's `{type: "error", error: {type, message}}`; the
 * status stays the upstream's.
 */
export function chatToAnthropicError(status: number, text: string): Json {
  let message = text.trim();
  try {
    const parsed = JSON.parse(text) as Json;
    const error = parsed?.error;
    if (typeof error === "string") message = error;
    else if (error && typeof (error as Json).message === "string") {
      message = (error as Json).message as string;
    } else if (typeof parsed?.message === "string") {
      message = parsed.message as string;
    }
  } catch {
    // not JSON: the text itself is the message
  }
  if (message === "") message = `Upstream answered ${status}`;
  return {
    type: "error",
    error: { type: anthropicErrorType(status), message },
  };
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}
