/**
 * The shapes every API translation shares (issue 15). Translations meet at
 * one hub, OpenAI Chat Completions as Flow's LiteLLM speaks it (with its
 * `reasoning_content` for thinking text): each API module turns its own
 * requests, answers, streams and errors into the hub's and back, and any two
 * APIs are joined through it (src/translate/registry.ts). Pure data; no I/O.
 *
 * The hub is Chat Completions plus the fields LiteLLM (Flow's proxy) adds,
 * so that what two non-Chat APIs share survives the trip through it:
 * - request: `reasoning_effort` (`minimal` | `low` | `medium` | `high`);
 *   `response_format` (`json_object` / `json_schema`) for structured output;
 *   `stream_options.include_usage` always on for a stream;
 * - assistant message and stream delta: `reasoning_content` (the thinking
 *   text) and `thinking_blocks` (`[{type: "thinking", thinking, signature}]`
 *   or `{type: "redacted_thinking", data}`: Anthropic's signed blocks, which
 *   Claude needs back on the next turn of a tool loop);
 * - usage: `prompt_tokens` (cache reads included), `completion_tokens`
 *   (reasoning included), `prompt_tokens_details.cached_tokens`,
 *   `completion_tokens_details.reasoning_tokens`, and LiteLLM's
 *   `cache_creation_input_tokens` for cache writes.
 */

/** A JSON object as the wire formats carry it. */
export type Json = Record<string, unknown>;

/**
 * An API flow-proxy speaks. Clients may use all four; Flow serves a model
 * on the ones its catalogue entry lists (`gemini` only when a deployment
 * says its Flow has a Gemini-native route).
 */
export type WireApi = "messages" | "chat" | "responses" | "gemini";

/** Every {@linkcode WireApi}. */
export const WIRE_APIS: readonly WireApi[] = [
  "messages",
  "chat",
  "responses",
  "gemini",
];

/**
 * One server-sent event, parsed: its `event:` name when the API names
 * events (Anthropic, Responses) and its JSON `data`; Chat's last event is
 * the literal `"[DONE]"`.
 */
export interface StreamEvent {
  event?: string;
  data: Json | "[DONE]";
}

/** What a translation knows about the request beyond its body. */
export interface RequestContext {
  /** The Flow name of the model (after the mapping). */
  model: string;
  /**
   * The model's output-token limit from the catalogue (`max_tokens`), when
   * the catalogue knows the model: a target that requires `max_tokens`
   * (Anthropic) defaults to it and is kept at or under it.
   */
  outputLimit?: number;
  /**
   * The `thinking.type`s the model takes (the catalogue's `thinking`), when
   * the catalogue knows the model; empty: it takes no thinking at all.
   */
  thinking?: readonly string[];
  /**
   * Whether the client asked for a stream. Gemini says so in the path
   * (`:streamGenerateContent`); the other APIs in the body, where the
   * translation reads it itself.
   */
  stream: boolean;
  /**
   * Gemini: the client asked for server-sent events (`?alt=sse`); without
   * it Gemini streams one JSON array.
   */
  sse?: boolean;
}

/** A request in another API's shape. */
export interface RequestTranslation {
  /** The translated body. */
  body: Json;
  /** What the target cannot carry, by field name, for the DEBUG line. */
  dropped: string[];
  /**
   * Set when the request cannot be translated at all (for example
   * `previous_response_id` to a stateless API): the message of the 400,
   * naming the option. Nothing is sent upstream then.
   */
  refused?: string;
}

/**
 * An error in no API's shape: what every API's error body can be made
 * from. `status` is the HTTP status, kept as the upstream gave it.
 */
export interface ErrorInfo {
  status: number;
  message: string;
  /** The upstream's own error type or code, when it gave one. */
  type?: string;
  code?: string | null;
  param?: string | null;
}

/**
 * Translates one event stream as it arrives: `push` takes each upstream
 * event and gives back the events it completes (maybe none); nothing is
 * held back but state. Once it has given its last event (the API's own end,
 * or its error event) it ignores the rest.
 */
export interface EventTranslator {
  /** The events `event` completes. */
  push(event: StreamEvent): StreamEvent[];
  /**
   * The upstream stream ended: the last events. A stream that ended before
   * the answer did (no finish reason, no final event) gives the client's
   * error event instead of a normal end.
   */
  end(): StreamEvent[];
  /** A mid-stream failure (a read error, a deadline): the client's error event. */
  fail(info: ErrorInfo): StreamEvent[];
  /** True once the last event was given. */
  readonly ended: boolean;
}

/** How one API writes its events on the wire. */
export interface StreamFraming {
  /** Bytes before the first event (Gemini's JSON array: `[`). */
  readonly start: string;
  /** One event; `first` is true for the first one written. */
  event(event: StreamEvent, first: boolean): string;
  /** Bytes after the last event (Gemini's JSON array: `]`). */
  readonly end: string;
}

/**
 * What one API module gives the hub. The client side (the first four
 * members and `framing`) is needed for every API a client may speak; the
 * upstream side for every API Flow may be asked in: a missing member means
 * the API cannot be that side of a translation.
 */
export interface ApiAdapter {
  readonly api: WireApi;
  /** The name records and logs use (`"Anthropic Messages"`). */
  readonly title: string;

  // The client speaks this API.
  /** A client request in this API as a Chat Completions request. */
  requestToChat(body: Json, context: RequestContext): RequestTranslation;
  /** A Chat Completions answer as this API's answer to the client. */
  responseFromChat(chat: Json, context: RequestContext): Json;
  /** Chat Completions chunks as this API's events for the client. */
  streamFromChat(context: RequestContext): EventTranslator;
  /** An error body in this API's shape (same status). */
  errorBody(info: ErrorInfo): Json;
  /** How this API's events are written to the client. */
  framing(context: RequestContext): StreamFraming;

  // Flow is asked in this API.
  /** A Chat Completions request as this API's request to Flow. */
  requestFromChat?(chat: Json, context: RequestContext): RequestTranslation;
  /** Flow's answer in this API as a Chat Completions answer. */
  responseToChat?(body: Json, context: RequestContext): Json;
  /** Flow's events in this API as Chat Completions chunks. */
  streamToChat?(context: RequestContext): EventTranslator;
  /** Flow's error body (any text) in this API as an {@linkcode ErrorInfo}. */
  readError(status: number, text: string): ErrorInfo;
}
