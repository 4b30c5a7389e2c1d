/**
 * Command-line argument errors, shared by the settings of `serve` and by
 * every other command: the error class, and node's `parseArgs` messages cut
 * down to one line.
 *
 * @module
 */
import { describe } from "../base/describe.ts";

/** An argument error: bad flag or value. The CLI prints it with the usage and exits 2. */
export class ArgumentError extends Error {
  override name = "ArgumentError";
}

/** Turns node's parseArgs messages into one short line. */
export function cleanParseArgsMessage(err: unknown): string {
  const message = describe(err);
  const unknown = message.match(/Unknown option '([^']+)'/);
  if (unknown) return `Unknown option '${unknown[1]}'`;
  const positional = message.match(/Unexpected argument '([^']+)'/);
  if (positional) return `Unexpected argument '${positional[1]}'`;
  const missing = message.match(
    /Option '(?:-\w, )?(--[\w-]+) <value>' argument missing/,
  );
  if (missing) return `Option '${missing[1]}' needs a value`;
  const noValue = message.match(
    /Option '(--[\w-]+)' does not take an argument/,
  );
  if (noValue) return `Option '${noValue[1]}' does not take a value`;
  const ambiguous = message.match(
    /Option '(?:-\w, )?(--[\w-]+)' argument is ambiguous/,
  );
  if (ambiguous) {
    return `Option '${ambiguous[1]}' needs a value (write ${
      ambiguous[1]
    }=-… for a value that starts with "-")`;
  }
  return message.split("\n")[0];
}

/**
 * `--port -1` as `--port=-1`. parseArgs reads a value starting with "-" as
 * an option ("argument is ambiguous"); a negative number after an option that
 * takes a value is meant as that value, and its validator then says what is
 * wrong with it.
 */
export function joinNegativeValues(
  args: string[],
  options: Record<string, { type: "string" | "boolean" }>,
): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      out.push(...args.slice(i));
      break;
    }
    const next = args[i + 1];
    if (
      arg.startsWith("--") && options[arg.slice(2)]?.type === "string" &&
      next !== undefined && /^-\.?\d/.test(next)
    ) {
      out.push(`${arg}=${next}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}
