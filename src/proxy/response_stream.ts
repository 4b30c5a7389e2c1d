/**
 * An event stream, or a body of unknown or large length that may carry
 * usage: forwarded chunk by chunk through the usage tap and the token
 * redactor, with the idle deadline between chunks. A class, so only the
 * responses that take this path allocate its state, in one object.
 */
import { ERROR_STATUS, errorBody } from "../base/api_errors.ts";
import type { UsageTap } from "../observe/usage_tap.ts";
import type { Watch } from "./deadlines.ts";
import type { Exchange, RecordError } from "./exchange.ts";
import type { StreamRedactor } from "./redact.ts";
import { midResponse, passedError, relay } from "./relay.ts";
import { StreamEndDetector } from "../models/stream_end.ts";
import { StreamPipe } from "../translate/stream_pipe.ts";
import type { StreamApi as UpstreamStream } from "../models/stream_end.ts";

/** The stream-end detector's name for each API Flow may answer in. */
const STREAM_OF: Readonly<Record<string, UpstreamStream | undefined>> = {
  messages: "anthropic",
  chat: "chat",
  responses: "responses",
};

const encoder = new TextEncoder();

function ignore(): void {}

/** Answers `call` with the upstream's streamed body, `tap` reading its usage. */
export function respondStream(
  call: Exchange,
  res: Response,
  tap: UsageTap,
): Response {
  const source = new StreamRelay(call, res, tap);
  const body = new ReadableStream<Uint8Array>(source, { highWaterMark: 0 });
  const out = relay(call, res, body);
  if (call.translation !== null) {
    // A translated stream's length is not the upstream's.
    out.headers.delete("content-length");
    // Gemini's stream without `alt=sse` is one JSON array.
    if (call.translationContext?.sse === false) {
      out.headers.set("content-type", "application/json");
    }
  }
  return out;
}

/**
 * The client's body: pulls from the upstream only when the client asks
 * (its `pull`, `cancel`), and cancels the upstream read when the attempt is
 * aborted (its `handleEvent`).
 */
export class StreamRelay implements UnderlyingDefaultSource<Uint8Array> {
  #call: Exchange;
  #status: number;
  #isSse: boolean;
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #redact: StreamRedactor;
  #watch: Watch;
  #tap: UsageTap;
  /** Finds an event stream's final event; null for other bodies. */
  #end: StreamEndDetector | null;
  /** Turns a translated request's stream into the client API's events; null otherwise. */
  #translator: StreamPipe | null;
  #clientGone = false;

  /** Takes the reader of `res.body`; `call.watch` and `call.controller` are the attempt's. */
  constructor(call: Exchange, res: Response, tap: UsageTap) {
    this.#call = call;
    this.#status = res.status;
    this.#isSse = call.record.stream;
    this.#reader = res.body!.getReader();
    this.#redact = call.redactor!.stream();
    this.#watch = call.watch;
    this.#tap = tap;
    const translation = this.#isSse ? call.translation : null;
    // The end is the upstream's: a translated stream ends as Flow's API does.
    const api = translation !== null
      ? STREAM_OF[translation.to]
      : call.api?.stream;
    this.#end = this.#isSse
      ? new StreamEndDetector({ api: api === "gemini" ? undefined : api })
      : null;
    this.#translator = translation === null ? null : new StreamPipe(
      translation.stream(call.translationContext!),
      translation.framing(call.translationContext!),
    );
    // A deadline aborts the controller; cancelling the reader as well ends a
    // pending read at once (seen to hang under load with the signal alone).
    call.controller.signal.addEventListener("abort", this, { once: true });
  }

  /** The attempt was aborted. */
  handleEvent(): void {
    if (!this.#clientGone) this.#reader.cancel().catch(ignore);
  }

  /** Forwards the next chunk (or ends the stream). */
  async pull(ctrl: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    // Loops only while the redactor holds a whole chunk back (it may
    // begin a token): a pull must enqueue something or end the stream.
    const watch = this.#watch;
    while (true) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      watch.pull();
      try {
        chunk = await this.#reader.read();
      } catch (err) {
        return this.#fail(ctrl, err);
      }
      if (chunk.done) {
        const signal = this.#call.controller.signal;
        if (signal.aborted) return this.#fail(ctrl, signal.reason);
        watch.done();
        if (this.#translator !== null) {
          const last = this.#redact.push(this.#translator.end());
          if (last.byteLength > 0) ctrl.enqueue(last);
        }
        const rest = this.#redact.flush();
        if (rest !== null) ctrl.enqueue(rest);
        ctrl.close();
        this.#finish(this.#status, passedError(this.#status));
        return;
      }
      const value = chunk.value as Uint8Array<ArrayBuffer>;
      // Until the client asks for more, its pace is not the upstream's.
      watch.pause();
      this.#call.record.bytesOut += value.byteLength;
      this.#tap.write(value);
      this.#end?.push(value);
      const translator = this.#translator;
      const out = this.#redact.push(
        translator === null ? value : translator.push(value),
      );
      if (out.byteLength > 0) return ctrl.enqueue(out);
    }
  }

  /** The client cancelled its body: it left. */
  cancel(): void {
    this.#clientGone = true;
    this.#watch.done();
    this.#call.controller.abort(
      new DOMException("Client disconnected", "AbortError"),
    );
    this.#reader.cancel().catch(ignore);
    this.#finish(this.#status, this.#leftError());
  }

  /**
   * The record's error when the client left: none once the final event
   * arrived (Codex hangs up right after `response.completed`), the
   * upstream's failure after a failure event, else `client_cancel`.
   */
  #leftError(): RecordError {
    const outcome = this.#end?.outcome ?? null;
    if (outcome === null) return "client_cancel";
    return outcome === "failed" ? "stream_error" : passedError(this.#status);
  }

  #finish(status: number, error: RecordError): void {
    this.#call.applyUsage(this.#tap.finish());
    this.#call.finish(status, error);
  }

  /** Ends the stream after a failed read: an `event: error` for SSE, an error otherwise. */
  #fail(ctrl: ReadableStreamDefaultController<Uint8Array>, err: unknown): void {
    const call = this.#call;
    this.#watch.done();
    if (call.link.gone) {
      // The client left; the response is being cancelled as well.
      this.#finish(this.#status, this.#leftError());
      return ctrl.close();
    }
    const timedOut = this.#watch.expired === "idle";
    const message = timedOut
      ? `The upstream sent nothing for ${call.context.settings.idleTimeout} ms`
      : midResponse(err, call);
    this.#finish(this.#status, timedOut ? "upstream_timeout" : "stream_error");
    if (!this.#isSse) return ctrl.error(new Error(message));
    const type = timedOut ? "upstream_timeout" : "upstream_unreachable";
    const rest = this.#redact.flush();
    if (rest !== null) ctrl.enqueue(rest);
    if (this.#translator !== null) {
      const last = this.#translator.fail({
        status: ERROR_STATUS[type],
        message,
      });
      if (last.byteLength > 0) ctrl.enqueue(last);
      return ctrl.close();
    }
    ctrl.enqueue(
      encoder.encode(
        `event: error\ndata: ${errorBody(call.family, type, message)}\n\n`,
      ),
    );
    ctrl.close();
  }
}
