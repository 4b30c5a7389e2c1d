/**
 * The client's answer to an upstream response, by one of three paths: a
 * small body read whole, a large plain download passed through untouched,
 * or a stream forwarded chunk by chunk (src/proxy/response_stream.ts).
 */
import { ERROR_STATUS } from "../base/api_errors.ts";
import { responseKind, UsageTap } from "../observe/usage_tap.ts";
import type { Exchange } from "./exchange.ts";
import { midResponse, passedError, relay } from "./relay.ts";
import { errorAnswer } from "./error_answer.ts";
import { respondStream } from "./response_stream.ts";
import { isModelsListing, withAliases } from "./model_route.ts";
import { translateWhole } from "./translation.ts";
import { benchOff } from "../base/bench_switches.ts";

/** `FLOW_PROXY_BENCH_OFF=usage` (bench/README.md): whole answers are not scanned for usage. */
const USAGE_OFF = benchOff("usage");

/** Non-SSE responses of at most this declared length are read whole (see respondWhole). */
export const WHOLE_BODY_LIMIT = 1024 * 1024;

/** Answers `call` with the upstream's response `res`, watched by `watch`. */
export async function respond(
  call: Exchange,
  res: Response,
): Promise<Response> {
  const watch = call.watch;
  const status = res.status;
  const upstreamBody = res.body;
  if (upstreamBody === null || call.req.method === "HEAD") {
    watch.done();
    upstreamBody?.cancel().catch(() => {});
    call.finish(status, passedError(status));
    return relay(call, res, null);
  }
  const kind = responseKind(res.headers.get("content-type"));
  const isSse = kind === "sse";
  call.record.stream = isSse;
  // Usage and time to first token come from a tap that sees the same chunks.
  const tap = new UsageTap({ kind, startedAt: call.started });
  const length = Number(res.headers.get("content-length") ?? Infinity);
  // A translated answer that is not a stream is read whole to be translated.
  if (!isSse && (length <= WHOLE_BODY_LIMIT || call.translation !== null)) {
    return await respondWhole(call, res, tap);
  }
  // The models listing is read whole at any length, to add the aliases.
  if (kind === "json" && isModelsListing(call.path)) {
    return await respondWhole(call, res, tap);
  }
  if (kind === "other" && Number.isFinite(length)) {
    return passThrough(call, res, length);
  }
  return respondStream(call, res, tap);
}

/**
 * A small body of declared length that is not an event stream arrives in
 * one or two reads anyway: reading it whole lets Deno send it without a
 * JavaScript stream per response, which costs more than the rest of the
 * proxy together. The bound keeps memory flat.
 */
export async function respondWhole(
  call: Exchange,
  res: Response,
  tap: UsageTap,
): Promise<Response> {
  const watch = call.watch;
  const record = call.record;
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = await res.bytes();
  } catch (err) {
    watch.done();
    const timedOut = watch.expired === "idle";
    const clientGone = !timedOut && call.link.gone;
    call.applyUsage(tap.finish());
    if (clientGone) return call.clientLeft();
    const type = timedOut ? "upstream_timeout" : "upstream_unreachable";
    const message = timedOut
      ? `The upstream sent nothing for ${call.context.settings.idleTimeout} ms`
      : midResponse(err, call);
    call.finish(
      ERROR_STATUS[type],
      timedOut ? "upstream_timeout" : "stream_error",
    );
    return errorAnswer(call.id, { family: call.family, type, message });
  }
  watch.done();
  record.bytesOut = bytes.byteLength;
  if (!USAGE_OFF) tap.writeWhole(bytes);
  call.applyUsage(tap.finish());
  call.finish(res.status, passedError(res.status));
  const listing = res.status === 200 && isModelsListing(call.path) &&
    call.req.method === "GET";
  if (listing) {
    const out = relay(call, res, withAliases(call, bytes));
    out.headers.delete("content-length");
    return out;
  }
  if (call.translation !== null) {
    const out = relay(
      call,
      res,
      call.redactor!.whole(translateWhole(call, res.status, bytes)),
    );
    out.headers.delete("content-length");
    out.headers.set("content-type", "application/json");
    return out;
  }
  return relay(call, res, call.redactor!.whole(bytes));
}

/**
 * A large body of declared length that is neither JSON nor an event stream
 * (a file, an image) carries no usage: Deno sends it from the upstream's
 * socket to the client's without JavaScript per chunk. The record is
 * finished when the response has been delivered; its first byte is taken
 * as the headers' arrival.
 */
export function passThrough(
  call: Exchange,
  res: Response,
  length: number,
): Response {
  call.watch.done();
  const record = call.record;
  record.ttftMs = Math.round((performance.now() - call.started) * 1000) / 1000;
  // A long download: watching the client costs nothing in comparison, and
  // tells a client that left from a failed transfer.
  call.link.watch();
  (call.info.completed ?? Promise.resolve()).then(
    () => {
      record.bytesOut = length;
      call.finish(res.status, passedError(res.status));
    },
    () =>
      call.finish(
        res.status,
        call.link.gone ? "client_cancel" : "stream_error",
      ),
  );
  return relay(call, res, res.body);
}
