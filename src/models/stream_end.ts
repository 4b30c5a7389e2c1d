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
 * ASCII markers are searched, so chunks are read as single-byte text and a
 * UTF-8 character split between chunks does not matter; the last few bytes
 * of a chunk are kept to find a marker split across chunks.
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

const NAMES = "message_stop|response\\.completed|response\\.incomplete|" +
  "response\\.failed";
/**
 * A final `event:` line or `[DONE]` data line (each from a line start to its
 * end), or a final type in event data. SSE strips one space after a colon.
 */
const FINAL = new RegExp(
  `[\\r\\n](?:event: ?(${NAMES}|error)|data: ?(\\[DONE\\]))[\\r\\n]` +
    `|"type" ?: ?"(${NAMES})"`,
  "g",
);
/** Longer than any marker, so one split across two chunks is found. */
const CARRY = 48;
const latin1 = new TextDecoder("latin1");

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
    const text = this.#tail + latin1.decode(chunk);
    FINAL.lastIndex = 0;
    for (let m = FINAL.exec(text); m !== null; m = FINAL.exec(text)) {
      // A line-end match gives its break back, as it may start the next line.
      if (m[0].endsWith("\n") || m[0].endsWith("\r")) FINAL.lastIndex--;
      const name = m[1] ?? m[2] ?? m[3];
      if (this.#api !== undefined && API_OF[name] !== this.#api) continue;
      return this.#outcome = OUTCOMES[name];
    }
    this.#tail = text.slice(-CARRY);
    return null;
  }
}
