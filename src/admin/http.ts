/**
 * What every admin route shares: reading a bounded JSON body and answering
 * JSON that no cache keeps (a created key or token is in the body).
 *
 * @module
 */
import { errorResponse, type ProxyErrorType } from "../base/api_errors.ts";
import type { AccountsAnswer, AccountsCall } from "../accounts/calls.ts";
import { CLICKHOUSE_READ_ERROR } from "../request_log/clickhouse_queries.ts";

/** Largest request body the admin API reads. */
export const MAX_BODY_BYTES = 64 * 1024;

/** The body as a JSON object, or a message saying why it is not one. */
export async function readJsonObject(
  req: Request,
): Promise<Record<string, unknown> | string> {
  const declared = Number(req.headers.get("content-length") ?? 0);
  if (declared > MAX_BODY_BYTES) {
    return `Request body is larger than ${MAX_BODY_BYTES} bytes`;
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (req.body) {
    for await (const chunk of req.body) {
      size += chunk.byteLength;
      if (size > MAX_BODY_BYTES) {
        return `Request body is larger than ${MAX_BODY_BYTES} bytes`;
      }
      chunks.push(chunk);
    }
  }
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(concat(chunks, size)));
  } catch {
    return "Request body must be a JSON object";
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return "Request body must be a JSON object";
  }
  return value as Record<string, unknown>;
}

/** The first field of `body` not in `allowed`, as an error message; null when all are known. */
export function unknownField(
  body: Record<string, unknown>,
  allowed: readonly string[],
): string | null {
  const unknown = Object.keys(body).find((k) => !allowed.includes(k));
  return unknown === undefined ? null : `Unknown field "${unknown}"`;
}

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/** A JSON answer with `status`, never cached. */
export function json(
  status: number,
  body: unknown,
  headers?: HeadersInit,
): Response {
  const h = new Headers(headers);
  h.set("content-type", "application/json");
  // A created key or token is in the body: no cache may keep it.
  h.set("cache-control", "no-store");
  return new Response(JSON.stringify(body), { status, headers: h });
}

/** An error answer in OpenAI's shape, never cached. */
export function fail(
  type: ProxyErrorType,
  message: string,
  headers?: HeadersInit,
): Response {
  const response = errorResponse("openai", type, message, headers);
  response.headers.set("cache-control", "no-store");
  return response;
}

/** 405 naming the methods `allow`. */
export function methodNotAllowed(allow: string): Response {
  return fail("method_not_allowed", `Use ${allow}`, { allow });
}

/** The path segment after `prefix`, percent-decoded; null when it is malformed. */
export function pathName(rest: string, prefix: string): string | null {
  try {
    return decodeURIComponent(rest.slice(prefix.length));
  } catch {
    return null;
  }
}

/** A JSON answer of an accounts call: `shape` of its value, or the refusal as an error. */
export function answer<C extends AccountsCall["call"]>(
  result: AccountsAnswer<C>,
  shape: (value: Extract<AccountsAnswer<C>, { ok: true }>["value"]) => unknown,
  status = 200,
): Response {
  if (!result.ok) return fail(result.kind, result.message);
  return json(status, shape(result.value as never));
}

/**
 * Runs a read of the request log; a ClickHouse that cannot be read answers
 * 503 `request_log_unavailable` (one instance's numbers would mislead).
 */
export async function readLog<T>(
  read: () => Promise<T>,
): Promise<T | Response> {
  try {
    return await read();
  } catch (err) {
    const message = (err as Error).message;
    if (!message.startsWith(CLICKHOUSE_READ_ERROR)) throw err;
    return json(503, {
      error: {
        message,
        type: "request_log_unavailable",
        code: "request_log_unavailable",
      },
    }, { "retry-after": "10" });
  }
}
