/**
 * The secrets file: a JSON array of Flow credential sets.
 *
 * {@linkcode validateSecrets} checks text and reports every problem at once;
 * {@linkcode inspectSecretsFile} adds the file itself (readable, size, mode);
 * {@linkcode loadSecrets} is what `serve` calls. All of them read the file
 * through {@linkcode readSecretsFile}, which refuses anything but a regular
 * file and never reads more than {@linkcode MAX_SECRETS_FILE_BYTES}, whatever
 * `stat` says. No message ever contains a `clientSecret` value: issues name
 * the entry and the field, never the value.
 */
import { refuseNonRegularFile } from "./settings.ts";
import { MAX_CREDENTIALS } from "../base/shared_state.ts";
import { describe, describeIoError } from "../base/describe.ts";

export { MAX_CREDENTIALS };

/** One credential set, in file order. */
export interface Credential {
  /** 0-based position in the file (also the credential's health slot). */
  index: number;
  /** Name shown in logs and metrics; `config-<n>` (n from 1) when the entry has none. */
  name: string;
  clientId: string;
  clientSecret: string;
  tenant: string;
  agent?: string;
  appToAccess?: string;
}

/** One error or warning about a secrets file. */
export interface SecretsIssue {
  /** 1-based entry number, or null for the file as a whole. */
  entry: number | null;
  /** The entry's name as written in the file, when it has a valid one. */
  name: string | null;
  /** The field concerned, or null. */
  field: string | null;
  /** Full message, starting with the file name. */
  message: string;
  /** What to do about it, when there is an obvious next step. */
  hint?: string;
}

/** Everything known about a secrets file: credentials that passed, errors, warnings. */
export interface SecretsReport {
  /** The file as the caller named it. */
  file: string;
  /** Entries without errors; the file is usable only when `errors` is empty. */
  credentials: Credential[];
  errors: SecretsIssue[];
  warnings: SecretsIssue[];
}

/** Options of {@linkcode inspectSecretsFile}. */
export interface InspectOptions {
  /** Name used in messages instead of the path that is read (e.g. as the user typed it). */
  displayName?: string;
}

/** Options of {@linkcode loadSecrets}. */
export interface LoadSecretsOptions extends InspectOptions {
  /** Receives each warning of a file that is otherwise valid (e.g. to log it). */
  onWarning?: (issue: SecretsIssue) => void;
}

/** Next step for a missing secrets file. */
export const MISSING_FILE_HINT =
  'copy secrets.json.template to secrets.json, fill in your Flow credentials, then run "flow-proxy check-secrets"';

/**
 * Larger files are refused: 256 entries take well under this (about 300
 * bytes each). The read stops here even when `stat` reports less, as
 * `/proc` files do and a file that is being appended to may.
 */
export const MAX_SECRETS_FILE_BYTES = 1024 * 1024;

/** Bytes asked of the file per read. */
const READ_CHUNK_BYTES = 64 * 1024;

const REQUIRED_FIELDS = ["clientId", "clientSecret", "tenant"] as const;
const OPTIONAL_FIELDS = ["agent", "appToAccess"] as const;
const KNOWN_FIELDS: readonly string[] = [
  "name",
  ...REQUIRED_FIELDS,
  ...OPTIONAL_FIELDS,
];

/** Values shipped in secrets.json.template. */
const TEMPLATE_VALUES = new Set([
  "your-client-id",
  "your-client-secret",
  "your-tenant",
  "your-backup-client-id",
  "your-backup-client-secret",
]);
const PLACEHOLDER_PATTERNS = [
  /\byour[-_ ]/i,
  /<[^<>]*>/,
  /^(changeme|change-me|placeholder|todo|x{3,}|\.{3}|…)$/i,
];

// deno-lint-ignore no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

/**
 * Validates the content of a secrets file, as text or as the bytes read
 * (then invalid UTF-8 is reported too). Pure; never throws for any content.
 * `file` is used as the prefix of every message.
 */
