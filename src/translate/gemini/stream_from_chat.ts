/**
 * A Chat Completions event stream as Gemini's stream of
 * `GenerateContentResponse` chunks, chunk by chunk: text and thought deltas
 * go out as they come. Gemini has no argument deltas, so a tool call is
 * held until its arguments are complete (the next call starts, or the
 * finish reason comes) and then sent as one `functionCall` part. The last
 * chunk carries `finishReason` and `usageMetadata` (Chat's usage chunk
 * follows its finish reason, so the end waits for it, or for `[DONE]`).
 */
import { readErrorValue } from "../error_info.ts";
import type {
  ErrorInfo,
  EventTranslator,
  Json,
  StreamEvent,
} from "../types.ts";
import { geminiErrorBody } from "./error.ts";
import {
  finishReason,
  functionCallPart,
  usageMetadata,
} from "./response_from_chat.ts";

/** A tool call being assembled from Chat's deltas. */
interface PendingCall {
  id: string;
  name: string;
  arguments: string;
}

/** Translates one Chat Completions stream into Gemini chunks. */
export class GeminiFromChatStream implements EventTranslator {
  #model: string;
  #id: string | null = null;
  #ended = false;
  #finish: unknown = undefined;
  #usage: unknown = undefined;
  #calls = new Map<number, PendingCall>();

  /** `model` names the answer until the upstream's first chunk names one. */
  constructor(options: { model: string }) {
    this.#model = options.model;
  }

  /** True once the last chunk (or an error) was given. */
  get ended(): boolean {
    return this.#ended;
  }

  /** The Gemini chunks one Chat chunk (or `[DONE]`) completes. */
  push(event: StreamEvent): StreamEvent[] {
    if (this.#ended) return NONE;
    const data = event.data;
    if (data === "[DONE]") return this.#finished() ? this.#last() : this.end();
    if (data.error !== undefined) {
      return this.fail(readErrorValue(500, data));
    }
    if (this.#id === null && typeof data.id === "string") this.#id = data.id;
    if (typeof data.model === "string") this.#model = data.model;
    if (data.usage !== undefined && data.usage !== null) {
      this.#usage = data.usage;
    }
    const choice = asObject(asArray(data.choices)[0]);
    const parts = this.#parts(asObject(choice.delta));
    if (choice.finish_reason !== undefined && choice.finish_reason !== null) {
      this.#finish = choice.finish_reason;
      parts.push(...this.#flushCalls());
    }
    const out: StreamEvent[] = [];
    if (parts.length > 0) out.push(this.#chunk(parts));
    // Usage after the finish reason: the answer is complete.
    if (this.#finished() && this.#usage !== undefined) {
      out.push(...this.#last());
    }
    return out;
  }

  /**
   * The upstream ended: the last chunk, or (no finish reason came, the
   * answer was cut short) a Gemini error.
   */
  end(): StreamEvent[] {
    if (this.#ended) return NONE;
    if (this.#finished()) return this.#last();
    return this.fail({
      status: 502,
      message: "The upstream's stream ended before the answer did",
    });
  }

  /** A mid-stream failure: Gemini's error object as the last data. */
  fail(info: ErrorInfo): StreamEvent[] {
    if (this.#ended) return NONE;
    this.#ended = true;
    return [{ data: geminiErrorBody(info) }];
  }

  #finished(): boolean {
    return this.#finish !== undefined;
  }

  /** The parts one delta completes (tool calls only once whole). */
  #parts(delta: Json): Json[] {
    const parts: Json[] = [];
    const thinking = delta.reasoning_content;
    if (typeof thinking === "string" && thinking !== "") {
      parts.push({ text: thinking, thought: true });
    }
    if (typeof delta.content === "string" && delta.content !== "") {
      parts.push({ text: delta.content });
    }
    for (const call of asArray(delta.tool_calls).map(asObject)) {
      parts.push(...this.#callDelta(call));
    }
    return parts;
  }

  /** A tool-call delta: a new index completes the calls before it. */
  #callDelta(call: Json): Json[] {
    const index = typeof call.index === "number" ? call.index : 0;
    const fn = asObject(call.function);
    let pending = this.#calls.get(index);
    const done: Json[] = [];
    if (pending === undefined) {
      done.push(...this.#flushCalls());
      pending = { id: "", name: "", arguments: "" };
      this.#calls.set(index, pending);
    }
    if (typeof call.id === "string" && call.id !== "") pending.id = call.id;
    if (typeof fn.name === "string" && fn.name !== "") pending.name = fn.name;
    if (typeof fn.arguments === "string") pending.arguments += fn.arguments;
    return done;
  }

  #flushCalls(): Json[] {
    if (this.#calls.size === 0) return NONE_PARTS;
    const parts: Json[] = [];
    for (const call of this.#calls.values()) {
      parts.push(functionCallPart({
        id: call.id,
        function: { name: call.name, arguments: call.arguments },
      }));
    }
    this.#calls.clear();
    return parts;
  }

  /** The final chunk: finish reason and usage. */
  #last(): StreamEvent[] {
    this.#ended = true;
    const chunk = this.#chunk([...this.#flushCalls()]);
    const candidate = (chunk.data as Json).candidates as Json[];
    candidate[0].finishReason = finishReason(this.#finish);
    (chunk.data as Json).usageMetadata = usageMetadata(this.#usage);
    return [chunk];
  }

  #chunk(parts: Json[]): StreamEvent {
    this.#id ??= crypto.randomUUID();
    return {
      data: {
        candidates: [{ content: { role: "model", parts }, index: 0 }],
        modelVersion: this.#model,
        responseId: this.#id,
      },
    };
  }
}

const NONE: StreamEvent[] = [];
const NONE_PARTS: Json[] = [];

function asObject(value: unknown): Json {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? value as Json
    : {};
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}
