/**
 * Logging for every thread: LogTape loggers writing greppable lines to stderr
 * and, optionally, a file. This is the only module that writes to the console.
 *
 * Line format: `2026-11-22T04:00:00.000Z INFO    [worker-1] message`.
 * Every line passes through {@linkcode redact}, so a credential secret or a
 * JWT can never be written, even by mistake.
 */
import {
  configureSync,
  getLogger,
  type Logger,
  type LogRecord,
  resetSync,
} from "@logtape/logtape";

/** Log levels a user can choose, most verbose first. */
export const LOG_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR"] as const;
/** One of {@linkcode LOG_LEVELS}. */
export type LogLevel = typeof LOG_LEVELS[number];

/** Root category of every logger of flow-proxy. */
export const ROOT_CATEGORY = "flow-proxy";

const LEVEL_TO_LOGTAPE = {
  DEBUG: "debug",
  INFO: "info",
  WARNING: "warning",
  ERROR: "error",
} as const;

const LEVEL_LABEL: Record<string, string> = {
  trace: "TRACE  ",
  debug: "DEBUG  ",
  info: "INFO   ",
  warning: "WARNING",
  error: "ERROR  ",
  fatal: "FATAL  ",
};

const JWT_PATTERN = /eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]+/g;
const CLIENT_KEY_PATTERN = /fpk_[A-Za-z0-9_-]{8,}/g;
/** Admin API tokens (`fpu_`) and session ids (`fps_`) of src/accounts/. */
const ACCOUNT_SECRET_PATTERN = /fp[us]_[A-Za-z0-9_-]{8,}/g;
const secrets = new Set<string>();
const encoder = new TextEncoder();

/** Values that must never be written (client secrets); checked in every line. */
export function registerSecrets(values: Iterable<string>): void {
  for (const value of values) if (value.length >= 4) secrets.add(value);
}

/** Replaces registered secrets, JWTs, client keys, API tokens and session ids in `text`. */
export function redact(text: string): string {
  let out = text;
  if (out.includes("eyJ")) out = out.replace(JWT_PATTERN, "[redacted-jwt]");
  if (out.includes("fpk_")) {
    out = out.replace(CLIENT_KEY_PATTERN, "[redacted-key]");
  }
  if (out.includes("fpu_") || out.includes("fps_")) {
    out = out.replace(ACCOUNT_SECRET_PATTERN, "[redacted-token]");
  }
  for (const secret of secrets) {
    if (out.includes(secret)) out = out.replaceAll(secret, "[redacted]");
  }
  return out;
}

/** Where log lines go, as {@linkcode setupLogging} takes it. */
export interface LogOptions {
  level: LogLevel;
  /** Also append lines to this file. */
  file?: string | null;
  /** Thread label shown in brackets: `main`, `worker-1`. */
  thread: string;
  /** Line writer for stderr; injectable for tests. */
  write?: (text: string) => void;
  /**
   * Gather lines for this long before one write (serving threads: fewer
   * syscalls under load); 0 writes at the end of the current task.
   */
  flushMs?: number;
}

const MAX_PENDING_LINES = 512;
/** How long serving threads gather log lines before writing them. */
export const LOG_FLUSH_MS = 25;

class LineWriter {
  #pending: string[] = [];
  #scheduled = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #file: Deno.FsFile | null;
  #write: (text: string) => void;
  #flushMs: number;
  #flushNow = () => this.flush();

  constructor(
    write: (text: string) => void,
    file: Deno.FsFile | null,
    flushMs: number,
  ) {
    this.#write = write;
    this.#file = file;
    this.#flushMs = flushMs;
  }