export function validateSecrets(
  content: string | Uint8Array,
  file: string,
): SecretsReport {
  const report: SecretsReport = {
    file,
    credentials: [],
    errors: [],
    warnings: [],
  };
  const fileIssue = (message: string): SecretsIssue => ({
    entry: null,
    name: null,
    field: null,
    message: `${file}: ${message}`,
  });

  let text: string;
  let badUtf8 = false;
  if (typeof content === "string") {
    text = content;
  } else {
    text = LOSSY_UTF8.decode(content);
    const invalid = findInvalidUtf8(content);
    if (invalid.count > 0) {
      badUtf8 = true;
      report.warnings.push({
        ...fileIssue(describeInvalidUtf8(content, invalid)),
        hint: "save the file as UTF-8",
      });
    }
  }

  // Editors on Windows like to add a byte-order mark; JSON.parse rejects it.
  const source = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (source.trim() === "") {
    report.errors.push(
      fileIssue("file is empty; expected a JSON array of credential objects"),
    );
    return report;
  }

  let data: unknown;
  try {
    data = JSON.parse(source);
  } catch (err) {
    report.errors.push(fileIssue(describeJsonError(source, err)));
    return report;
  }

  if (!Array.isArray(data)) {
    const looksLikeEntry = isPlainObject(data) && "clientId" in data;
    report.errors.push(fileIssue(
      `expected a JSON array of credential objects, got ${describeType(data)}` +
        (looksLikeEntry ? " (wrap a single entry in [ ])" : ""),
    ));
    return report;
  }
  if (data.length === 0) {
    report.errors.push(fileIssue("no credentials: the array is empty"));
    return report;
  }
  if (data.length > MAX_CREDENTIALS) {
    report.errors.push(
      fileIssue(
        `${data.length} entries, but at most ${MAX_CREDENTIALS} are supported`,
      ),
    );
  }

  const duplicates = findDuplicateFields(source);
  data.forEach((value, index) => {
    const credential = validateEntry(value, index, file, report, {
      duplicates: duplicates.get(index) ?? [],
      badUtf8,
    });
    if (credential) report.credentials.push(credential);
  });
  warnDuplicateNames(report);
  return report;
}

/** What the text around an entry revealed, beyond the parsed value. */
interface EntryContext {
  /** Fields written more than once in this entry's object. */
  duplicates: DuplicateField[];
  /** The file had bytes that are not UTF-8 (decoded as U+FFFD). */
  badUtf8: boolean;
}

function validateEntry(
  value: unknown,
  index: number,
  file: string,
  report: SecretsReport,
  context: EntryContext,
): Credential | null {
  const entry = index + 1;
  if (!isPlainObject(value)) {
    report.errors.push({
      entry,
      name: null,
      field: null,
      message: `${file}: entry ${entry}: expected an object, got ${
        describeType(value)
      }`,
    });
    return null;
  }

  let errorCount = 0;
  let name: string | null = null;
  const issue = (field: string | null, text: string): SecretsIssue => ({
    entry,
    name,
    field,
    message: `${file}: entry ${entry}${
      name === null ? "" : ` (${JSON.stringify(name)})`
    }: ${text}`,
  });
  const error = (field: string, text: string) => {
    errorCount++;
    report.errors.push(issue(field, text));
  };
  const warn = (field: string | null, text: string) =>
    report.warnings.push(issue(field, text));

  // The name first, so that every later message can carry it.
  let nameError: string | null = null;
  if ("name" in value) {
    const raw = value.name;
    if (typeof raw !== "string") {
      nameError = `"name" must be a non-empty string, got ${describeType(raw)}`;
    } else if (raw.trim() === "") {
      nameError = `"name" must be a non-empty string`;
    } else if (CONTROL_CHARS.test(raw)) {
      nameError = `"name" must not contain control characters`;
    } else name = raw;
  }
  if (nameError) error("name", nameError);

  // JSON.parse keeps the last of repeated keys; someone editing the file
  // may well be looking at the first.
  for (const duplicate of context.duplicates) {
    const times = duplicate.at.length === 2
      ? "twice"
      : `${duplicate.at.length} times`;
    warn(
      duplicate.key,
      `${JSON.stringify(duplicate.key)} appears ${times}, at ${
        listPlaces(duplicate.at)
      }; the last one is used`,
    );
  }

  const unknown = Object.keys(value).filter((key) =>
    !KNOWN_FIELDS.includes(key)
  );
  const explained = new Set<string>();

  const strings: Record<string, string> = {};
  for (const field of REQUIRED_FIELDS) {
    if (!(field in value)) {
      const nearMiss = unknown.find((key) => suggestField(key) === field);
      if (nearMiss !== undefined) {
        explained.add(nearMiss);
        error(
          field,
          `"${field}" is missing (found ${
            JSON.stringify(nearMiss)
          }; field names are case-sensitive)`,
        );
      } else {
        error(field, `"${field}" is missing (a non-empty string is required)`);
      }
      continue;
    }
    const raw = value[field];
    if (typeof raw !== "string") {
      error(
        field,
        `"${field}" must be a non-empty string, got ${describeType(raw)}`,
      );
    } else if (raw.trim() === "") {
      error(field, `"${field}" must be a non-empty string`);
    } else if (context.badUtf8 && raw.includes(REPLACEMENT)) {
      // The value that would be sent is not the one in the file.
      error(
        field,
        `"${field}" contains bytes that are not valid UTF-8 (see the warning about the file)`,
      );
    } else {
      strings[field] = raw;
      if (raw !== raw.trim()) {
        warn(
          field,
          `"${field}" has leading or trailing whitespace, which is used as it is`,
        );
      }
      if (isPlaceholder(raw)) {
        warn(
          field,
          `"${field}" looks like a placeholder from secrets.json.template; put your Flow credential there`,
        );
      }
    }
  }

  const optional: { agent?: string; appToAccess?: string } = {};
  for (const field of OPTIONAL_FIELDS) {
    if (!(field in value)) continue;
    const raw = value[field];
    if (typeof raw !== "string") {
      error(
        field,
        `"${field}" must be a string when present, got ${describeType(raw)}`,
      );
    } else if (raw === "") {
      warn(field, `"${field}" is empty and is ignored`);
    } else if (context.badUtf8 && raw.includes(REPLACEMENT)) {
      error(
        field,
        `"${field}" contains bytes that are not valid UTF-8 (see the warning about the file)`,
      );
    } else {
      optional[field] = raw;
    }
  }

  for (const key of unknown) {
    if (explained.has(key)) continue;
    const suggestion = suggestField(key);
    warn(
      null,
      `unknown field ${JSON.stringify(key)} is ignored` +
        (suggestion ? ` (did you mean "${suggestion}"?)` : ""),
    );
  }

  if (errorCount > 0) return null;
  return {
    index,
    name: name ?? `config-${entry}`,
    clientId: strings.clientId,
    clientSecret: strings.clientSecret,
    tenant: strings.tenant,
    ...optional,
  };
}

