/**
 * Errors in Gemini's shape: `{error: {code, message, status}}`, where
 * `code` is the HTTP status and `status` Google's canonical name for it.
 */
import type { ErrorInfo, Json } from "../types.ts";

/** Google's canonical status names, for keeping an upstream's own. */
const GOOGLE_STATUSES = new Set([
  "INVALID_ARGUMENT",
  "FAILED_PRECONDITION",
  "OUT_OF_RANGE",
  "UNAUTHENTICATED",
  "PERMISSION_DENIED",
  "NOT_FOUND",
  "ABORTED",
  "ALREADY_EXISTS",
  "RESOURCE_EXHAUSTED",
  "CANCELLED",
  "DATA_LOSS",
  "UNKNOWN",
  "INTERNAL",
  "UNIMPLEMENTED",
  "UNAVAILABLE",
  "DEADLINE_EXCEEDED",
]);

/** Google's status name for an HTTP status. */
export function geminiStatus(status: number): string {
  switch (status) {
    case 400:
    case 413:
      return "INVALID_ARGUMENT";
    case 401:
      return "UNAUTHENTICATED";
    case 403:
      return "PERMISSION_DENIED";
    case 404:
      return "NOT_FOUND";
    case 405:
    case 501:
      return "UNIMPLEMENTED";
    case 409:
      return "ABORTED";
    case 429:
      return "RESOURCE_EXHAUSTED";
    case 499:
      return "CANCELLED";
    case 502:
    case 503:
      return "UNAVAILABLE";
    case 504:
      return "DEADLINE_EXCEEDED";
  }
  return status >= 500 ? "INTERNAL" : "INVALID_ARGUMENT";
}

/** `info` as a Gemini error body (the status stays `info.status`). */
export function geminiErrorBody(info: ErrorInfo): Json {
  const status = info.type !== undefined && GOOGLE_STATUSES.has(info.type)
    ? info.type
    : geminiStatus(info.status);
  return { error: { code: info.status, message: info.message, status } };
}
