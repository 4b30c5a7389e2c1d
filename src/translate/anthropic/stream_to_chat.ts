/**
 * An Anthropic Messages event stream as Chat Completions chunks, event by
 * event: `message_start` gives the role chunk; text, thinking and a tool
 * call's argument pieces are each one chunk as they arrive; a signature
 * arrives as a `thinking_blocks` delta (LiteLLM's way); `message_delta`
 * gives the finish reason and a usage chunk; `message_stop` gives
 * `[DONE]`. An `error` event, or a stream that ends before `message_stop`,
 * ends with an error chunk (`{error}` data, as OpenAI's SDKs read it).
 */
import type {
  ErrorInfo,
  EventTranslator,
  Json,
  StreamEvent,
} from "../types.ts";
import { readErrorValue } from "../error_info.ts";
import { openAiErrorBody } from "../chat/adapter.ts";
import { chatUsage, completionId, finishReason } from "./response_to_chat.ts";

/** Translates one Anthropic stream into Chat Completions chunks. */
export class ChatFromAnthropicStream implements EventTranslator {
  #out: StreamEvent[] = [];
  #ended = false;
  #id = "";
  #model: string;
  #created = Math.floor(Date.now() / 1000);
  #usage: Json = {};
  /** Anthropic block index → the Chat tool call index. */
  #tools = new Map<number, number>();

  /** `model` names the chunks until `message_start` names one. */
  constructor(options: { model: string }) {
    this.#model = options.model;
  }

  /** True once `[DONE]` (or an error chunk) was given. */
  get ended(): boolean {
    return this.#ended;
  }

  /** The chunks one Anthropic event completes. */
  push(event: StreamEvent): StreamEvent[] {
    if (!this.#ended && event.data !== "[DONE]") this.#onEvent(event.data);
    return this.#take();
  }

  /** The upstream ended: nothing more if `message_stop` came, else an error chunk. */
  end(): StreamEvent[] {
    if (!this.#ended) {
      this.#error({
        status: 502,
        message: "The upstream's stream ended before the answer did",
      });
    }
    return this.#take();
  }

  /** A mid-stream failure: an error chunk. */
  fail(info: ErrorInfo): StreamEvent[] {
    if (!this.#ended) this.#error(info);
    return this.#take();
  }

  #take(): StreamEvent[] {
    if (this.#out.length === 0) return NONE;
    const out = this.#out;
    this.#out = [];
    return out;
  }

  #onEvent(data: Json): void {
    switch (data.type) {
      case "message_start":
        return this.#start((data.message ?? {}) as Json);
      case "content_block_start":
        return this.#blockStart(
          data.index,
          (data.content_block ?? {}) as Json,
        );
      case "content_block_delta":
        return this.#delta(data.index, (data.delta ?? {}) as Json);
      case "message_delta":
        return this.#messageDelta(data);
      case "message_stop":
        this.#ended = true;
        this.#out.push({ data: "[DONE]" });
        return;
      case "error":
        return this.#error(readErrorValue(500, data));
      default:
        // ping, content_block_stop and event types added later
        return;
    }
  }

  #start(message: Json): void {
    this.#id = completionId(message.id);
    if (typeof message.model === "string") this.#model = message.model;
    this.#usage = { ...(message.usage as Json | undefined) };
    this.#chunk({ role: "assistant", content: "" });
  }

  #blockStart(index: unknown, block: Json): void {
    if (block.type === "tool_use") {
      const call = this.#tools.size;
      this.#tools.set(index as number, call);
      this.#chunk({
        tool_calls: [{
          index: call,
          id: block.id,
          type: "function",
          function: { name: block.name, arguments: "" },
        }],
      });
    } else if (block.type === "redacted_thinking") {
      this.#chunk({
        thinking_blocks: [{ type: "redacted_thinking", data: block.data }],
      });
    } else if (block.type === "text" && typeof block.text === "string") {
      if (block.text !== "") this.#chunk({ content: block.text });
    } else if (
      block.type === "thinking" && typeof block.thinking === "string"
    ) {
      if (block.thinking !== "") {
        this.#chunk({ reasoning_content: block.thinking });
      }
    }
  }

  #delta(index: unknown, delta: Json): void {
    switch (delta.type) {
      case "text_delta":
        if (delta.text !== "") this.#chunk({ content: delta.text });
        return;
      case "thinking_delta":
        if (delta.thinking !== "") {
          this.#chunk({ reasoning_content: delta.thinking });
        }
        return;
      case "signature_delta":
        this.#chunk({
          thinking_blocks: [{
            type: "thinking",
            thinking: "",
            signature: delta.signature,
          }],
        });
        return;
      case "input_json_delta": {
        const call = this.#tools.get(index as number);
        const piece = delta.partial_json;
        if (call === undefined || typeof piece !== "string" || piece === "") {
          return;
        }
        this.#chunk({
          tool_calls: [{ index: call, function: { arguments: piece } }],
        });
        return;
      }
    }
  }

  #messageDelta(data: Json): void {
    Object.assign(this.#usage, data.usage as Json | undefined);
    const stop = (data.delta as Json | undefined)?.stop_reason;
    this.#chunk({}, finishReason(stop));
    this.#out.push({ data: this.#base([], chatUsage(this.#usage)) });
  }

  #chunk(delta: Json, finish: string | null = null): void {
    this.#out.push({
      data: this.#base([{ index: 0, delta, finish_reason: finish }]),
    });
  }

  #base(choices: Json[], usage?: Json): Json {
    const chunk: Json = {
      id: this.#id === "" ? (this.#id = completionId(undefined)) : this.#id,
      object: "chat.completion.chunk",
      created: this.#created,
      model: this.#model,
      choices,
    };
    if (usage !== undefined) chunk.usage = usage;
    return chunk;
  }

  #error(info: ErrorInfo): void {
    this.#ended = true;
    this.#out.push({ data: openAiErrorBody(info) });
  }
}

const NONE: StreamEvent[] = [];