/**
 * Repeating a whole entry is how rotation is weighted, so identical entries
 * may share a name. The same name on different credentials is a warning:
 * logs and metrics, which go by name, could not tell those apart.
 */
function warnDuplicateNames(report: SecretsReport): void {
  const byName = new Map<string, Credential[]>();
  for (const credential of report.credentials) {
    const list = byName.get(credential.name) ?? [];
    list.push(credential);
    byName.set(credential.name, list);
  }
  for (const [name, list] of byName) {
    const distinct = new Set(list.map(credentialKey));
    if (distinct.size < 2) continue;
    const entries = list.map((c) => c.index + 1);
    const listed = `${entries.slice(0, -1).join(", ")} and ${entries.at(-1)}`;
    report.warnings.push({
      entry: entries[1],
      name,
      field: "name",
      message:
        `${report.file}: entries ${listed} are ${
          entries.length === 2 ? "both" : "all"
        } named ` +
        `${JSON.stringify(name)} but hold ` +
        "different credentials; logs and metrics cannot tell them apart",
    });
  }
}

/** Identity of a credential set, for telling duplicates apart; never shown. */
export function credentialKey(credential: Credential): string {
  return JSON.stringify([
    credential.clientId,
    credential.clientSecret,
    credential.tenant,
    credential.agent ?? null,
    credential.appToAccess ?? null,
  ]);
}

function isPlaceholder(value: string): boolean {
  return TEMPLATE_VALUES.has(value.trim().toLowerCase()) ||
    PLACEHOLDER_PATTERNS.some((pattern) => pattern.test(value.trim()));
}

/** Known field that `key` most likely meant (`client_id` → `clientId`), if any. */
function suggestField(key: string): string | undefined {
  const normal = key.toLowerCase().replace(/[-_ ]/g, "");
  return KNOWN_FIELDS.find((field) => field.toLowerCase() === normal);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describeType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  switch (typeof value) {
    case "object":
      return "an object";
    case "number":
      return "a number";
    case "boolean":
      return "a boolean";
    case "string":
      return "a string";
    default:
      return typeof value;
  }
}

