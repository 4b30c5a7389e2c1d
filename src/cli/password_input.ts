/**
 * How the `users` command gets a password: from a prompt on the terminal
 * that echoes nothing, or from standard input with `--password-stdin`
 * (scripts). Never from a flag's value: a command line is visible to other
 * users (`ps`) and kept in shell history.
 *
 * @module
 */

/** Where a password comes from; injected so tests need no terminal. */
export interface PasswordSource {
  /** Whether standard input is a terminal (a prompt is possible). */
  isTerminal(): boolean;
  /** Shows `prompt` and reads one line without echoing it. */
  prompt(prompt: string): Promise<string>;
  /** All of standard input. */
  readStdin(): Promise<string>;
}

/** The message for a `--password` flag, which is always refused. */
export const PASSWORD_FLAG_REFUSED =
  "--password is refused: a password on the command line is visible to other users (ps) and kept in shell history; type it at the prompt, or pipe it with --password-stdin";

/** Whether `args` hold a `--password` flag (with or without a value). */
export function hasPasswordFlag(args: readonly string[]): boolean {
  return args.some((a) => a === "--password" || a.startsWith("--password="));
}

/**
 * A new password: the first line of standard input with `fromStdin`, else
 * typed twice at a hidden prompt. Throws `Error` when there is no terminal
 * to ask, the input is empty, or the two entries differ.
 */
export async function readNewPassword(
  source: PasswordSource,
  options: { fromStdin: boolean; user: string },
): Promise<string> {
  if (options.fromStdin) {
    const text = await source.readStdin();
    const line = text.replace(/\r?\n$/, "");
    if (line.includes("\n")) {
      throw new Error(
        "--password-stdin reads one line: standard input held several",
      );
    }
    if (line === "") throw new Error("--password-stdin read an empty password");
    return line;
  }
  if (!source.isTerminal()) {
    throw new Error(
      "Standard input is not a terminal, so no password can be asked: pipe it with --password-stdin",
    );
  }
  const first = await source.prompt(`Password for "${options.user}": `);
  const second = await source.prompt("Repeat it: ");
  if (first !== second) {
    throw new Error("The two passwords differ: nothing was changed");
  }
  return first;
}

/** The real terminal and standard input. */
export const TERMINAL: PasswordSource = {
  isTerminal: () => Deno.stdin.isTerminal(),
  prompt: promptHidden,
  readStdin: async () => await new Response(Deno.stdin.readable).text(),
};

/** Reads one line from the terminal in raw mode, so nothing typed is echoed. */
async function promptHidden(prompt: string): Promise<string> {
  const encoder = new TextEncoder();
  Deno.stderr.writeSync(encoder.encode(prompt));
  const bytes: number[] = [];
  const one = new Uint8Array(1);
  Deno.stdin.setRaw(true);
  try {
    for (;;) {
      const n = await Deno.stdin.read(one);
      if (n === null || one[0] === 0x0d || one[0] === 0x0a) break;
      if (one[0] === 0x03) throw new Error("Interrupted: nothing was changed");
      if (one[0] === 0x7f || one[0] === 0x08) {
        // Backspace: drop one whole UTF-8 character.
        while (bytes.length > 0 && (bytes.pop()! & 0xc0) === 0x80);
        continue;
      }
      bytes.push(one[0]);
    }
  } finally {
    Deno.stdin.setRaw(false);
    Deno.stderr.writeSync(encoder.encode("\n"));
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}
