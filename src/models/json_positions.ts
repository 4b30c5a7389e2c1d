/**
 * A JSON parser that remembers where every value and key is, so that a
 * configuration problem can name its line and column, and that reports
 * repeated keys (which `JSON.parse` silently resolves to the last one).
 *
 * It accepts exactly RFC 8259 JSON (a leading byte-order mark allowed) and is
 * meant for small configuration files, not request bodies.
 */

import { type LineColumn, lineLocator } from "../base/text_position.ts";

/** A parsed document with the offsets of its values and keys, by path. */
export interface PositionedJson {
  value: unknown;
  /** Offset of each value's first character, by path (`models[3].name`; `""` for the root). */
  values: Map<string, number>;
  /** Offset of each object key's opening quote, by the path of its value. */
  keys: Map<string, number>;
  /** Keys written more than once in one object: path of the value, and every offset. */
  duplicates: { path: string; offsets: number[] }[];
  /** Line and column of an offset into the text that was parsed. */
  locate(offset: number): LineColumn;
}

/** A syntax error, with where it is. */
export class JsonSyntaxError extends SyntaxError {
  /** Offset into the text given to {@linkcode parseWithPositions}. */
  readonly offset: number;
  readonly line: number;
  readonly column: number;
  /** The reason alone, without the position. */
  readonly reason: string;

  /** Makes the error for `reason` at `offset`. */
  constructor(reason: string, offset: number, at: LineColumn) {
    super(`Invalid JSON at line ${at.line}, column ${at.column}: ${reason}`);
    this.name = "JsonSyntaxError";
    this.reason = reason;
    this.offset = offset;
    this.line = at.line;
    this.column = at.column;
  }
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** The path of `key` inside the object at `parent`: `a.b`, or `a["b-c"]`. */
export function childPath(parent: string, key: string | number): string {
  if (typeof key === "number") return `${parent}[${key}]`;
  if (IDENTIFIER.test(key)) return parent === "" ? key : `${parent}.${key}`;
  return `${parent}[${JSON.stringify(key)}]`;
}

const ESCAPES: Record<string, string> = {
  '"': '"',
  "\\": "\\",
  "/": "/",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
};
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const MAX_DEPTH = 64;

/**
 * Parses `text` as JSON, keeping positions. Throws {@linkcode JsonSyntaxError}
 * for anything that is not JSON.
 */
export function parseWithPositions(text: string): PositionedJson {
  const locate = lineLocator(text);
  const values = new Map<string, number>();
  const keys = new Map<string, number>();
  const duplicates: { path: string; offsets: number[] }[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;

  const fail = (reason: string, at = i): never => {
    throw new JsonSyntaxError(reason, at, locate(at));
  };
  const describeHere = (): string =>
    i >= text.length ? "end of file" : `${JSON.stringify(text[i])}`;
  const skipSpace = () => {
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
  };

  const parseString = (): string => {
    const start = i;
    i++; // the opening quote
    let out = "";
    let run = i;
    while (true) {
      if (i >= text.length) fail("unterminated string", start);
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        out += text.slice(run, i);
        i++;
        return out;
      }
      if (c < 0x20) {
        fail("control character (such as a line break) inside a string");
      }
      if (c === 0x5c) {
        out += text.slice(run, i);
        const e = text[i + 1];
        if (e === "u") {
          const hex = text.slice(i + 2, i + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail("invalid \\u escape");
          out += String.fromCharCode(parseInt(hex, 16));
          i += 6;
        } else if (e !== undefined && e in ESCAPES) {
          out += ESCAPES[e];
          i += 2;
        } else {
          fail("invalid escape in a string");
        }
        run = i;
        continue;
      }
      i++;
    }
  };

  const parseValue = (path: string, depth: number): unknown => {
    skipSpace();
    if (depth > MAX_DEPTH) fail(`nested deeper than ${MAX_DEPTH} levels`);
    values.set(path, i);
    const c = text[i];
    if (c === "{") return parseObject(path, depth);
    if (c === "[") return parseArray(path, depth);
    if (c === '"') return parseString();
    for (const [word, value] of LITERALS) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return value;
      }
    }
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (m) {
      i += m[0].length;
      return Number(m[0]);
    }
    return fail(`unexpected ${describeHere()}, expected a value`);
  };

  const parseArray = (path: string, depth: number): unknown[] => {
    i++;
    const out: unknown[] = [];
    skipSpace();
    if (text[i] === "]") {
      i++;
      return out;
    }
    while (true) {
      out.push(parseValue(childPath(path, out.length), depth + 1));
      skipSpace();
      if (text[i] === ",") {
        i++;
        continue;
      }
      if (text[i] === "]") {
        i++;
        return out;
      }
      fail(`unexpected ${describeHere()}, expected "," or "]"`);
    }
  };

  const parseObject = (path: string, depth: number) => {
    i++;
    const out: Record<string, unknown> = {};
    const seen = new Map<string, number[]>();
    skipSpace();
    if (text[i] === "}") {
      i++;
      return out;
    }
    while (true) {
      skipSpace();
      if (text[i] !== '"') {
        fail(`unexpected ${describeHere()}, expected a key in double quotes`);
      }
      const keyAt = i;
      const key = parseString();
      skipSpace();
      if (text[i] !== ":") fail(`unexpected ${describeHere()}, expected ":"`);
      i++;
      const valuePath = childPath(path, key);
      const offsets = seen.get(key);
      if (offsets) offsets.push(keyAt);
      else seen.set(key, [keyAt]);
      keys.set(valuePath, keyAt);
      // defineProperty: a "__proto__" key is data, as in JSON.parse.
      Object.defineProperty(out, key, {
        value: parseValue(valuePath, depth + 1),
        enumerable: true,
        writable: true,
        configurable: true,
      });
      skipSpace();
      if (text[i] === ",") {
        i++;
        continue;
      }
      if (text[i] === "}") {
        i++;
        break;
      }
      fail(`unexpected ${describeHere()}, expected "," or "}"`);
    }
    for (const [key, at] of seen) {
      if (at.length > 1) {
        duplicates.push({ path: childPath(path, key), offsets: at });
      }
    }
    return out;
  };

  const value = parseValue("", 0);
  skipSpace();
  if (i < text.length) fail(`unexpected ${describeHere()} after the value`);
  return { value, values, keys, duplicates, locate };
}

const LITERALS: [string, unknown][] = [
  ["true", true],
  ["false", false],
  ["null", null],
];
