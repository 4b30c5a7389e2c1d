/**
 * Errors in Anthropic's shape: `{type: "error", error: {type, message}}`,
 * the type chosen from the HTTP status when the upstream gave none that
 * Anthropic knows.
 */
import type { ErrorInfo, Json } from "../types.ts";

/** Anthropic's error types, for keeping an upstream's own. */
const ANTHROPIC_TYPES = new Set([
  "invalid_request_error",
  "authentication_error",
  "billing_error",
  "permission_error",
  "not_found_error",
  "request_too_large",
  "rate_limit_error",
  "api_error",
  "timeout_error",
  "overloaded_error",
]);

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

/** `info` as an Anthropic error body (the status stays `info.status`). */
export function anthropicErrorBody(info: ErrorInfo): Json {
  const type = info.type !== undefined && ANTHROPIC_TYPES.has(info.type)
    ? info.type
    : anthropicErrorType(info.status);
  return { type: "error", error: { type, message: info.message } };
}
