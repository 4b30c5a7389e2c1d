/**
 * An upstream error body in any API's shape (or plain text) read as an
 * {@linkcode ErrorInfo}: OpenAI's `{error: {message, type, code, param}}`,
 * Anthropic's `{type: "error", error: {type, message}}`, Gemini's
 * `{error: {code, message, status}}`, LiteLLM's `{error: "…"}` or
 * `{detail: "…"}`, or any text. The status stays the upstream's.
 */
import type { ErrorInfo, Json } from "./types.ts";

/** `text` (an error body with HTTP `status`) as an {@linkcode ErrorInfo}. */
export function readErrorBody(status: number, text: string): ErrorInfo {
  let parsed: unknown = undefined;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: the text itself is the message
  }
  return readErrorValue(status, parsed, text.trim());
}

/**
 * An error already parsed (a stream's error event data, say) as an
 * {@linkcode ErrorInfo}; `fallback` is the message when it holds none.
 */
export function readErrorValue(
  status: number,
  value: unknown,
  fallback = "",
): ErrorInfo {
  const info: ErrorInfo = { status, message: fallback };
  if (value === null || typeof value !== "object") return finish(info);
  const body = value as Json;
  const error = body.error;
  if (typeof error === "string") info.message = error;
  else if (error !== null && typeof error === "object") {
    const e = error as Json;
    if (typeof e.message === "string") info.message = e.message;
    const type = typeof e.type === "string"
      ? e.type
      : typeof e.status === "string"
      ? e.status
      : undefined;
    if (type !== undefined) info.type = type;
    if (typeof e.code === "string") info.code = e.code;
    if (typeof e.param === "string") info.param = e.param;
  } else if (typeof body.message === "string") info.message = body.message;
  else if (typeof body.detail === "string") info.message = body.detail;
  return finish(info);
}

function finish(info: ErrorInfo): ErrorInfo {
  if (info.message === "") info.message = `Upstream answered ${info.status}`;
  return info;
}

/** OpenAI's error `type` for an HTTP status (Chat Completions and Responses). */
export function openAiErrorType(status: number): string {
  if (status === 401) return "authentication_error";
  if (status === 403) return "permission_error";
  if (status === 404) return "not_found_error";
  if (status === 429) return "rate_limit_error";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}
