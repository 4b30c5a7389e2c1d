/**
 * The secrets file: a JSON array of Flow credential sets.
 *
 * {@linkcode validateSecrets} checks text and reports every problem at once;
 * {@linkcode inspectSecretsFile} adds the file itself (readable, size, mode);
 * {@linkcode loadSecrets} is what `serve` calls. No message ever contains a
 * `clientSecret` value: issues name the entry and the field, never the value.
 */
import { describeIoError } from "./settings.ts";
import { MAX_CREDENTIALS } from "../server/shared_state.ts";

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

/** Larger files are refused: 256 entries take well under this. */
export const MAX_SECRETS_FILE_BYTES = 1024 * 1024;

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
 * Validates the text of a secrets file. Pure; never throws for any content.
 * `file` is used as the prefix of every message.
 */
export function validateSecrets(text: string, file: string): SecretsReport {
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

  data.forEach((value, index) => {
    const credential = validateEntry(value, index, file, report);
    if (credential) report.credentials.push(credential);
  });
  warnDuplicateNames(report);
  return report;
}

function validateEntry(
  value: unknown,
  index: number,
  file: string,
  report: SecretsReport,
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

  let info: Deno.FileInfo;
  let text: string;
  try {
    info = await Deno.stat(path);
    if (info.isDirectory) return fail("is a directory");
    if (info.size > MAX_SECRETS_FILE_BYTES) {
      return fail(
        `too large (${info.size} bytes; at most ${MAX_SECRETS_FILE_BYTES})`,
      );
    }
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      return fail("no such file", MISSING_FILE_HINT);
    }
    if (err instanceof Deno.errors.PermissionDenied) {
      return fail(
        "permission denied",
        "make it readable by the user that runs flow-proxy",
      );
    }
    return fail(describeIoError(err));
  }

  const result = validateSecrets(text, file);
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
  const message = err instanceof Error ? err.message : String(err);
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
