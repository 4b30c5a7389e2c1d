/**
 * Answers flow-proxy gives itself: an error in the shape of the API the
 * client speaks, carrying the request's id.
 */
import type { Logger } from "@logtape/logtape";
import {
  type ApiFamily,
  errorResponse,
  type ProxyErrorType,
} from "../base/api_errors.ts";

/** The methods a 405 names in `Allow`. */
export const ALLOW = "GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS";

/** What {@linkcode errorAnswer} answers. */
export interface ErrorAnswer {
  family: ApiFamily;
  type: ProxyErrorType;
  message: string;
  /** Added to the response (`allow`, `retry-after`, …). */
  headers?: HeadersInit;
}

/** The error response for request `id`. */
export function errorAnswer(id: string, error: ErrorAnswer): Response {
  const res = errorResponse(
    error.family,
    error.type,
    error.message,
    error.headers,
  );
  res.headers.set("x-request-id", id);
  return res;
}

/** Options of {@linkcode refuseLocally}. */
export interface LocalRefusal extends ErrorAnswer {
  id: string;
  logger: Logger;
}

/** A refusal that no upstream sees: logged, and the body (if any) dropped. */
export async function refuseLocally(
  req: Request,
  refusal: LocalRefusal,
): Promise<Response> {
  refusal.logger.warn(`Refused a request: ${refusal.message} [${refusal.id}]`);
  await req.body?.cancel().catch(() => {});
  return errorAnswer(refusal.id, {
    family: refusal.family,
    type: refusal.type,
    message: refusal.message,
    headers: refusal.type === "method_not_allowed"
      ? { allow: ALLOW }
      : refusal.headers,
  });
}