  push(line: string): void {
    this.#pending.push(line);
    if (this.#pending.length >= MAX_PENDING_LINES) return this.flush();
    if (this.#scheduled) return;
    this.#scheduled = true;
    if (this.#flushMs > 0) {
      this.#timer = setTimeout(this.#flushNow, this.#flushMs);
      Deno.unrefTimer(this.#timer as unknown as number);
    } else {
      // One write per task instead of one per line.
      queueMicrotask(this.#flushNow);
    }
  }

  flush(): void {
    this.#scheduled = false;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending.length === 0) return;
    const text = this.#pending.join("");
    this.#pending = [];
    this.#write(text);
    if (this.#file) {
      try {
        writeAll(this.#file, encoder.encode(text));
      } catch {
        // A full disk must not take the proxy down; stderr still has the line.
      }
    }
  }

  close(): void {
    this.flush();
    this.#file?.close();
    this.#file = null;
  }
}

function writeAll(
  file: { writeSync(p: Uint8Array): number },
  bytes: Uint8Array,
): void {
  let offset = 0;
  while (offset < bytes.length) {
    offset += file.writeSync(bytes.subarray(offset));
  }
}

function writeStderr(text: string): void {
  writeAll(Deno.stderr, encoder.encode(text));
}

let writer: LineWriter | null = null;

/**
 * What {@linkcode logLine} needs to write without LogTape: the writer, the
 * thread label and the lowest level let through. Null until
 * {@linkcode setupLogging} and after {@linkcode closeLogging}.
 */
let direct: { writer: LineWriter; thread: string; lowest: number } | null =
  null;
/** Loggers {@linkcode getLog} made: the only ones {@linkcode logLine} may bypass. */
const ownLoggers = new WeakSet<Logger>();
const LEVEL_RANK: Record<string, number> = {
  trace: 0,
  debug: 1,
  info: 2,
  warning: 3,
  error: 4,
  fatal: 5,
};

/** Configures logging for this thread; call once per thread (again to change). */
export function setupLogging(options: LogOptions): void {
  writer?.close();
  let file: Deno.FsFile | null = null;
  if (options.file) {
    // Created private: lines name clients, paths and addresses.
    file = Deno.openSync(options.file, {
      append: true,
      create: true,
      write: true,
      mode: 0o600,
    });
  }
  const lineWriter = new LineWriter(
    options.write ?? writeStderr,
    file,
    options.flushMs ?? 0,
  );
  writer = lineWriter;
  const thread = options.thread;
  direct = {
    writer: lineWriter,
    thread,
    lowest: LEVEL_RANK[LEVEL_TO_LOGTAPE[options.level]],
  };
  const sink = (record: LogRecord) => {
    lineWriter.push(formatRecord(record, thread));
  };
  resetSync();
  configureSync({
    reset: true,
    sinks: { main: sink },
    loggers: [
      {
        category: [ROOT_CATEGORY],
        sinks: ["main"],
        lowestLevel: LEVEL_TO_LOGTAPE[options.level],
      },
      { category: ["logtape", "meta"], sinks: [], lowestLevel: "error" },
    ],
  });
}

/** Writes out buffered lines now (before exit). */
export function flushLogs(): void {
  writer?.flush();
}

/** Flushes and closes the log file; loggers write nowhere afterwards. */
export function closeLogging(): void {
  writer?.close();
  writer = null;
  direct = null;
  resetSync();
}

function formatRecord(record: LogRecord, thread: string): string {
  let message = "";
  for (let i = 0; i < record.message.length; i++) {
    const part = record.message[i];
    message += i % 2 === 0
      ? part as string
      : typeof part === "string"
      ? part
      : JSON.stringify(part);
  }
  return formatLine(record.timestamp, record.level, thread, message);
}

function formatLine(
  timestamp: number,
  level: string,
  thread: string,
  message: string,
): string {
  return redact(
    `${isoTime(timestamp)} ${LEVEL_LABEL[level]} [${thread}] ${message}`,
  ) + "\n";
}

/** The second of the last {@linkcode isoTime}, and its ISO text up to the seconds. */
let isoSecond = NaN;
let isoPrefix = "";

/**
 * `new Date(ms).toISOString()`, built from a prefix kept per second: the
 * ISO conversion costs about as much as the rest of a line's formatting, and
 * a busy thread writes many lines within one second.
 */
export function isoTime(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== isoSecond) {
    const iso = new Date(second * 1000).toISOString();
    // Years past 9999 have a longer form: no prefix to keep for those.
    if (iso.length !== 24) return new Date(ms).toISOString();
    isoSecond = second;
    isoPrefix = iso.slice(0, 20);
  }
  const millis = ms - second * 1000;
  return `${isoPrefix}${
    millis < 10 ? "00" : millis < 100 ? "0" : ""
  }${millis}Z`;
}

/**
 * Logs `message` at `level` as `logger.info`/`logger.warn` would, with the
 * same line, redaction and level, but straight to this thread's writer for
 * loggers of {@linkcode getLog} once {@linkcode setupLogging} ran: the
 * request line is written once per request, and LogTape's record and
 * dispatch cost about as much as the line itself. Any other logger (a test's)
 * is called as usual.
 */
export function logLine(
  logger: Logger,
  level: "info" | "warning",
  message: string,
): void {
  const to = direct;
  if (to === null || !ownLoggers.has(logger)) {
    if (level === "warning") logger.warn(message);
    else logger.info(message);
    return;
  }
  if (LEVEL_RANK[level] < to.lowest) return;
  to.writer.push(formatLine(Date.now(), level, to.thread, message));
}

/** A logger under the flow-proxy root, e.g. `getLog("proxy")`. */
export function getLog(name: string): Logger {
  const logger = getLogger([ROOT_CATEGORY, name]);
  ownLoggers.add(logger);
  return logger;
}

/** Writes command output to stdout (CLI modules take this as their writer). */
export function stdout(text: string): void {
  writeAll(Deno.stdout, encoder.encode(text));
}

/** Writes command output to stderr, redacted. */
export function stderr(text: string): void {
  writeStderr(redact(text));
}

/** Prints `error: …` (and its causes) to stderr and exits with `code`. */
export function fatal(err: unknown, code = 1): never {
  flushLogs();
  let text = `error: ${err instanceof Error ? err.message : String(err)}\n`;
  let cause = err instanceof Error ? err.cause : undefined;
  while (cause !== undefined) {
    text += `Caused by: ${
      cause instanceof Error ? cause.message : String(cause)
    }\n`;
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  stderr(text);
  Deno.exit(code);
}
