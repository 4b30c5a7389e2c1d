/**
 * Token usage and time to first token, read from a response while it is
 * forwarded: the proxy hands every chunk it sends to {@linkcode UsageTap}, which
 * looks at the bytes without changing, delaying or keeping them.
 *
 * Formats understood:
 * - OpenAI Chat Completions, JSON and SSE (`stream_options.include_usage`
 *   sends a last chunk with `usage` and empty `choices`; without it a stream
 *   carries no usage and the tokens stay null);
 * - OpenAI Responses, JSON and SSE (`response.completed` carries the usage);
 * - Anthropic Messages, JSON and SSE (`message_start` carries input and cache
 *   tokens, `message_delta` the cumulative output tokens);
 * - OpenAI embeddings JSON (`usage.prompt_tokens`).
 *
 * Anything else, and anything garbled, gives nulls; the tap never throws.
 * The JSON it reads is picked apart in usage_json.ts.
 */
import {
  carriesUsage,
  count,
  eventModel,
  field,
  findKeyValue,
  isContentEvent,
  matchingBrace,
  parseOrNull,
  stringEnd,
} from "./usage_json.ts";

/** What a response said about its own cost and speed; unknown values are null. */
export interface Usage {
  /** Prompt tokens as the upstream counts them (Anthropic's exclude cache reads and writes). */
  tokensIn: number | null;
  tokensOut: number | null;
  /** Prompt tokens served from the provider's cache. */
  cacheReadTokens: number | null;
  /** Prompt tokens written to the provider's cache (Anthropic). */
  cacheWriteTokens: number | null;
  /** The model named by the response, if it names one. */
  model: string | null;
  /** Milliseconds from arrival to the first token (SSE) or first byte (other streams); null for JSON. */
  ttftMs: number | null;
}

/** How a response body is read; see {@linkcode responseKind}. */
export type ResponseKind = "sse" | "json" | "other";

/** Options of {@linkcode UsageTap}. */
export interface UsageTapOptions {
  /** Body format, from the response's content type ({@linkcode responseKind}). */
  kind: ResponseKind;
  /** `now()` at the request's arrival; TTFT is measured from here. */
  startedAt: number;
  /** Clock in milliseconds; defaults to `performance.now`. */
  now?: () => number;
  /** JSON bodies larger than this are not parsed (default 4 MiB); also caps one SSE line. */
  maxJsonBytes?: number;
}

/** Default of {@linkcode UsageTapOptions.maxJsonBytes}. */
export const DEFAULT_MAX_JSON_BYTES = 4 * 1024 * 1024;

const INITIAL_JSON_BUFFER = 16 * 1024;
const jsonDecoder = new TextDecoder();
const CR = 13;
const SPACE = 32;
const COLON = 58;

/** The body format of a response with this `Content-Type`. */
export function responseKind(contentType: string | null): ResponseKind {
  if (contentType === null) return "other";
  const type = contentType.toLowerCase();
  if (type.includes("text/event-stream")) return "sse";
  if (type.includes("application/json") || type.includes("+json")) {
    return "json";
  }
  return "other";
}

/**
 * Watches one response body: call {@linkcode UsageTap.write} with every chunk
 * sent to the client, then {@linkcode UsageTap.finish} once.
 */
export class UsageTap {
  #kind: ResponseKind;
  #startedAt: number;
  #now: () => number;
  #maxBytes: number;
  #result: Usage | null = null;

  #tokensIn: number | null = null;
  #tokensOut: number | null = null;
  #cacheRead: number | null = null;
  #cacheWrite: number | null = null;
  #model: string | null = null;
  #ttftMs: number | null = null;

  // SSE: the decoder keeps split UTF-8 sequences; `#partial` the unfinished line.
  #decoder: TextDecoder | null = null;
  #partial = "";
  #skippingLine = false;
  #data: string | null = null;
  #event: string | null = null;

  // JSON: a private copy of the body, up to `#maxBytes`.
  #json: Uint8Array | null = null;
  #jsonLength = 0;
  #jsonTooLarge = false;

