/**
 * A Chat Completions event stream as a Responses API one, event by event,
 * every event numbered (`sequence_number`). Text and reasoning items close
 * when the next item starts; tool calls stay open to the end, each under its
 * own `output_index`, so argument pieces interleaved between calls still
 * reach the right call. A free-form tool's input is sent whole when its call
 * closes (its pieces are pieces of a JSON string). An error, a failed read or
 * a stream cut before its finish ends with `response.failed`, which Codex and
 * the OpenAI SDK read as the response's failure; never `response.completed`.
 */
import { type ChunkParts, readChatChunk } from "../chat/chunk.ts";
import { readErrorValue } from "../error_info.ts";
import type {
  ErrorInfo,
  EventTranslator,
  Json,
  RequestContext,
  StreamEvent,
} from "../types.ts";
import {
  encryptedContent,
  failureCode,
  outputOrder,
  responseId,
  responseObject,
  responseStatus,
  responsesUsage,
  type ToolNotes,
  toolNotes,
} from "./common.ts";
import { callItem, outputText, reasoningItem } from "./response_from_chat.ts";

/** One output item being streamed. */
interface OpenItem {
  kind: "message" | "reasoning" | "call";
  index: number;
  id: string;
  text: string;
  /** Reasoning: the signature (or redacted block) in `encrypted_content`. */
  encrypted: string | null;
  /** Calls: Chat's id, name and tool-call index. */
  callId?: string;
  name?: string;
  chatIndex?: number;
}

/** Translates one Chat Completions stream into Responses events. */
export class ResponsesFromChatStream implements EventTranslator {
  #out: StreamEvent[] = [];
  #seq = 0;
  #started = false;
  #ended = false;
  #id = "";
  #model: string;
  #created = Math.floor(Date.now() / 1000);
  #open: OpenItem | null = null;
  /** The open call of each Chat tool-call index, and every call in order. */
  #calls = new Map<number, OpenItem>();
  #callOrder: OpenItem[] = [];
  #done: Json[] = [];
  #next = 0;
  #finish: unknown = undefined;
  #usage: unknown = undefined;
  #notes: ToolNotes;

  /** `context.model` names the answer until the upstream's first chunk names one. */
  constructor(context: RequestContext) {
    this.#model = context.model;
    this.#notes = toolNotes(context);
  }

  /** True once `response.completed`, `.incomplete` or `.failed` was given. */
  get ended(): boolean {
    return this.#ended;
  }

