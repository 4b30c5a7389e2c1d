/**
 * Flow's Responses API events as Chat Completions chunks, event by event,
 * for a model served on `/v1/responses` only: text, reasoning and argument
 * deltas as they come, a tool call's first chunk when its item is added,
 * the finish reason and usage from `response.completed` (or
 * `.incomplete`), then `[DONE]`. `response.failed`, an `error` event or a
 * stream that ends before its final event gives an error chunk instead.
 */
import { readErrorValue } from "../error_info.ts";
import { openAiErrorBody } from "../chat/adapter.ts";
import type {
  ErrorInfo,
  EventTranslator,
  Json,
  RequestContext,
  StreamEvent,
} from "../types.ts";
import { chatUsage, thinkingBlock } from "./common.ts";
import { chatId, finishReason, reasoningOf } from "./response_to_chat.ts";

/** Translates one Responses stream into Chat chunks. */
export class ChatFromResponsesStream implements EventTranslator {
  #ended = false;
  #id = "chatcmpl-";
  #model: string;
  #created = Math.floor(Date.now() / 1000);
  /** Chat's tool-call index of each function_call item, by item id. */
  #calls = new Map<string, number>();
  #sawText = new Set<string>();

  /** `context.model` names the chunks until the upstream's response names one. */
  constructor(context: RequestContext) {
    this.#model = context.model;
  }

  /** True once `[DONE]` or an error chunk was given. */
  get ended(): boolean {
    return this.#ended;
  }

  /** The chunks one Responses event completes. */
  push(event: StreamEvent): StreamEvent[] {
    if (this.#ended || event.data === "[DONE]") return NONE;
    const data = event.data;
    const type = typeof data.type === "string" ? data.type : event.event;
    switch (type) {
      case "response.created":
        return this.#onCreated(data.response as Json | undefined);
      case "response.output_text.delta":
        this.#sawText.add(String(data.item_id));
        return this.#delta({ content: String(data.delta ?? "") });
      case "response.refusal.delta":
        return this.#delta({ refusal: String(data.delta ?? "") });
      case "response.reasoning_text.delta":
      case "response.reasoning_summary_text.delta":
        this.#sawText.add(String(data.item_id));
        return this.#delta({ reasoning_content: String(data.delta ?? "") });
      case "response.output_item.added":
        return this.#added(data.item as Json | undefined);
      case "response.function_call_arguments.delta":
        return this.#arguments(String(data.item_id), data.delta);
      case "response.output_item.done":
        return this.#itemDone(data.item as Json | undefined);
      case "response.completed":
      case "response.incomplete":
        return this.#finish((data.response ?? {}) as Json);
      case "response.failed":
        return this.#error(
          readErrorValue(500, { error: (data.response as Json)?.error }),
        );
      case "error":
        return this.#error(readErrorValue(500, { error: data }));
      default:
        return NONE;
    }
  }

  /** The upstream ended: an error chunk unless the response had finished. */
  end(): StreamEvent[] {
    if (this.#ended) return NONE;
    return this.#error({
      status: 502,
      message: "The upstream's stream ended before the answer did",
    });
  }

  /** A mid-stream failure: an error chunk. */
  fail(info: ErrorInfo): StreamEvent[] {
    return this.#ended ? NONE : this.#error(info);
  }

  #onCreated(response: Json | undefined): StreamEvent[] {
    if (response !== undefined) {
      this.#id = chatId(response.id);
      if (typeof response.model === "string") this.#model = response.model;
      if (typeof response.created_at === "number") {
        this.#created = response.created_at;
      }
    }
    return this.#delta({ role: "assistant", content: "" });
  }

  #added(item: Json | undefined): StreamEvent[] {
    if (item?.type !== "function_call") return NONE;
    const index = this.#calls.size;
    this.#calls.set(String(item.id), index);
    const args = typeof item.arguments === "string" ? item.arguments : "";
    return this.#delta({
      tool_calls: [{
        index,
        id: item.call_id,
        type: "function",
        function: { name: item.name, arguments: args },
      }],
    });
  }

  #arguments(itemId: string, delta: unknown): StreamEvent[] {
    const index = this.#calls.get(itemId);
    if (index === undefined || typeof delta !== "string" || delta === "") {
      return NONE;
    }
    return this.#delta({
      tool_calls: [{ index, function: { arguments: delta } }],
    });
  }

  /** A finished reasoning item: its signature (and its text, if none was streamed). */
  #itemDone(item: Json | undefined): StreamEvent[] {
    if (item?.type !== "reasoning") return NONE;
    const text = reasoningOf(item);
    const delta: Json = {};
    if (!this.#sawText.has(String(item.id)) && text !== "") {
      delta.reasoning_content = text;
    }
    const block = thinkingBlock(item.encrypted_content, text);
    if (block !== null) delta.thinking_blocks = [block];
    return Object.keys(delta).length === 0 ? NONE : this.#delta(delta);
  }

  #finish(response: Json): StreamEvent[] {
    this.#ended = true;
    const base = this.#base();
    return [
      {
        data: {
          ...base,
          choices: [{
            index: 0,
            delta: {},
            finish_reason: finishReason(response, this.#calls.size),
          }],
        },
      },
      { data: { ...base, choices: [], usage: chatUsage(response.usage) } },
      { data: "[DONE]" },
    ];
  }

  #error(info: ErrorInfo): StreamEvent[] {
    this.#ended = true;
    return [{ data: openAiErrorBody(info) }];
  }

  #delta(delta: Json): StreamEvent[] {
    return [{
      data: {
        ...this.#base(),
        choices: [{ index: 0, delta, finish_reason: null }],
      },
    }];
  }

  #base(): Json {
    return {
      id: this.#id,
      object: "chat.completion.chunk",
      created: this.#created,
      model: this.#model,
    };
  }
}

const NONE: StreamEvent[] = [];
