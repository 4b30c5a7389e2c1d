/**
 * The model a JSON request body asks for, read the way the upstream's JSON
 * parser will read it, without parsing the body.
 *
 * The model allowlist and the request log both depend on this answer, so it
 * must not differ from the upstream's: a regex over the text can be fooled by
 * a second top-level `"model"` key (JSON parsers keep the last one), by a key
 * spelt with escapes (`"\u006dodel"`), or by padding past a scan limit. This
 * module walks the top-level object key by key, decodes each key, and skips
 * every nested value (its strings with native searches), so a chat body of
 * hundreds of kilobytes costs a fraction of a parse and allocates nothing.
 *
 * A top-level `model` named twice with different values is reported as
 * ambiguous instead of choosing one: parsers disagree on which one wins
 * (JSON.parse and Python's json keep the last, several streaming extractors
 * the first), and Flow's side runs more than one parser.
 */

/** What {@linkcode sniffModel} found at the top level of a body. */
export interface ModelSniff {
  /**
   * The top-level `model` string; null when there is none, it is not a
   * non-empty string of at most {@linkcode MAX_MODEL_LENGTH} characters, the
   * body is not a JSON object, or the model is ambiguous.
   */
  model: string | null;
  /** True when the top level names `model` more than once, with different values. */
  ambiguous: boolean;
  /**
   * Where each top-level `model` value is, quotes included, as pairs of
   * UTF-16 indices `[start, end)` into the decoded text (see
   * {@linkcode spliceModel}); empty when there is no model.
   */
  spans: readonly number[];
}

/** Longest model name taken; a longer one is no model anyone serves. */
export const MAX_MODEL_LENGTH = 256;

const NO_SPANS: readonly number[] = Object.freeze([]);
const NONE: ModelSniff = Object.freeze({
  model: null,
  ambiguous: false,
  spans: NO_SPANS,
});
const AMBIGUOUS: ModelSniff = Object.freeze({
  model: null,
  ambiguous: true,
  spans: NO_SPANS,
});
const decoder = new TextDecoder();
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
/** The end of a number or literal (`true`, `null`, Python's `NaN`, …). */
const LITERAL_END = /[,}\]\s]/g;

/**
 * The top-level `model` of a JSON body (UTF-8, a leading BOM allowed).
 * Anything that is not a well-formed object as far as the walk goes gives
 * no model: the upstream would refuse such a body, and a caller that needs
 * a model (the allowlist) refuses it too.
 */
export function sniffModel(bytes: Uint8Array): ModelSniff {
  // Most bodies that are not JSON objects (uploads, forms) are told by their
  // first byte, before any decoding.
  let first = 0;
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) first = 3;
  while (
    bytes[first] === 0x20 || bytes[first] === 0x0a || bytes[first] === 0x0d ||
    bytes[first] === 0x09
  ) first++;
  if (bytes[first] !== OPEN_BRACE) return NONE;
  const text = decoder.decode(bytes);
  let i = skipSpace(text, 0);
  if (text.charCodeAt(i) !== OPEN_BRACE) return NONE;
  i = skipSpace(text, i + 1);
  if (text.charCodeAt(i) === CLOSE_BRACE) return NONE;
  let found = false;
  let model: string | null = null;
  // What the model value is, to compare duplicates: "s" + a string's
  // decoded value, "v" + the text of any other value.
  let identity = "";
  let spans: number[] | null = null;
  for (;;) {
    if (text.charCodeAt(i) !== QUOTE) return NONE;
    const keyEnd = stringEnd(text, i);
    if (keyEnd === -1) return NONE;
    const isModel = isModelKey(text, i, keyEnd);
    i = skipSpace(text, keyEnd + 1);
    if (text.charCodeAt(i) !== COLON) return NONE;
    i = skipSpace(text, i + 1);
    const c = text.charCodeAt(i);
    let valueEnd: number;
    let value: string | null = null;
    let id = "";
    const valueStart = i;
    if (c === QUOTE) {
      valueEnd = stringEnd(text, i);
      if (valueEnd === -1) return NONE;
      if (isModel) {
        const decoded = decodeString(text, i, valueEnd);
        if (decoded === undefined) return NONE;
        value = decoded;
        id = "s" + decoded;
      }
      valueEnd++;
    } else {
      if (c === OPEN_BRACE || c === OPEN_BRACKET) {
        valueEnd = skipNested(text, i);
      } else {
        LITERAL_END.lastIndex = i;
        valueEnd = LITERAL_END.exec(text)?.index ?? -1;
        if (valueEnd === i) return NONE;
      }
      if (valueEnd === -1) return NONE;
      if (isModel) id = "v" + text.slice(i, valueEnd);
    }
    if (isModel) {
      if (found && id !== identity) return AMBIGUOUS;
      found = true;
      identity = id;
      model = value;
      (spans ??= []).push(valueStart, valueEnd);
    }
    i = skipSpace(text, valueEnd);
    const next = text.charCodeAt(i);
    if (next === CLOSE_BRACE) break;
    if (next !== COMMA) return NONE;
    i = skipSpace(text, i + 1);
  }
  return model !== null && model.length > 0 &&
      model.length <= MAX_MODEL_LENGTH
    ? { model, ambiguous: false, spans: spans! }
    : NONE;
}

