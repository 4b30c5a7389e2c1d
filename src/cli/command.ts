/**
 * What every command of `flow-proxy` shares: the I/O it is given, the exit
 * codes, how an argument error is printed, and how tables are laid out.
 *
 * Every command is a {@linkcode Command}: it gets the arguments after its
 * name and a {@linkcode CommandIo}, and resolves to its exit code. main.ts
 * dispatches through a table of them; tests call them in-process.
 *
 * @module
 */

/** What a command may touch of its process: injected so tests run in-process. */
export interface CommandIo {
  /** Process environment (without the `.env` file; commands load that themselves). */
  env: Record<string, string | undefined>;
  /** Directory against which relative paths resolve. */
  cwd: string;
  /** Writes text as is (no newline added). */
  stdout(text: string): void;
  /** Writes text as is (no newline added). */
  stderr(text: string): void;
}

/** The one contract of a command: arguments after its name, its I/O; resolves to the exit code. */
export type Command = (args: string[], io: CommandIo) => Promise<number>;

/** Exit codes of every command: 0 ok, 1 failure, 2 argument (usage) error. */
export const EXIT = { OK: 0, FAILURE: 1, USAGE: 2 } as const;

/**
 * Prints `error: <message>` and then `usage` (the command's usage lines or
 * help, as each command has always shown it) to stderr; returns
 * {@linkcode EXIT.USAGE} for the command to return.
 */
export function argumentError(
  io: CommandIo,
  message: string,
  usage: string,
): number {
  io.stderr(`error: ${message}\n${usage}`);
  return EXIT.USAGE;
}

/** Options of {@linkcode formatTable}. */
export interface FormatTableOptions {
  /** Columns from this index on are right-aligned (numbers); default: none. */
  rightAlignFrom?: number;
}

/**
 * Lays out rows (the first is the header) in columns two spaces apart, each
 * line without trailing spaces and ending in a newline.
 */
export function formatTable(
  rows: string[][],
  options: FormatTableOptions = {},
): string {
  const rightFrom = options.rightAlignFrom ?? Infinity;
  const widths = rows[0].map((_, i) =>
    Math.max(...rows.map((row) => row[i].length))
  );
  return rows.map((row) =>
    row.map((cell, i) =>
      i >= rightFrom ? cell.padStart(widths[i]) : cell.padEnd(widths[i])
    ).join("  ").trimEnd() + "\n"
  ).join("");
}

/**
 * The options every command on the embedded database takes (`keys`, `users`,
 * `teams`, `tokens`, `audit`), for `parseArgs`.
 */
export const DATABASE_OPTIONS = {
  "db": { type: "string" },
  "json": { type: "boolean" },
  "env-file": { type: "string" },
  "help": { type: "boolean", short: "h" },
} as const;

/** The help lines of {@linkcode DATABASE_OPTIONS}. */
export const DATABASE_OPTIONS_HELP =
  `  --db <path>            Database [env: FLOW_PROXY_DB]
                         default: $STATE_DIRECTORY/flow-proxy.db if set, else flow-proxy.db
  --json                 Print JSON
  --env-file <path>      Read variables from this file (default: .env if present)
  -h, --help             Show this help
`;

/**
 * A command whose work is synchronous (node:sqlite) as the promise every
 * command returns: its exit code, or its throw as a rejection.
 */
export function settle(run: () => number): Promise<number> {
  try {
    return Promise.resolve(run());
  } catch (err) {
    return Promise.reject(err);
  }
}
