/**
 * Tells when an event stream's final event has arrived, from the same chunks
 * the response carries, so a stream that finished is recorded as completed
 * even if the client hangs up before the upstream closes.
 *
 * Final events:
 * - Anthropic Messages: `event: message_stop` → completed; `event: error`
 *   → failed (an error event ends an Anthropic stream);
 * - OpenAI Chat Completions: `data: [DONE]` → completed;
 * - OpenAI Responses: `response.completed` → completed,
 *   `response.incomplete` → incomplete (the answer stopped at a limit, as a
 *   chat stream cut by `length` still ends with `[DONE]`: a finished
 *   stream, record it as completed), `response.failed` → failed (record
 *   the upstream's failure, not the client's).
 *
 * An event is told by its `event:` line, or, for a stream without those
 * lines, by `"type":"…"` in its data (`message_stop` and the three Responses
 * ones). Both are structural: a field name starts a line, and inside a JSON
 * string quotes are escaped, so text a model writes cannot match. Only the
 * ASCII markers are searched, so a UTF-8 character split between chunks does
 * not matter; the end of each chunk is kept to find a marker split across
 * chunks.
 */

/** How a stream ended. */
export type StreamOutcome = "completed" | "incomplete" | "failed";

/** Which final events to look for; all of them by default. */
export type StreamApi = "anthropic" | "chat" | "responses";

/** Options of {@linkcode StreamEndDetector}. */
export interface StreamEndOptions {
  /** Only this API's final events count; any API's when left out. */
  api?: StreamApi;
}

const OUTCOMES: Readonly<Record<string, StreamOutcome>> = Object.freeze({
  "message_stop": "completed",
  "error": "failed",
  "[DONE]": "completed",
  "response.completed": "completed",
  "response.incomplete": "incomplete",
  "response.failed": "failed",
});

const API_OF: Readonly<Record<string, StreamApi>> = Object.freeze({
  "message_stop": "anthropic",
  "error": "anthropic",
  "[DONE]": "chat",
  "response.completed": "responses",
  "response.incomplete": "responses",
  "response.failed": "responses",
});

/**
 * The names of final events, searched first: literals the regular
 * expression engine skips to quickly, where a search that starts at every
 * line break or quote would stop everywhere. What precedes and follows a
 * hit is checked after.
 */
const NAME =
  /message_stop|\[DONE\]|response\.(?:completed|incomplete|failed)|error/g;
/** Before a name: an `event:` field at a line start (SSE strips one space). */
const EVENT_FIELD = /[\r\n]event: ?$/;
/** Before `[DONE]`: a `data:` field at a line start. */
const DATA_FIELD = /[\r\n]data: ?$/;
/** Before a name: a `"type"` key (compact or with Python's spaces). */
const TYPE_KEY = /"type" ?: ?"$/;
/** Longer than any marker, so one split across two chunks is found. */
const CARRY = 48;
// UTF-8 decoding without streaming: a character split between chunks turns
// into U+FFFD, but the markers are ASCII and come through whole.
const decoder = new TextDecoder();

/**
 * The outcome of the marker naming `name` at `at` in `text`; null when it
 * is no marker, undefined when the text ends before that can be told.
 */
function markerAt(
  text: string,
  at: number,
  name: string,
): StreamOutcome | null | undefined {
  const after = text.charCodeAt(at + name.length);
  if (Number.isNaN(after)) return undefined;
  const before = text.slice(Math.max(0, at - 12), at);
  const lineEnd = after === 0x0a || after === 0x0d;
  if (name === "[DONE]") {
    return lineEnd && DATA_FIELD.test(before) ? "completed" : null;
  }
  if (lineEnd && EVENT_FIELD.test(before)) return OUTCOMES[name];
  if (name !== "error" && after === 0x22 && TYPE_KEY.test(before)) {
    return OUTCOMES[name];
  }
  return null;
}

/** Finds the final event of one event stream; feed it every chunk. */
export class StreamEndDetector {
  #api: StreamApi | undefined;
  // A line break stands for the start of the stream.
  #tail = "\n";
  #outcome: StreamOutcome | null = null;

  /** A detector for one stream; see {@linkcode StreamEndOptions}. */
  constructor(options: StreamEndOptions = {}) {
    this.#api = options.api;
  }

  /** How the stream ended; null while its final event has not arrived. */
  get outcome(): StreamOutcome | null {
    return this.#outcome;
  }

  /**
   * Reads the next chunk; returns {@linkcode outcome}. Once a final event
   * is found, later chunks are not read.
   */
  push(chunk: Uint8Array): StreamOutcome | null {
    if (this.#outcome !== null || chunk.length === 0) return this.#outcome;
    const text = this.#tail + decoder.decode(chunk);
    NAME.lastIndex = 0;
    for (let m = NAME.exec(text); m !== null; m = NAME.exec(text)) {
      const name = m[0];
      if (this.#api !== undefined && API_OF[name] !== this.#api) continue;
      const outcome = markerAt(text, m.index, name);
      // Cut off before its end: the carried tail holds it for next time.
      if (outcome === undefined) break;
      if (outcome !== null) return this.#outcome = outcome;
    }
    this.#tail = text.slice(-CARRY);
    return null;
  }
}
