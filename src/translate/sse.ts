/**
 * Server-sent events as {@linkcode StreamEvent}s and back: the reader takes
 * an upstream's bytes cut anywhere and gives the events they complete (only
 * an unfinished line is held); the framings write each API's events.
 */
import type { Json, StreamEvent, StreamFraming } from "./types.ts";

/** Reads one SSE stream into events, chunk by chunk. */
export class SseReader {
  #decoder = new TextDecoder();
  #line = "";
  #name: string | undefined = undefined;
  #data: string[] = [];
  #events: StreamEvent[] = [];
  /** Data that was neither JSON nor `[DONE]` (counted, then skipped). */
  skipped = 0;

  /** The events `chunk` completes. */
  push(chunk: Uint8Array): StreamEvent[] {
    this.#feed(this.#decoder.decode(chunk, { stream: true }));
    return this.#take();
  }

  /** The stream ended: an event left without its blank line, if any. */
  end(): StreamEvent[] {
    this.#feed(this.#decoder.decode() + "\n\n");
    return this.#take();
  }

  #take(): StreamEvent[] {
    if (this.#events.length === 0) return NONE;
    const events = this.#events;
    this.#events = [];
    return events;
  }

  #feed(text: string): void {
    let start = 0;
    while (true) {
      const nl = text.indexOf("\n", start);
      if (nl === -1) break;
      let line = this.#line + text.slice(start, nl);
      this.#line = "";
      start = nl + 1;
      if (line.endsWith("\r")) line = line.slice(0, -1);
      this.#onLine(line);
    }
    this.#line += text.slice(start);
  }

  #onLine(line: string): void {
    if (line === "") {
      if (this.#data.length > 0) this.#onEvent(this.#data.join("\n"));
      this.#data = [];
      this.#name = undefined;
    } else if (line.startsWith("data:")) {
      this.#data.push(line.slice(line[5] === " " ? 6 : 5));
    } else if (line.startsWith("event:")) {
      this.#name = line.slice(line[6] === " " ? 7 : 6);
    }
  }

  #onEvent(data: string): void {
    if (data.trim() === "[DONE]") {
      this.#events.push({ data: "[DONE]" });
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(data);
    } catch {
      this.skipped++;
      return;
    }
    if (
      parsed === null || typeof parsed !== "object" || Array.isArray(parsed)
    ) {
      this.skipped++;
      return;
    }
    const event: StreamEvent = { data: parsed as Json };
    if (this.#name !== undefined) event.event = this.#name;
    this.#events.push(event);
  }
}

const NONE: StreamEvent[] = [];

/** `event: <name>` and `data: <json>` (Anthropic, Responses). */
export const NAMED_EVENTS: StreamFraming = {
  start: "",
  event: (e) =>
    e.event === undefined
      ? `data: ${data(e)}\n\n`
      : `event: ${e.event}\ndata: ${data(e)}\n\n`,
  end: "",
};

/** `data: <json>` only, `data: [DONE]` last (Chat Completions, Gemini's `alt=sse`). */
export const DATA_EVENTS: StreamFraming = {
  start: "",
  event: (e) => `data: ${data(e)}\n\n`,
  end: "",
};

/** Gemini's stream without `alt=sse`: one JSON array, written as its items arrive. */
export const JSON_ARRAY: StreamFraming = {
  start: "[",
  event: (e, first) => (first ? "" : ",\r\n") + data(e),
  end: "]",
};

function data(event: StreamEvent): string {
  return event.data === "[DONE]" ? "[DONE]" : JSON.stringify(event.data);
}