const encoder = new TextEncoder();

/**
 * `bytes` with every top-level `model` value that `sniff` found replaced by
 * `name` (JSON-escaped); every other byte is kept as it was. The spans are
 * indices into the decoded text, turned into byte offsets here (a body
 * that is rewritten only: the sniff itself never counts bytes).
 */
export function spliceModel(
  bytes: Uint8Array,
  sniff: Pick<ModelSniff, "spans">,
  name: string,
): Uint8Array {
  const spans = sniff.spans;
  if (spans.length === 0) return bytes;
  const text = decoder.decode(bytes);
  const value = encoder.encode(JSON.stringify(name));
  // The decoder drops a leading BOM from the text, not from the bytes.
  const bom = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
  const offsets: number[] = [];
  let at = 0;
  let byte = bom ? 3 : 0;
  for (const index of spans) {
    byte += utf8Length(text, at, index);
    at = index;
    offsets.push(byte);
  }
  // Invalid UTF-8 decodes to U+FFFD, which counts differently: the bytes
  // then go through the text (the upstream reads them as that text anyway).
  for (let k = 0; k < offsets.length; k += 2) {
    if (bytes[offsets[k]] !== QUOTE || bytes[offsets[k + 1] - 1] !== QUOTE) {
      let spliced = "";
      let from = 0;
      for (let j = 0; j < spans.length; j += 2) {
        spliced += text.slice(from, spans[j]) + JSON.stringify(name);
        from = spans[j + 1];
      }
      return encoder.encode(spliced + text.slice(from));
    }
  }
  let size = bytes.byteLength;
  for (let k = 0; k < offsets.length; k += 2) {
    size += value.byteLength - (offsets[k + 1] - offsets[k]);
  }
  const out = new Uint8Array(size);
  let read = 0;
  let write = 0;
  for (let k = 0; k < offsets.length; k += 2) {
    out.set(bytes.subarray(read, offsets[k]), write);
    write += offsets[k] - read;
    out.set(value, write);
    write += value.byteLength;
    read = offsets[k + 1];
  }
  out.set(bytes.subarray(read), write);
  return out;
}

/** UTF-8 length of `text` from `start` to `end` (UTF-16 indices). */
function utf8Length(text: string, start: number, end: number): number {
  let n = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < end) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** Whether the key quoted at `[start, end]` is `model`, escapes decoded. */
function isModelKey(text: string, start: number, end: number): boolean {
  const length = end - start - 1;
  if (length === 5) return text.startsWith("model", start + 1);
  // An escaped key is longer than its value; `\u006d` × 5 is 30 characters.
  if (length < 5 || length > 30) return false;
  const slash = text.indexOf("\\", start);
  if (slash === -1 || slash > end) return false;
  return decodeString(text, start, end) === "model";
}

/** The JSON string quoted at `[start, end]`; undefined when its escapes are invalid. */
function decodeString(
  text: string,
  start: number,
  end: number,
): string | undefined {
  const raw = text.slice(start, end + 1);
  if (raw.indexOf("\\") === -1) return raw.slice(1, -1);
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}

/** Index of the quote closing the string that opens at `start`, or -1. */
function stringEnd(text: string, start: number): number {
  let at = start;
  for (;;) {
    at = text.indexOf('"', at + 1);
    if (at === -1) return -1;
    // Escaped when an odd number of backslashes precedes it.
    let slashes = 0;
    while (text.charCodeAt(at - 1 - slashes) === BACKSLASH) slashes++;
    if (slashes % 2 === 0) return at;
  }
}

/** Index just past the object or array that opens at `start`, or -1. */
function skipNested(text: string, start: number): number {
  // A plain loop beats a regex here: strings, where the bytes are, are
  // jumped over with indexOf, and between them there is little to read.
  let depth = 0;
  const length = text.length;
  for (let i = start; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = stringEnd(text, i);
      if (i === -1) return -1;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      depth++;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      if (--depth === 0) return i + 1;
    }
  }
  return -1;
}

/** Index of the first character at or after `at` that is not JSON whitespace. */
function skipSpace(text: string, at: number): number {
  let i = at;
  for (;;) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return i;
    i++;
  }
}
