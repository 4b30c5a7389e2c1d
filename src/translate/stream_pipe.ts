/**
 * An upstream's event stream as bytes for the client, through a
 * translation: bytes → events ({@linkcode SseReader}) → the translation →
 * the client API's framing → bytes. Each chunk is translated as it arrives.
 */
import { SseReader } from "./sse.ts";
import type {
  ErrorInfo,
  EventTranslator,
  StreamEvent,
  StreamFraming,
} from "./types.ts";

const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);

/** One translated stream, bytes in and bytes out. */
export class StreamPipe {
  #reader = new SseReader();
  #translator: EventTranslator;
  #framing: StreamFraming;
  #first = true;
  #closed = false;

  constructor(translator: EventTranslator, framing: StreamFraming) {
    this.#translator = translator;
    this.#framing = framing;
  }

  /** True once the client's stream has its last event. */
  get ended(): boolean {
    return this.#translator.ended;
  }

  /** The client's bytes completed by the upstream's `chunk` (maybe none). */
  push(chunk: Uint8Array): Uint8Array<ArrayBuffer> {
    const events = this.#reader.push(chunk);
    if (events.length === 0) return EMPTY;
    let out: StreamEvent[] = [];
    for (const event of events) {
      const given = this.#translator.push(event);
      if (given.length > 0) out = out.length === 0 ? given : out.concat(given);
    }
    return this.#write(out, false);
  }

  /** The upstream ended: the client's last bytes. */
  end(): Uint8Array<ArrayBuffer> {
    const out: StreamEvent[] = [];
    for (const event of this.#reader.end()) {
      out.push(...this.#translator.push(event));
    }
    out.push(...this.#translator.end());
    return this.#write(out, true);
  }

  /** A mid-stream failure: the client's error event and end. */
  fail(info: ErrorInfo): Uint8Array<ArrayBuffer> {
    return this.#write(this.#translator.fail(info), true);
  }

  #write(events: StreamEvent[], last: boolean): Uint8Array<ArrayBuffer> {
    let text = "";
    for (const event of events) {
      if (this.#first) {
        text += this.#framing.start;
      }
      text += this.#framing.event(event, this.#first);
      this.#first = false;
    }
    if (last && !this.#closed) {
      this.#closed = true;
      if (this.#first) text += this.#framing.start;
      text += this.#framing.end;
    }
    return text === "" ? EMPTY : encoder.encode(text);
  }
}
