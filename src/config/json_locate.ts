/**
 * Where a secrets file's JSON is invalid, and why, in words: line and
 * column, never a quote of the text (the file holds secrets). V8's message
 * gives the position when it can; a small RFC 8259 scanner finds it, and a
 * more specific reason ("trailing comma", "comments"), when it does not.
 *
 * @module
 */
import { describe } from "../base/describe.ts";
import { type LineColumn, lineColumn } from "../base/text_position.ts";

/** Places listed in a message before "and N more". */
export const LISTED_PLACES = 3;

/** `invalid JSON at line L, column C: reason` for a JSON.parse failure of `source`. */
export function describeJsonError(source: string, err: unknown): string {
  const message = describe(err);
  const v8 = locateFromV8Message(message, source);
  const scanned = scanJsonError(source);
  const scannedAt = scanned ? lineColumn(source, scanned.offset) : null;
  const where = v8 ?? scannedAt;
  // Both found the same spot: the scanner's wording is the more specific
  // ("trailing comma", "comments", "single quotes").
  const agree = scannedAt !== null && where !== null &&
    scannedAt.line === where.line &&
    scannedAt.column === where.column;
  const reason = (agree ? scanned?.reason : null) ??
    (v8 ? v8Reason(message) : null) ??
    scanned?.reason ?? "not valid JSON";
  return where
    ? `invalid JSON at line ${where.line}, column ${where.column}: ${reason}`
    : `invalid JSON: ${reason}`;
}

/** Position from V8's "at position N" (preferred) or "(line X column Y)". */
export function locateFromV8Message(
  message: string,
  source: string,
): LineColumn | null {
  const position = message.match(/at position (\d+)/);
  if (position) {
    return lineColumn(source, Math.min(Number(position[1]), source.length));
  }
  const lc = message.match(/line (\d+) column (\d+)/);
  if (lc) return { line: Number(lc[1]), column: Number(lc[2]) };
  return null;
}

