/**
 * Invalid UTF-8 and repeated keys in a secrets file: where, never what (the
 * file holds secrets). Both are read past by the decoder and by JSON.parse,
 * so they are found by scanning the bytes and the text again.
 *
 * @module
 */
import { LISTED_PLACES, listPlaces } from "./json_locate.ts";
import { type LineColumn, lineLocator } from "../base/text_position.ts";

const LOSSY_UTF8 = new TextDecoder("utf-8");

/**
 * Where sequences that are not UTF-8 start, as the WHATWG decoder sees them
 * (one U+FFFD per maximal bad subpart): the first few byte offsets and the count.
 */
export function findInvalidUtf8(
  bytes: Uint8Array,
): { offsets: number[]; count: number } {
  const offsets: number[] = [];
  let count = 0;
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    let need = 0;
    let low = 0x80;
    let high = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b === 0xe0) [need, low] = [2, 0xa0];
    else if (b === 0xed) [need, high] = [2, 0x9f];
    else if (b >= 0xe1 && b <= 0xef) need = 2;
    else if (b === 0xf0) [need, low] = [3, 0x90];
    else if (b === 0xf4) [need, high] = [3, 0x8f];
    else if (b >= 0xf1 && b <= 0xf3) need = 3;
    let j = 1;
    for (; j <= need; j++) {
      const c = bytes[i + j];
      const min = j === 1 ? low : 0x80;
      const max = j === 1 ? high : 0xbf;
      if (c === undefined || c < min || c > max) break;
    }
    if (need > 0 && j > need) {
      i += need + 1;
    } else {
      if (offsets.length < LISTED_PLACES) offsets.push(i);
      count++;
      i += need > 0 ? j : 1;
    }
  }
  return { offsets, count };
}

/** `bytes that are not valid UTF-8 at line 3, column 18 …`, columns as in JSON errors. */
export function describeInvalidUtf8(
  bytes: Uint8Array,
  invalid: { offsets: number[]; count: number },
): string {
  const bom = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf
    ? 3
    : 0;
  const places = invalid.offsets.map((offset) => {
    let line = 1;
    let lineStart = bom;
    for (let i = 0; i < offset; i++) {
      if (bytes[i] === 0x0a) {
        line++;
        lineStart = i + 1;
      }
    }
    const before = LOSSY_UTF8.decode(bytes.subarray(lineStart, offset));
    return { line, column: before.length + 1 };
  });
  return `bytes that are not valid UTF-8 at ${
    listPlaces(places, invalid.count)
  }; each is read as U+FFFD`;
}

/** A key written more than once in one entry. */
export interface DuplicateField {
  /** The key as JSON.parse reads it (escapes resolved). */
  key: string;
  /** Every place it appears, in file order. */
  at: LineColumn[];
}

/**
 * Keys repeated within an entry (an object directly in the top-level array),
 * by 0-based entry index. `source` must be valid JSON (JSON.parse accepted it).
 */
export function findDuplicateFields(
  source: string,
): Map<number, DuplicateField[]> {
  const result = new Map<number, DuplicateField[]>();
  const locate = lineLocator(source);
  const n = source.length;
  let i = 0;
  const ws = () => {
    while (i < n && " \t\n\r".includes(source[i])) i++;
  };
  const string = () => {
    i++;
    while (i < n && source[i] !== '"') i += source[i] === "\\" ? 2 : 1;
    i++;
  };
  const value = () => {
    const c = source[i];
    if (c === '"') return string();
    if (c !== "{" && c !== "[") {
      while (i < n && !",]} \t\n\r".includes(source[i])) i++;
      return;
    }
    let depth = 0;
    do {
      const d = source[i];
      if (d === '"') {
        string();
        continue;
      }
      if (d === "{" || d === "[") depth++;
      else if (d === "}" || d === "]") depth--;
      i++;
    } while (i < n && depth > 0);
  };
  const entry = (index: number) => {
    const seen = new Map<string, LineColumn[]>();
    i++;
    while (true) {
      ws();
      if (source[i] === "}") break;
      const start = i;
      string();
      const key = JSON.parse(source.slice(start, i)) as string;
      const places = seen.get(key) ?? [];
      places.push(locate(start));
      seen.set(key, places);
      ws();
      i++; // ":"
      ws();
      value();
      ws();
      if (source[i] === ",") i++;
    }
    i++;
    const repeated = [...seen].filter(([, at]) => at.length > 1);
    if (repeated.length > 0) {
      result.set(index, repeated.map(([key, at]) => ({ key, at })));
    }
  };

  ws();
  if (source[i] !== "[") return result;
  i++;
  for (let index = 0; i < n; index++) {
    ws();
    if (source[i] === "]") break;
    if (source[i] === "{") entry(index);
    else value();
    ws();
    if (source[i] !== ",") break;
    i++;
  }
  return result;
}
