/**
 * Chat Completions, the hub, as one side of a translation: its requests and
 * answers are the hub's already, so its side is the identity, with the
 * Flow model named and a stream's end checked.
 */
import type {
  ApiAdapter,
  ErrorInfo,
  EventTranslator,
  Json,
  StreamEvent,
} from "../types.ts";
import { DATA_EVENTS } from "../sse.ts";
import { openAiErrorType, readErrorBody } from "../error_info.ts";

/** OpenAI's error body: `{error: {message, type, param, code}}`. */
export function openAiErrorBody(info: ErrorInfo): Json {
  return {
    error: {
      message: info.message,
      type: info.type ?? openAiErrorType(info.status),
      param: info.param ?? null,
      code: info.code ?? null,
    },
  };
}

/**
 * Chat chunks as they are, ending with `[DONE]`: a stream that ends without
 * a finish reason ends with an error chunk instead (as OpenAI's SDKs read
 * `{error}` data), so a cut answer never looks complete.
 */
export class ChatPassStream implements EventTranslator {
  #finished = false;
  #ended = false;

  get ended(): boolean {
    return this.#ended;
  }

  push(event: StreamEvent): StreamEvent[] {
    if (this.#ended) return [];
    const data = event.data;
    if (data === "[DONE]") {
      this.#ended = true;
      return [{ data: "[DONE]" }];
    }
    if (data.error !== undefined) {
      this.#ended = true;
      return [{ data }];
    }
    const choices = data.choices;
    if (Array.isArray(choices)) {
      for (const choice of choices as Json[]) {
        if (
          choice.finish_reason !== null && choice.finish_reason !== undefined
        ) {
          this.#finished = true;
        }
      }
    }
    return [{ data }];
  }

  end(): StreamEvent[] {
    if (this.#ended) return [];
    this.#ended = true;
    if (this.#finished) return [{ data: "[DONE]" }];
    return [{
      data: openAiErrorBody({
        status: 502,
        message: "The upstream's stream ended before the answer did",
      }),
    }];
  }

  fail(info: ErrorInfo): StreamEvent[] {
    if (this.#ended) return [];
    this.#ended = true;
    return [{ data: openAiErrorBody(info) }];
  }
}

const named = (body: Json, model: string): Json =>
  body.model === model ? body : { ...body, model };

/** Chat Completions (`/v1/chat/completions`). */
export const CHAT_ADAPTER: ApiAdapter = {
  api: "chat",
  title: "Chat Completions",
  requestToChat: (body, context) => ({
    body: named(body, context.model),
    dropped: [],
  }),
  responseFromChat: (chat) => chat,
  streamFromChat: () => new ChatPassStream(),
  errorBody: openAiErrorBody,
  framing: () => DATA_EVENTS,
  requestFromChat: (chat, context) => ({
    body: named(chat, context.model),
    dropped: [],
  }),
  responseToChat: (body) => body,
  streamToChat: () => new ChatPassStream(),
  readError: readErrorBody,
};
