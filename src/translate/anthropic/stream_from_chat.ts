/**
 * A Chat Completions event stream as an Anthropic Messages one, event by
 * event: each Chat chunk gives the Anthropic events it completes at once
 * (a tool call's argument pieces become `input_json_delta`s as they come).
 */
import { anthropicUsage, messageId, stopReason } from "./response_from_chat.ts";
import { anthropicErrorType } from "./error.ts";
import { readErrorValue } from "../error_info.ts";
import { type ChunkParts, readChatChunk } from "../chat/chunk.ts";
import type {
  ErrorInfo,
  EventTranslator,
  Json,
  StreamEvent,
} from "../types.ts";

/** The Anthropic block being streamed. */
type OpenBlock =
  | { kind: "text"; index: number }
  | { kind: "thinking"; index: number }
  | { kind: "tool"; index: number; chatIndex: number };

/** Translates one Chat Completions stream into Anthropic events. */
export class AnthropicFromChatStream implements EventTranslator {
  #out: StreamEvent[] = [];
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

  /** The Anthropic events `event` (one Chat chunk, or `[DONE]`) completes. */
  push(event: StreamEvent): StreamEvent[] {
    this.#onEvent(event.data);
    return this.#take();
  }

  /**
   * The upstream ended: the last events (closing the message if `[DONE]`
   * did not). Without any finish reason the answer is cut short, and ends
   * with an Anthropic `error` event instead.
   */
  end(): StreamEvent[] {
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
  fail(info: ErrorInfo): StreamEvent[] {
    if (!this.#ended) {
      this.#error(info.type ?? anthropicErrorType(info.status), info.message);
    }
    return this.#take();
  }

  #take(): StreamEvent[] {
    if (this.#out.length === 0) return NONE;
    const out = this.#out;
    this.#out = [];
    return out;
  }

  #onEvent(data: Json | "[DONE]"): void {
    if (this.#ended) return;
    if (data === "[DONE]") return this.#stop();
    const chunk = data;
    if (chunk.error !== undefined) {
      const info = readErrorValue(500, chunk);
      return this.#error(anthropicErrorType(info.status), info.message);
    }
    this.#start(chunk);
    readChatChunk(chunk, this.#parts);
  }

  /** Where each part of a Chat chunk goes. */
  #parts: ChunkParts = {
    usage: (usage) => this.#usage = usage,
    reasoning: (text) => this.#thinking(text),
    thinkingBlock: (block) => this.#signature(block),
    text: (text) => this.#text(text),
    toolCall: (call) => this.#tool(call),
    finish: (reason) => this.#finish = reason,
  };

  #thinking(text: string): void {
    if (this.#open?.kind !== "thinking") {
      this.#close();
      const index = this.#next++;
      this.#open = { kind: "thinking", index };
      this.#event("content_block_start", {
        type: "content_block_start",
        index,
        content_block: { type: "thinking", thinking: "", signature: "" },
      });
    }
    this.#event("content_block_delta", {
      type: "content_block_delta",
      index: this.#open!.index,
      delta: { type: "thinking_delta", thinking: text },
    });
  }

  /** A thinking block's signature (LiteLLM sends it as a `thinking_blocks` delta). */
  #signature(block: Json): void {
    if (block.type === "redacted_thinking") {
      this.#close();
      const index = this.#next++;
      this.#event("content_block_start", {
        type: "content_block_start",
        index,
        content_block: { type: "redacted_thinking", data: block.data ?? "" },
      });
      this.#event("content_block_stop", { type: "content_block_stop", index });
      return;
    }
    if (typeof block.signature !== "string" || block.signature === "") return;
    if (this.#open?.kind !== "thinking") this.#thinking("");
    this.#event("content_block_delta", {
      type: "content_block_delta",
      index: this.#open!.index,
      delta: { type: "signature_delta", signature: block.signature },
    });
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
    this.#out.push({ event: name, data });
  }
}

const NONE: StreamEvent[] = [];
