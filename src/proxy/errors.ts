/**
 * Errors that flow-proxy itself answers with, shaped like the API the client
 * speaks: OpenAI's `{"error":{…}}`, or Anthropic's for `/v1/messages`.
 */

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
  bad_request: 400,
  internal_error: 500,
} as const;

/** One of the keys of {@linkcode ERROR_STATUS}. */
export type ProxyErrorType = keyof typeof ERROR_STATUS;

/** Which error shape a client expects. */
export type ApiFamily = "openai" | "anthropic";

/** The API family of a request path: Anthropic for `/v1/messages…`, else OpenAI. */
export function apiFamily(path: string): ApiFamily {
  return /(^|\/)v1\/messages(\/|$)/.test(path) ? "anthropic" : "openai";
}

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

/** What a failed upstream `fetch` tells about the request, for the client and the failover. */
export interface FetchFailure {
  /**
   * True only when the request provably never reached the upstream: the
   * connection could not be made (refused, name not resolved, TLS failed).
   */
  unsent: boolean;
  /** A short cause without internals (no URL, address or port), for the client. */
  reason: string;
}

// Deno's fetch throws `TypeError: fetch failed` whose cause's message is
// hyper's: "error sending request [from <local>] for <url> (<addr>): client
// error (<phase>): <detail>". No error code is exposed, so the text is all
// there is. Only the Connect phase proves that nothing was written: a
// connection closed after the body was read and one closed before a byte
// arrived both read "connection closed before message completed".
const CONNECT_CAUSES: [RegExp, string][] = [
  [/dns error|failed to lookup address/i, "the host name cannot be resolved"],
  [/connection refused/i, "Connection refused"],
  [/no route to host|host is unreachable/i, "No route to host"],
  [/network is unreachable/i, "Network is unreachable"],
  [/tls|certificate|handshake/i, "TLS handshake failed"],
  [/timed out/i, "Connection timed out"],
];
const CONNECT_PHASE = /client error \(Connect\)|tcp connect error/i;
const HYPER_PHASE = /client error \(/i;
const SENT_CAUSES: [RegExp, string][] = [
  [
    /connection closed before message completed|unexpected eof|incomplete/i,
    "the connection closed before the response was complete",
  ],
  [/reset/i, "connection reset"],
  [/broken pipe/i, "connection closed"],
  [/timed out/i, "timed out"],
];

/** Sorts out why an upstream `fetch` (or a read of its body) failed. */
export function classifyFetchError(err: unknown): FetchFailure {
  const text = causeText(err);
  // A bare refusal (no hyper phase, as a mocked fetch throws) cannot come
  // after bytes were written either.
  if (
    CONNECT_PHASE.test(text) ||
    (!HYPER_PHASE.test(text) && /connection refused/i.test(text))
  ) {
    for (const [pattern, reason] of CONNECT_CAUSES) {
      if (pattern.test(text)) return { unsent: true, reason };
    }
    return { unsent: true, reason: "cannot connect" };
  }
  for (const [pattern, reason] of SENT_CAUSES) {
    if (pattern.test(text)) return { unsent: false, reason };
  }
  return { unsent: false, reason: "connection failed" };
}

/** The messages of an error and its causes, for matching only. */
function causeText(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  for (let depth = 0; depth < 4 && current !== undefined; depth++) {
    parts.push(current instanceof Error ? current.message : String(current));
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join(": ");
}
