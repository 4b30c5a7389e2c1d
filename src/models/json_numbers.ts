/**
 * JSON.parse and JSON.stringify that keep long number literals as written.
 *
 * A double holds 15–17 significant digits, so `12345678901234567890` comes
 * back from a round trip as `12345678901234567000`: another value. Such
 * numbers are rare in a request (an id in a tool input, say), and a reviver
 * that keeps every literal makes a 200 KB parse ~15 times slower. So the
 * text is searched for number literals of 16 or more characters outside
 * strings; each one a double would change is replaced by a string sentinel
 * before parsing and written back, as it was, after stringifying.
 */

/** A number literal of 16+ characters after `:`, `,` or `[`. */
const CANDIDATE = /[:,[][ \t\r\n]*(-?\d[\d.eE+-]{15,})/g;
const BACKSLASH = 0x5c;

/** A parsed body and how to write it back with its long numbers intact. */
export interface NumberKeepingParse {
  /** What JSON.parse gave, long numbers as sentinel strings. */
  value: unknown;
  /** JSON.stringify of `value` (changed or not), long numbers restored. */
  stringify(value: unknown): string;
}

/** Parses `text`, keeping number literals a double would change. */
export function parseKeepingNumbers(text: string): NumberKeepingParse {
  const literals: string[] = [];
  let rebuilt = "";
  let copied = 0;
  // Where the quote scan stands, and whether that is inside a string.
  let scanned = 0;
  let inString = false;
  const prefix = `\u2063fp${crypto.randomUUID()}:`;
  CANDIDATE.lastIndex = 0;
  for (let m = CANDIDATE.exec(text); m !== null; m = CANDIDATE.exec(text)) {
    while (scanned <= m.index) {
      const quote = text.indexOf('"', scanned);
      if (quote === -1 || quote > m.index) break;
      if (!inString || !isEscaped(text, quote)) inString = !inString;
      scanned = quote + 1;
    }
    const literal = m[1];
    if (inString || String(Number(literal)) === literal) continue;
    const start = m.index + m[0].length - literal.length;
    rebuilt += text.slice(copied, start) +
      JSON.stringify(prefix + literals.length);
    copied = start + literal.length;
    literals.push(literal);
  }
  if (literals.length === 0) {
    return { value: JSON.parse(text), stringify: JSON.stringify };
  }
  const value = JSON.parse(rebuilt + text.slice(copied));
  const sentinel = new RegExp(`"${escapeRegExp(prefix)}(\\d+)"`, "g");
  return {
    value,
    stringify: (changed) =>
      JSON.stringify(changed).replace(
        sentinel,
        (_, index: string) => literals[Number(index)],
      ),
  };
}

/** Whether the quote at `at` is escaped (an odd run of backslashes before it). */
function isEscaped(text: string, at: number): boolean {
  let slashes = 0;
  while (text.charCodeAt(at - 1 - slashes) === BACKSLASH) slashes++;
  return slashes % 2 === 1;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