/** V8's fixed reason text ("Expected ',' or '}' after property value"), never source text. */
function v8Reason(message: string): string | null {
  const match = message.match(/^(.*?) in JSON at position/);
  if (!match || /["`]|\.\.\./.test(match[1])) return null;
  return match[1].charAt(0).toLowerCase() + match[1].slice(1);
}

/** The first syntax error {@linkcode scanJsonError} found: where, and why in words. */
export interface ScanError {
  offset: number;
  reason: string;
}

const MAX_SCAN_DEPTH = 512;
const END_OF_FILE = "unexpected end of file";

/**
 * Finds the first syntax error in `source` (RFC 8259), for the V8 messages
 * that carry no position ("Unexpected token …", "Unexpected end of JSON input").
 * Returns null when the text is valid JSON.
 */
export function scanJsonError(source: string): ScanError | null {
  let i = 0;
  const n = source.length;

  class Stop {
    constructor(readonly error: ScanError) {}
  }
  const fail = (reason: string, at = i): never => {
    throw new Stop({
      offset: at,
      reason: at >= n ? END_OF_FILE : reason,
    });
  };
  const ws = () => {
    while (i < n && " \t\n\r".includes(source[i])) i++;
  };
  const unexpected = (
    expected: string,
    word = `${expected}; text must be in double quotes`,
  ) => {
    const c = source[i];
    if (c === "/") return "comments are not allowed in JSON";
    if (c === "'") return "strings must be in double quotes, not single quotes";
    if (/[A-Za-z_$]/.test(c)) return word;
    if (c === '"') return `${expected}, found a string (missing ","?)`;
    return `${expected}, found ${describeChar(c)}`;
  };

  const string = () => {
    i++; // opening quote
    while (true) {
      if (i >= n) fail("unterminated string");
      const code = source.charCodeAt(i);
      if (code === 0x22) {
        i++;
        return;
      }
      if (code < 0x20) {
        fail("control character (such as a line break) inside a string");
      }
      if (code === 0x5c) {
        const next = source[i + 1];
        if (next === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(source.slice(i + 2, i + 6))) {
            fail("bad \\u escape in a string");
          }
          i += 6;
        } else if (next !== undefined && '"\\/bfnrt'.includes(next)) {
          i += 2;
        } else {
          fail("bad escape in a string", i + 1);
        }
        continue;
      }
      i++;
    }
  };

  const number = () => {
    if (source[i] === "-") i++;
    if (source[i] === "0") {
      i++;
      if (/[0-9]/.test(source[i] ?? "")) {
        fail("numbers must not have leading zeros");
      }
    } else if (/[1-9]/.test(source[i] ?? "")) {
      while (/[0-9]/.test(source[i] ?? "")) i++;
    } else {
      fail("expected a digit");
    }
    if (source[i] === ".") {
      i++;
      if (!/[0-9]/.test(source[i] ?? "")) {
        fail("expected a digit after the decimal point");
      }
      while (/[0-9]/.test(source[i] ?? "")) i++;
    }
    if (source[i] === "e" || source[i] === "E") {
      i++;
      if (source[i] === "+" || source[i] === "-") i++;
      if (!/[0-9]/.test(source[i] ?? "")) {
        fail("expected a digit in the exponent");
      }
      while (/[0-9]/.test(source[i] ?? "")) i++;
    }
  };

  const value = (depth: number, afterComma: boolean) => {
    ws();
    if (i >= n) fail("");
    if (depth > MAX_SCAN_DEPTH) fail("nesting too deep");
    const c = source[i];
    if (c === "{") return object(depth);
    if (c === "[") return array(depth);
    if (c === '"') return string();
    if (c === "-" || (c >= "0" && c <= "9")) return number();
    for (const literal of ["true", "false", "null"]) {
      if (source.startsWith(literal, i)) {
        i += literal.length;
        return;
      }
    }
    if (afterComma && (c === "]" || c === "}")) {
      fail("trailing comma is not allowed");
    }
    fail(unexpected("expected a value"));
  };

  const object = (depth: number) => {
    i++;
    ws();
    if (source[i] === "}") {
      i++;
      return;
    }
    let afterComma = false;
    while (true) {
      ws();
      if (source[i] !== '"') {
        if (afterComma && source[i] === "}") {
          fail("trailing comma is not allowed");
        }
        fail(
          unexpected(
            'expected a double-quoted property name or "}"',
            "property names must be in double quotes",
          ),
        );
      }
      string();
      ws();
      if (source[i] !== ":") {
        fail(unexpected('expected ":" after the property name'));
      }
      i++;
      value(depth + 1, false);
      ws();
      if (source[i] === ",") {
        i++;
        afterComma = true;
        continue;
      }
      if (source[i] === "}") {
        i++;
        return;
      }
      fail(unexpected('expected "," or "}" after the property value'));
    }
  };

  const array = (depth: number) => {
    i++;
    ws();
    if (source[i] === "]") {
      i++;
      return;
    }
    let afterComma = false;
    while (true) {
      value(depth + 1, afterComma);
      ws();
      if (source[i] === ",") {
        i++;
        afterComma = true;
        continue;
      }
      if (source[i] === "]") {
        i++;
        return;
      }
      fail(unexpected('expected "," or "]" after the array element'));
    }
  };

  try {
    value(0, false);
    ws();
    if (i < n) fail("unexpected text after the end of the JSON value");
    return null;
  } catch (err) {
    if (err instanceof Stop) return err.error;
    throw err;
  }
}

/** A single character for a message: punctuation as is, anything else by code. */
function describeChar(c: string): string {
  if (/^[!-~]$/.test(c) && !/[A-Za-z0-9]/.test(c)) return `"${c}"`;
  const code = c.codePointAt(0)!;
  return `character U+${code.toString(16).toUpperCase().padStart(4, "0")}`;
}

/** `line 2, column 4 and line 2, column 20`: the first few of `total`, then a count. */
export function listPlaces(
  places: LineColumn[],
  total = places.length,
): string {
  const shown = places.slice(0, LISTED_PLACES).map((p) =>
    `line ${p.line}, column ${p.column}`
  );
  const more = total - shown.length;
  if (more > 0) return `${shown.join(", ")} and ${more} more`;
  if (shown.length === 1) return shown[0];
  return `${shown.slice(0, -1).join(", ")} and ${shown.at(-1)}`;
}