/** Reads a secrets file and validates it, adding file-level checks (size, mode). */
export async function inspectSecretsFile(
  path: string,
  options: InspectOptions = {},
): Promise<SecretsReport> {
  const file = options.displayName ?? path;
  const report: SecretsReport = {
    file,
    credentials: [],
    errors: [],
    warnings: [],
  };
  const fail = (reason: string, hint?: string): SecretsReport => {
    report.errors.push({
      entry: null,
      name: null,
      field: null,
      message: `Cannot read secrets file "${file}": ${reason}`,
      ...(hint ? { hint } : {}),
    });
    return report;
  };

  let read: SecretsFileContent;
  try {
    read = await readSecretsFile(path);
  } catch (err) {
    if (err instanceof SecretsReadError) return fail(err.reason, err.hint);
    throw err;
  }
  const info = read.info;

  const result = validateSecrets(read.bytes, file);
  const modeWarning = describeLooseMode(info.mode);
  if (modeWarning) {
    result.warnings.unshift({
      entry: null,
      name: null,
      field: null,
      message: `${file}: ${modeWarning}`,
      hint: `run "chmod 600 ${file}"`,
    });
  }
  return result;
}

/** What {@linkcode readSecretsFile} read: the bytes and the metadata of the open file. */
export interface SecretsFileContent {
  bytes: Uint8Array;
  /** `stat` of the file that was read (not of the path, which may have changed since). */
  info: Deno.FileInfo;
}

/** Thrown by {@linkcode readSecretsFile}: why the file was not read, without the file name. */
export class SecretsReadError extends Error {
  override name = "SecretsReadError";
  /** Lower-case reason, e.g. `is a named pipe (FIFO), not a regular file`. */
  readonly reason: string;
  /** What to do about it, when there is an obvious next step. */
  readonly hint?: string;

  constructor(
    reason: string,
    options: { hint?: string; cause?: unknown } = {},
  ) {
    super(reason, { cause: options.cause });
    this.reason = reason;
    if (options.hint) this.hint = options.hint;
  }
}

/**
 * Reads a secrets file, the one way every caller does (`check-secrets`,
 * `serve` at start and on reload, `$CREDENTIALS_DIRECTORY`): only a regular
 * file, and at most {@linkcode MAX_SECRETS_FILE_BYTES} in chunks, so that
 * `/dev/zero`, a FIFO or a file that grows while it is read cannot stall or
 * exhaust the process. Throws {@linkcode SecretsReadError}.
 */
export async function readSecretsFile(
  path: string,
): Promise<SecretsFileContent> {
  try {
    // Checked before opening: opening a FIFO blocks until a writer appears.
    refuseIrregular(await Deno.stat(path));
    using file = await Deno.open(path, { read: true });
    // And again on what was opened, in case the path was swapped meanwhile.
    const info = await file.stat();
    refuseIrregular(info);
    if (info.size > MAX_SECRETS_FILE_BYTES) {
      throw new SecretsReadError(
        `too large (${info.size} bytes; at most ${MAX_SECRETS_FILE_BYTES})`,
      );
    }
    return { bytes: await readAtMost(file, MAX_SECRETS_FILE_BYTES), info };
  } catch (err) {
    if (err instanceof SecretsReadError) throw err;
    if (err instanceof Deno.errors.NotFound) {
      throw new SecretsReadError("no such file", {
        hint: MISSING_FILE_HINT,
        cause: err,
      });
    }
    if (err instanceof Deno.errors.PermissionDenied) {
      throw new SecretsReadError("permission denied", {
        hint: "make it readable by the user that runs flow-proxy",
        cause: err,
      });
    }
    throw new SecretsReadError(describeIoError(err), { cause: err });
  }
}

/** The text of a secrets file, read by {@linkcode readSecretsFile}; throws `SecretsReadError`. */
export async function readSecretsText(path: string): Promise<string> {
  return LOSSY_UTF8.decode((await readSecretsFile(path)).bytes);
}

function refuseIrregular(info: Deno.FileInfo): void {
  try {
    refuseNonRegularFile(info);
  } catch (err) {
    throw new SecretsReadError((err as TypeError).message);
  }
}

