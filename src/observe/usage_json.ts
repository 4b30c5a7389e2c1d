/**
 * What the usage tap (usage_tap.ts) reads out of JSON, in SSE event data or a
 * whole body: the usage and model fields, whether an event carries the first
 * token, and a scanner that finds a key's value without parsing a body that
 * may be megabytes long.
 */

const LF = 10;
const CR = 13;
const SPACE = 32;
const COLON = 58;

/**
 * Whether an SSE event carries the first token: an Anthropic
 * `content_block_delta`, a Responses `*.delta`, or an OpenAI chunk that is not
 * just a role announcement or the closing usage chunk.
 */
export function isContentEvent(
  object: Record<string, unknown>,
  event: string | null,
): boolean {
  const type = typeof object.type === "string" ? object.type : event;
  const choices = object.choices;
  if (Array.isArray(choices)) {
    for (const choice of choices) {
      if (choice === null || typeof choice !== "object") continue;
      const c = choice as Record<string, unknown>;
      if (typeof c.text === "string" && c.text.length > 0) return true;
      if (hasDeltaContent(c.delta)) return true;
    }
    return false;
  }
  if (type !== null) {
    return type === "content_block_delta" || type.endsWith(".delta");
  }
  // An unknown shape of data is content to whoever reads it, unless it only reports usage or an error.
  return object.usage === undefined && object.error === undefined;
}

/** True when a Chat Completions delta has more than a role (text, reasoning, tool calls, …). */
function hasDeltaContent(delta: unknown): boolean {
  if (delta === null || typeof delta !== "object") return false;
  for (const [key, value] of Object.entries(delta)) {
    if (
      key === "role" || value === null || value === undefined || value === ""
    ) continue;
    if (Array.isArray(value) && value.length === 0) continue;
    return true;
  }
  return false;
}

/** The model an SSE event or JSON body names (`model`, `message.model`, `response.model`), or null. */
export function eventModel(object: Record<string, unknown>): string | null {
  const model = object.model ?? field(object.message, "model") ??
    field(object.response, "model");
  return typeof model === "string" && model.length > 0 ? model : null;
}

/** `value[key]` when `value` is an object, else undefined. */
export function field(value: unknown, key: string): unknown {
  return value !== null && typeof value === "object"
    ? (value as Record<string, unknown>)[key]
    : undefined;
}

/** `JSON.parse(text)`, or null when it is not JSON. */
export function parseOrNull(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** A token count: a safe non-negative integer, else null. */
export function count(value: unknown): number | null {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0
    ? value
    : null;
}

/**
 * Whether event data may hold token counts: it names `usage`, and not only
 * as OpenAI's `"usage":null`, which include_usage puts in every chunk.
 */
export function carriesUsage(data: string): boolean {
  const at = data.indexOf('"usage"');
  if (at === -1) return false;
  const colon = skipSpace(data, at + 7);
  if (
    data.charCodeAt(colon) !== COLON ||
    !data.startsWith("null", skipSpace(data, colon + 1))
  ) return true;
  return data.indexOf('"usage"', at + 7) !== -1;
}

/** Index of the value after `key` `:` (first or last such key), or -1. */
export function findKeyValue(text: string, key: string, last: boolean): number {
  let at = last ? text.lastIndexOf(key) : text.indexOf(key);
  while (at !== -1) {
    const colon = skipSpace(text, at + key.length);
    if (text.charCodeAt(colon) === COLON) return skipSpace(text, colon + 1);
    if (last) at = at === 0 ? -1 : text.lastIndexOf(key, at - 1);
    else at = text.indexOf(key, at + 1);
  }
  return -1;
}

/** Index of the first non-whitespace character at or after `at`. */
function skipSpace(text: string, at: number): number {
  let i = at;
  for (;;) {
    const c = text.charCodeAt(i);
    if (c !== SPACE && c !== LF && c !== CR && c !== 9) return i;
    i++;
  }
}

/** Index of the `}` closing the object that opens at `start`, or -1. */
export function matchingBrace(text: string, start: number): number {
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      i = stringEnd(text, i);
      if (i === -1) return -1;
    } else if (c === 0x7b || c === 0x5b) {
      depth++;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

/** Index of the quote closing the string that opens at `start`, or -1. */
export function stringEnd(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5c) i++;
    else if (c === 0x22) return i;
  }
  return -1;
}
