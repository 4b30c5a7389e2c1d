/**
 * What every response path shares: the upstream's status and headers sent
 * on with the client's body, and the record's error for what was relayed.
 */
import { describe } from "../base/describe.ts";
import { copyResponseHeaders } from "./headers.ts";
import { classifyFetchError } from "./fetch_errors.ts";
import type { Exchange, RecordError } from "./exchange.ts";

/** The client's message for a body that failed mid-way; the detail goes to the log. */
export function midResponse(err: unknown, call: Exchange): string {
  const message = `The upstream connection failed mid-response: ${
    classifyFetchError(err).reason
  }`;
  call.context.logger.warn(`${message} (${describe(err)}) [${call.id}]`);
  return message;
}

/** The client's response: the upstream's status and headers, and `body`. */
export function relay(
  call: Exchange,
  res: Response,
  body: BodyInit | null,
): Response {
  const out = new Response(body, {
    status: res.status,
    statusText: res.statusText,
  });
  copyResponseHeaders(res.headers, out.headers, {
    id: call.id,
    extra: call.extraHeaders,
    redactor: call.redactor!,
  });
  return out;
}

/** The record's error for an upstream answer passed through: 5xx are upstream errors. */
export function passedError(status: number): RecordError {
  return status >= 500 ? "upstream_5xx" : null;
}