  /** The Responses events one Chat chunk (or `[DONE]`) completes. */
  push(event: StreamEvent): StreamEvent[] {
    if (!this.#ended) this.#onEvent(event.data);
    return this.#take();
  }

  /** The upstream ended: the answer's end, or `response.failed` when it was cut short. */
  end(): StreamEvent[] {
    if (!this.#ended) {
      if (this.#finish === undefined) {
        this.#fail({
          status: 502,
          message: "The upstream's stream ended before the answer did",
        });
      } else this.#complete();
    }
    return this.#take();
  }

  /** A mid-stream failure: `response.failed`. */
  fail(info: ErrorInfo): StreamEvent[] {
    if (!this.#ended) this.#fail(info);
    return this.#take();
  }

  #take(): StreamEvent[] {
    if (this.#out.length === 0) return NONE;
    const out = this.#out;
    this.#out = [];
    return out;
  }

  #onEvent(data: Json | "[DONE]"): void {
    // `[DONE]` is Chat's own end, as the other translations read it.
    if (data === "[DONE]") return this.#complete();
    if (data.error !== undefined) return this.#fail(readErrorValue(500, data));
    this.#start(data);
    readChatChunk(data, this.#parts);
  }

  /** Where each part of a Chat chunk goes. */
  #parts: ChunkParts = {
    usage: (usage) => this.#usage = usage,
    reasoning: (text) => this.#reasoning(text),
    thinkingBlock: (block) => this.#signature(block),
    text: (text) => this.#text(text),
    toolCall: (call) => this.#call(call),
    finish: (reason) => this.#finish = reason,
  };

  #start(chunk: Json): void {
    if (this.#started) return;
    this.#started = true;
    this.#id = responseId(chunk.id);
    if (typeof chunk.model === "string") this.#model = chunk.model;
    if (typeof chunk.created === "number") this.#created = chunk.created;
    const response = this.#response("in_progress", [], null);
    this.#event("response.created", { response });
    this.#event("response.in_progress", { response });
  }

  #item(kind: OpenItem["kind"], prefix: string): OpenItem {
    const index = this.#next++;
    return {
      kind,
      index,
      id: `${prefix}_${this.#id}_${index}`,
      text: "",
      encrypted: null,
    };
  }

  #reasoning(text: string): void {
    // A signed block is whole: what follows is the next block's.
    if (this.#open?.kind !== "reasoning" || this.#open.encrypted !== null) {
      this.#close();
      const item = this.#item("reasoning", "rs");
      this.#open = item;
      this.#event("response.output_item.added", {
        output_index: item.index,
        item: reasoningItem(item.id, "", null),
      });
    }
    const item = this.#open!;
    if (text === "") return;
    item.text += text;
    this.#event("response.reasoning_text.delta", {
      item_id: item.id,
      output_index: item.index,
      content_index: 0,
      delta: text,
    });
  }

  /** A thinking block's signature (LiteLLM's `thinking_blocks` delta) or a redacted block. */
  #signature(block: Json): void {
    const encrypted = encryptedContent(block);
    if (encrypted === null) return;
    if (block.type === "redacted_thinking") this.#close();
    if (this.#open?.kind !== "reasoning" || this.#open.encrypted !== null) {
      this.#reasoning("");
    }
    this.#open!.encrypted = encrypted;
  }

  #text(text: string): void {
    if (this.#open?.kind !== "message") {
      this.#close();
      const item = this.#item("message", "msg");
      this.#open = item;
      this.#event("response.output_item.added", {
        output_index: item.index,
        item: this.#messageItem(item, "in_progress", []),
      });
      this.#event("response.content_part.added", {
        ...this.#where(item),
        part: outputText(""),
      });
    }
    const item = this.#open!;
    item.text += text;
    this.#event("response.output_text.delta", {
      ...this.#where(item),
      delta: text,
      logprobs: [],
    });
  }

  #call(call: Json): void {
    const chatIndex = typeof call.index === "number" ? call.index : 0;
    const fn = (call.function ?? {}) as Json;
    let item = this.#calls.get(chatIndex);
    // Some providers give every parallel call index 0: a new id is a new call.
    const renamed = item !== undefined && typeof call.id === "string" &&
      call.id !== "" && call.id !== item.callId;
    if (item === undefined || renamed) {
      this.#close();
      item = this.#item("call", "fc");
      item.chatIndex = chatIndex;
      item.callId = typeof call.id === "string" ? call.id : `call_${item.id}`;
      item.name = typeof fn.name === "string" ? fn.name : "";
      this.#calls.set(chatIndex, item);
      this.#callOrder.push(item);
      const added = this.#callItem(item, "in_progress");
      if (added.type === "custom_tool_call") added.input = "";
      else added.arguments = "";
      this.#event("response.output_item.added", {
        output_index: item.index,
        item: added,
      });
    }
    if (typeof fn.arguments !== "string" || fn.arguments === "") return;
    item.text += fn.arguments;
    if (this.#notes.custom.has(item.name!)) return;
    this.#event("response.function_call_arguments.delta", {
      item_id: item.id,
      output_index: item.index,
      delta: fn.arguments,
    });
  }

  /** Closes the open text or reasoning item. */
  #close(): void {
    const item = this.#open;
    if (item === null) return;
    this.#open = null;
    if (item.kind === "message") {
      this.#event("response.output_text.done", {
        ...this.#where(item),
        text: item.text,
        logprobs: [],
      });
      this.#event("response.content_part.done", {
        ...this.#where(item),
        part: outputText(item.text),
      });
      return this.#itemDone(
        item,
        this.#messageItem(item, "completed", [outputText(item.text)]),
      );
    }
    if (item.text !== "") {
      this.#event("response.reasoning_text.done", {
        ...this.#where(item),
        text: item.text,
      });
    }
    this.#itemDone(item, reasoningItem(item.id, item.text, item.encrypted));
  }

  #closeCall(item: OpenItem): void {
    const done = this.#callItem(item, "completed");
    if (done.type === "custom_tool_call") {
      this.#event("response.custom_tool_call_input.delta", {
        item_id: done.id,
        output_index: item.index,
        delta: done.input,
      });
      this.#event("response.custom_tool_call_input.done", {
        item_id: done.id,
        output_index: item.index,
        input: done.input,
      });
    } else {
      this.#event("response.function_call_arguments.done", {
        item_id: item.id,
        output_index: item.index,
        name: item.name,
        arguments: item.text,
      });
    }
    this.#itemDone(item, done);
  }

  #itemDone(item: OpenItem, done: Json): void {
    this.#done.push(done);
    this.#event("response.output_item.done", {
      output_index: item.index,
      item: done,
    });
  }

  #complete(): void {
    this.#start({});
    this.#close();
    for (const item of this.#callOrder) this.#closeCall(item);
    this.#ended = true;
    const { status, incomplete } = responseStatus(this.#finish);
    const output = this.#done.sort((a, b) => outputOrder(a) - outputOrder(b));
    this.#event(
      status === "completed" ? "response.completed" : "response.incomplete",
      {
        response: this.#response(
          status,
          output,
          responsesUsage(this.#usage),
          incomplete,
        ),
      },
    );
  }

  #fail(info: ErrorInfo): void {
    this.#start({});
    this.#ended = true;
    const response = this.#response("failed", this.#done, null);
    response.error = { code: failureCode(info), message: info.message };
    this.#event("response.failed", { response });
  }

  #callItem(item: OpenItem, status: string): Json {
    const done = callItem(
      {
        id: item.callId,
        function: { name: item.name, arguments: item.text },
      },
      "",
      this.#notes,
    );
    done.id = item.id;
    done.status = status;
    return done;
  }

  #messageItem(item: OpenItem, status: string, content: Json[]): Json {
    return { type: "message", id: item.id, status, role: "assistant", content };
  }

  #where(item: OpenItem): Json {
    return { item_id: item.id, output_index: item.index, content_index: 0 };
  }

  #response(
    status: string,
    output: Json[],
    usage: Json | null,
    incomplete: Json | null = null,
  ): Json {
    return responseObject({
      id: this.#id,
      model: this.#model,
      createdAt: this.#created,
      status,
      output,
      usage,
      incomplete,
    });
  }

  #event(type: string, data: Json): void {
    this.#out.push({
      event: type,
      data: { type, sequence_number: this.#seq++, ...data },
    });
  }
}

const NONE: StreamEvent[] = [];