  /** A tap for one response; see {@linkcode UsageTapOptions}. */
  constructor(options: UsageTapOptions) {
    this.#kind = options.kind;
    this.#startedAt = options.startedAt;
    this.#now = options.now ?? (() => performance.now());
    this.#maxBytes = options.maxJsonBytes ?? DEFAULT_MAX_JSON_BYTES;
    if (this.#kind === "sse") {
      this.#decoder = new TextDecoder("utf-8", { fatal: false });
    }
  }

  /**
   * Taps a whole body at once, without copying it: the caller calls
   * {@linkcode finish} before the bytes go anywhere else.
   */
  writeWhole(body: Uint8Array): void {
    if (
      this.#kind === "json" && this.#json === null && this.#result === null &&
      body.byteLength <= this.#maxBytes
    ) {
      this.#json = body;
      this.#jsonLength = body.byteLength;
      return;
    }
    this.write(body);
  }

  /** Looks at one forwarded chunk; never throws, never keeps `chunk`. */
  write(chunk: Uint8Array): void {
    if (this.#result !== null || chunk.byteLength === 0) return;
    try {
      if (this.#kind === "sse") {
        this.#feed(this.#decoder!.decode(chunk, { stream: true }));
      } else if (this.#kind === "json") {
        this.#append(chunk);
      } else if (this.#ttftMs === null) {
        this.#ttftMs = this.#now() - this.#startedAt;
      }
    } catch {
      // A tap must never break forwarding; whatever it has read stays.
    }
  }

  /** Ends the body and returns what was found; later calls return the same result. */
  finish(): Usage {
    if (this.#result !== null) return this.#result;
    try {
      if (this.#kind === "sse") {
        this.#feed(this.#decoder!.decode());
        if (this.#partial.length > 0 && !this.#skippingLine) {
          const line = this.#partial;
          this.#partial = "";
          this.#line(line, 0, line.length);
        }
        this.#dispatch();
      } else if (this.#kind === "json") {
        this.#readJson();
      }
    } catch {
      // Same as write(): a garbled body only means unknown usage.
    }
    this.#result = {
      tokensIn: this.#tokensIn,
      tokensOut: this.#tokensOut,
      cacheReadTokens: this.#cacheRead,
      cacheWriteTokens: this.#cacheWrite,
      model: this.#model,
      ttftMs: this.#kind === "json" ? null : this.#ttftMs,
    };
    this.#decoder = null;
    this.#json = null;
    this.#partial = "";
    this.#data = null;
    return this.#result;
  }

  /** Splits decoded text into lines; only an unfinished last line is kept. */
  #feed(text: string): void {
    if (text.length === 0) return;
    let start = 0;
    let end = text.indexOf("\n");
    if (end === -1) {
      this.#keepPartial(text);
      return;
    }
    if (this.#partial.length > 0 || this.#skippingLine) {
      const skip = this.#skippingLine;
      const line = skip ? "" : this.#partial + text.slice(0, end);
      this.#partial = "";
      this.#skippingLine = false;
      if (!skip) this.#line(line, 0, line.length);
    } else {
      this.#line(text, 0, end);
    }
    start = end + 1;
    while ((end = text.indexOf("\n", start)) !== -1) {
      this.#line(text, start, end);
      start = end + 1;
    }
    if (start < text.length) this.#keepPartial(text.slice(start));
  }

  #keepPartial(text: string): void {
    if (this.#skippingLine) return;
    if (this.#partial.length + text.length > this.#maxBytes) {
      // A line this long is not an event we can use; drop it up to its end.
      this.#partial = "";
      this.#skippingLine = true;
      return;
    }
    this.#partial += text;
  }