/** Reads until the end, or fails once more than `limit` bytes have come. */
async function readAtMost(
  file: Deno.FsFile,
  limit: number,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  while (true) {
    // Whole chunks, even past the limit: some files (/proc) refuse odd
    // sizes. Memory stays below the limit plus one chunk.
    const chunk = new Uint8Array(READ_CHUNK_BYTES);
    const n = await file.read(chunk);
    if (n === null) break;
    total += n;
    if (total > limit) {
      throw new SecretsReadError(
        `too large (more than ${limit} bytes, the most that is read)`,
      );
    }
    chunks.push(chunk.subarray(0, n));
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}

function describeLooseMode(mode: number | null): string | null {
  // Windows has no such permission bits; Deno reports null or a synthetic mode.
  if (Deno.build.os === "windows" || mode === null) return null;
  const loose = mode & 0o077;
  if (loose === 0) return null;
  const octal = (mode & 0o777).toString(8).padStart(4, "0");
  const what = loose & 0o044 ? "readable" : "accessible";
  return `${what} by group or others (mode ${octal}); only the owner should be able to read it`;
}

/** Thrown by {@linkcode loadSecrets}; the report holds every problem. */
export class SecretsError extends Error {
  override name = "SecretsError";
  /** The full report, for callers that show more than the first problem. */
  readonly report: SecretsReport;

  constructor(report: SecretsReport) {
    super(formatFirstError(report));
    this.report = report;
  }
}

function formatFirstError(report: SecretsReport): string {
  const [first, ...rest] = report.errors;
  if (!first) return `${report.file}: invalid secrets file`;
  let message = first.message;
  if (rest.length > 0) {
    const problems = rest.length === 1 ? "problem" : "problems";
    message +=
      ` (and ${rest.length} more ${problems}; run "flow-proxy check-secrets" for all)`;
  }
  if (first.hint) message += `\nhint: ${first.hint}`;
  return message;
}

/** Reads and validates a secrets file; throws {@linkcode SecretsError} when it has any error. */
export async function loadSecrets(
  path: string,
  options: LoadSecretsOptions = {},
): Promise<Credential[]> {
  const report = await inspectSecretsFile(path, options);
  if (report.errors.length > 0) throw new SecretsError(report);
  for (const warning of report.warnings) options.onWarning?.(warning);
  return report.credentials;
}

// ---------------------------------------------------------------------------
// Invalid JSON: where and why, without quoting the file (it holds secrets).

/** `invalid JSON at line L, column C: reason` for a JSON.parse failure of `source`. */
function describeJsonError(source: string, err: unknown): string {
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

interface LineColumn {
  line: number;
  column: number;
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

/** 1-based line and column (in UTF-16 units) of `offset`. */
export function lineColumn(source: string, offset: number): LineColumn {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset; i++) {
    if (source.charCodeAt(i) === 0x0a) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

interface ScanError {
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

// ---------------------------------------------------------------------------
// Invalid UTF-8 and repeated keys: where, never what (the file holds secrets).

const LOSSY_UTF8 = new TextDecoder("utf-8");
const REPLACEMENT = "\ufffd";
/** Places listed in a message before "and N more". */
const LISTED_PLACES = 3;

/**
 * Where sequences that are not UTF-8 start, as the WHATWG decoder sees them
 * (one U+FFFD per maximal bad subpart): the first few byte offsets and the count.
 */
function findInvalidUtf8(
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
function describeInvalidUtf8(
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

/** `line 2, column 4 and line 2, column 20`: the first few of `total`, then a count. */
function listPlaces(places: LineColumn[], total = places.length): string {
  const shown = places.slice(0, LISTED_PLACES).map((p) =>
    `line ${p.line}, column ${p.column}`
  );
  const more = total - shown.length;
  if (more > 0) return `${shown.join(", ")} and ${more} more`;
  if (shown.length === 1) return shown[0];
  return `${shown.slice(0, -1).join(", ")} and ${shown.at(-1)}`;
}

/** Line and column of offsets in `source`, by binary search over line starts. */
function lineLocator(source: string): (offset: number) => LineColumn {
  const starts = [0];
  for (let i = source.indexOf("\n"); i >= 0; i = source.indexOf("\n", i + 1)) {
    starts.push(i + 1);
  }
  return (offset) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - starts[lo] + 1 };
  };
}

/** A key written more than once in one entry. */
interface DuplicateField {
  /** The key as JSON.parse reads it (escapes resolved). */
  key: string;
  /** Every place it appears, in file order. */
  at: LineColumn[];
}

/**
 * Keys repeated within an entry (an object directly in the top-level array),
 * by 0-based entry index. `source` must be valid JSON (JSON.parse accepted it).
 */
function findDuplicateFields(source: string): Map<number, DuplicateField[]> {
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
