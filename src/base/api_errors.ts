/**
 * Errors that flow-proxy itself answers with, shaped like the API the client
 * speaks: OpenAI's `{"error":{…}}`, Anthropic's for `/v1/messages`, or
 * Gemini's `{"error":{"code","message","status"}}` for its paths.
 */
import type { ApiFamily } from "./api_family.ts";

export type { ApiFamily };

/** The closed set of error types flow-proxy produces. */
export const ERROR_STATUS = {
  upstream_unreachable: 502,
  upstream_timeout: 504,
  no_credentials_available: 503,
  method_not_allowed: 405,
  payload_too_large: 413,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  rate_limited: 429,
  budget_exceeded: 429,
  limits_unavailable: 503,
  upgrade_required: 426,
  bad_request: 400,
  internal_error: 500,
} as const;

/** One of the keys of {@linkcode ERROR_STATUS}. */
export type ProxyErrorType = keyof typeof ERROR_STATUS;

/** Google's canonical status name for each error type (Gemini's `error.status`). */
const GOOGLE_STATUS: Record<ProxyErrorType, string> = {
  "upstream_unreachable": "UNAVAILABLE",
  "upstream_timeout": "DEADLINE_EXCEEDED",
  "no_credentials_available": "UNAVAILABLE",
  "method_not_allowed": "UNIMPLEMENTED",
  "payload_too_large": "INVALID_ARGUMENT",
  "unauthorized": "UNAUTHENTICATED",
  "forbidden": "PERMISSION_DENIED",
  "not_found": "NOT_FOUND",
  "rate_limited": "RESOURCE_EXHAUSTED",
  "budget_exceeded": "RESOURCE_EXHAUSTED",
  "limits_unavailable": "UNAVAILABLE",
  "upgrade_required": "FAILED_PRECONDITION",
  "bad_request": "INVALID_ARGUMENT",
  "internal_error": "INTERNAL",
};

/** The JSON body of an error, in the family's shape. */
export function errorBody(
  family: ApiFamily,
  type: ProxyErrorType,
  message: string,
): string {
  if (family === "anthropic") {
    return JSON.stringify({
      type: "error",
      error: { type, message },
    });
  }
  if (family === "gemini") {
    return JSON.stringify({
      error: {
        code: ERROR_STATUS[type],
        message,
        status: GOOGLE_STATUS[type],
      },
    });
  }
  return JSON.stringify({ error: { message, type, code: type } });
}

/** An error response in the client's shape; `headers` are added to it. */
export function errorResponse(
  family: ApiFamily,
  type: ProxyErrorType,
  message: string,
  headers?: HeadersInit,
): Response {
  const h = new Headers(headers);
  h.set("content-type", "application/json");
  return new Response(errorBody(family, type, message), {
    status: ERROR_STATUS[type],
    headers: h,
  });
}