  /** One SSE line, `text[start, end)`, without its `\n`. */
  #line(text: string, start: number, end: number): void {
    if (end > start && text.charCodeAt(end - 1) === CR) end--;
    if (end === start) {
      this.#dispatch();
      return;
    }
    if (text.startsWith("data", start)) {
      let from = start + 4;
      if (from === end) {
        this.#appendData("");
        return;
      }
      if (text.charCodeAt(from) !== COLON) return;
      from++;
      if (text.charCodeAt(from) === SPACE) from++;
      this.#appendData(text.slice(from, end));
    } else if (text.startsWith("event:", start)) {
      let from = start + 6;
      if (text.charCodeAt(from) === SPACE) from++;
      this.#event = text.slice(from, end);
    }
    // Comments (`:`), `id:` and `retry:` carry nothing we need.
  }

  #appendData(value: string): void {
    this.#data = this.#data === null ? value : this.#data + "\n" + value;
  }

  /** A blank line ends an event: look at its data. */
  #dispatch(): void {
    const data = this.#data;
    const event = this.#event;
    this.#data = null;
    this.#event = null;
    if (data === null || data === "[DONE]") return;
    const needTtft = this.#ttftMs === null;
    const hasUsage = carriesUsage(data);
    // After the first token only usage-bearing events are worth parsing.
    if (!needTtft && !hasUsage) return;
    let value: unknown;
    try {
      value = JSON.parse(data);
    } catch {
      // Not JSON: some text was streamed, which counts as content.
      if (needTtft && data.trim().length > 0) {
        this.#ttftMs = this.#now() - this.#startedAt;
      }
      return;
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      if (needTtft) this.#ttftMs = this.#now() - this.#startedAt;
      return;
    }
    const object = value as Record<string, unknown>;
    if (needTtft && isContentEvent(object, event)) {
      this.#ttftMs = this.#now() - this.#startedAt;
    }
    if (this.#model === null) this.#model = eventModel(object);
    if (hasUsage) {
      this.#readUsage(object.usage);
      this.#readUsage(field(object.message, "usage"));
      this.#readUsage(field(object.response, "usage"));
    }
  }

  /** Copies a JSON chunk; the body is parsed only at the end. */
  #append(chunk: Uint8Array): void {
    if (this.#jsonTooLarge) return;
    const needed = this.#jsonLength + chunk.byteLength;
    if (needed > this.#maxBytes) {
      this.#jsonTooLarge = true;
      this.#json = null;
      return;
    }
    if (this.#json === null || needed > this.#json.byteLength) {
      let size = Math.max(INITIAL_JSON_BUFFER, this.#json?.byteLength ?? 0);
      while (size < needed) size *= 2;
      const grown = new Uint8Array(Math.min(size, this.#maxBytes));
      if (this.#json !== null) {
        grown.set(this.#json.subarray(0, this.#jsonLength));
      }
      this.#json = grown;
    }
    this.#json.set(chunk, this.#jsonLength);
    this.#jsonLength = needed;
  }

  /**
   * Reads `usage` and `model` from a JSON body without parsing all of it: a
   * completion or an embeddings list can be megabytes, its usage a few bytes.
   * In valid JSON a quoted name followed by `:` is always a key, and the
   * top-level `usage` comes after any nested one (content, tool input), so the
   * last `"usage":` key is the response's own.
   */
  #readJson(): void {
    if (this.#json === null || this.#jsonTooLarge) return;
    const text = jsonDecoder.decode(this.#json.subarray(0, this.#jsonLength));
    const usageAt = findKeyValue(text, '"usage"', true);
    if (usageAt !== -1 && text.charCodeAt(usageAt) === 0x7b) {
      const end = matchingBrace(text, usageAt);
      if (end !== -1) {
        this.#readUsage(parseOrNull(text.slice(usageAt, end + 1)));
      }
    }
    const modelAt = findKeyValue(text, '"model"', false);
    if (modelAt !== -1 && text.charCodeAt(modelAt) === 0x22) {
      const end = stringEnd(text, modelAt);
      const model = end === -1
        ? null
        : parseOrNull(text.slice(modelAt, end + 1));
      if (typeof model === "string" && model.length > 0) this.#model = model;
    }
  }

  /** Takes every count present; later events override earlier ones (Anthropic's output is cumulative). */
  #readUsage(usage: unknown): void {
    if (usage === null || typeof usage !== "object") return;
    const u = usage as Record<string, unknown>;
    this.#tokensIn = count(u.prompt_tokens) ?? count(u.input_tokens) ??
      this.#tokensIn;
    this.#tokensOut = count(u.completion_tokens) ?? count(u.output_tokens) ??
      this.#tokensOut;
    this.#cacheRead = count(u.cache_read_input_tokens) ??
      count(field(u.prompt_tokens_details, "cached_tokens")) ??
      count(field(u.input_tokens_details, "cached_tokens")) ??
      this.#cacheRead;
    this.#cacheWrite = count(u.cache_creation_input_tokens) ?? this.#cacheWrite;
  }
}
