/**
 * A Chat Completions event stream as an Anthropic Messages one, chunk by
 * chunk (issue 15, first direction): `push` takes the upstream's bytes as
 * they come, cut anywhere, and gives back the Anthropic events they
 * complete; nothing but one unfinished line is held back.
 */
import {
  anthropicUsage,
  chatToAnthropicError,
  messageId,
  stopReason,
} from "./chat_to_anthropic_response.ts";

type Json = Record<string, unknown>;

const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);

/** The Anthropic block being streamed. */
type OpenBlock =
  | { kind: "text"; index: number }
  | { kind: "tool"; index: number; chatIndex: number };

/** Translates one Chat Completions SSE stream into Anthropic events. */
export class ChatToAnthropicStream {
  #decoder = new TextDecoder();
  #line = "";
  #data: string[] = [];
  #out = "";
  #started = false;
  #ended = false;
  #next = 0;
  #open: OpenBlock | null = null;
  #finish: unknown = undefined;
  #usage: unknown = undefined;
  #model: string;

  /** `model` names the answer until the upstream's first chunk names one. */
  constructor(options: { model: string }) {
    this.#model = options.model;
  }

  /** True once `message_stop` (or an error event) was given. */
  get ended(): boolean {
    return this.#ended;
  }

  /** The Anthropic events completed by `chunk` (maybe none). */
  push(chunk: Uint8Array): Uint8Array<ArrayBuffer> {
    this.#feed(this.#decoder.decode(chunk, { stream: true }));
    return this.#take();
  }

  /**
   * The upstream ended: the last events (closing the message if `[DONE]`
   * did not). Without any finish reason the answer is cut short, and ends
   * with an Anthropic `error` event instead.
   */
  end(): Uint8Array<ArrayBuffer> {
    this.#feed(this.#decoder.decode() + "\n\n");
    if (!this.#ended) {
      if (this.#finish === undefined) {
        this.#error(
          "api_error",
          "The upstream's stream ended before the answer did",
        );
      } else this.#stop();
    }
    return this.#take();
  }

  /** An Anthropic `error` event ending the stream (mid-stream failure). */
  fail(type: string, message: string): Uint8Array<ArrayBuffer> {
    if (!this.#ended) this.#error(type, message);
    return this.#take();
  }

  #take(): Uint8Array<ArrayBuffer> {
    if (this.#out === "") return EMPTY;
    const bytes = encoder.encode(this.#out);
    this.#out = "";
    return bytes;
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
    } else if (line.startsWith("data:")) {
      this.#data.push(line.slice(line[5] === " " ? 6 : 5));
    }
  }

  #onEvent(data: string): void {
    if (this.#ended) return;
    if (data.trim() === "[DONE]") return this.#stop();
    let chunk: Json;
    try {
      chunk = JSON.parse(data);
    } catch {
      return;
    }
    if (chunk.error !== undefined) {
      const body = chatToAnthropicError(500, data).error as Json;
      return this.#error(String(body.type), String(body.message));
    }
    this.#start(chunk);
    if (chunk.usage !== undefined && chunk.usage !== null) {
      this.#usage = chunk.usage;
    }
    const choice = (Array.isArray(chunk.choices) ? chunk.choices[0] : null) as
      | Json
      | null;
    if (!choice) return;
    const delta = (choice.delta ?? {}) as Json;
    if (typeof delta.content === "string" && delta.content !== "") {
      this.#text(delta.content);
    }
    if (Array.isArray(delta.tool_calls)) {
      for (const call of delta.tool_calls as Json[]) this.#tool(call);
    }
    if (choice.finish_reason !== undefined && choice.finish_reason !== null) {
      this.#finish = choice.finish_reason;
    }
  }

  #start(chunk: Json): void {
    if (this.#started) return;
    this.#started = true;
    if (typeof chunk.model === "string") this.#model = chunk.model;
    this.#event("message_start", {
      type: "message_start",
      message: {
        id: messageId(chunk.id),
        type: "message",
        role: "assistant",
        model: this.#model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: 0, output_tokens: 0 },
      },
    });
  }

  #text(text: string): void {
    if (this.#open?.kind !== "text") {
      this.#close();
      const index = this.#next++;
      this.#open = { kind: "text", index };
      this.#event("content_block_start", {
        type: "content_block_start",
        index,
        content_block: { type: "text", text: "" },
      });
    }
    this.#event("content_block_delta", {
      type: "content_block_delta",
      index: this.#open!.index,
      delta: { type: "text_delta", text },
    });
  }

  #tool(call: Json): void {
    const chatIndex = typeof call.index === "number" ? call.index : 0;
    const fn = (call.function ?? {}) as Json;
    const open = this.#open;
    if (open?.kind !== "tool" || open.chatIndex !== chatIndex) {
      this.#close();
      const index = this.#next++;
      this.#open = { kind: "tool", index, chatIndex };
      this.#event("content_block_start", {
        type: "content_block_start",
        index,
        content_block: {
          type: "tool_use",
          id: call.id ?? `toolu_${index}`,
          name: fn.name ?? "",
          input: {},
        },
      });
    }
    if (typeof fn.arguments === "string" && fn.arguments !== "") {
      this.#event("content_block_delta", {
        type: "content_block_delta",
        index: this.#open!.index,
        delta: { type: "input_json_delta", partial_json: fn.arguments },
      });
    }
  }

  #close(): void {
    if (this.#open === null) return;
    this.#event("content_block_stop", {
      type: "content_block_stop",
      index: this.#open.index,
    });
    this.#open = null;
  }

  #stop(): void {
    if (this.#ended) return;
    this.#start({});
    this.#close();
    this.#ended = true;
    this.#event("message_delta", {
      type: "message_delta",
      delta: {
        stop_reason: stopReason(this.#finish) ?? "end_turn",
        stop_sequence: null,
      },
      usage: anthropicUsage(this.#usage),
    });
    this.#event("message_stop", { type: "message_stop" });
  }

  #error(type: string, message: string): void {
    this.#ended = true;
    this.#event("error", { type: "error", error: { type, message } });
  }

  #event(name: string, data: Json): void {
    this.#out += `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
  }
}
