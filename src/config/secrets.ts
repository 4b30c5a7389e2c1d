/**
 * The secrets file: a JSON array of Flow credential sets.
 *
 * {@linkcode validateSecrets} checks text and reports every problem at once;
 * {@linkcode inspectSecretsFile} adds the file itself (readable, size, mode);
 * {@linkcode loadSecrets} is what `serve` calls. All of them read the file
 * through {@linkcode readSecretsFile}, which uses the shared reader of
 * `safe_read.ts`: it refuses anything but a regular file and never reads more
 * than {@linkcode MAX_SECRETS_FILE_BYTES}, whatever `stat` says. The checks
 * of one entry are in `secrets_entry.ts`, the JSON error locator in
 * `json_locate.ts` and `json_scan.ts`. No message ever contains a
 * `clientSecret` value: issues name the entry and the field, never the value.
 *
 * @module
 */
import {
  readRegularFile,
  RefusedFileError,
  type SafeReadResult,
} from "./safe_read.ts";
import { MAX_CREDENTIALS } from "../base/shared_state.ts";
import { describeIoError } from "../base/describe.ts";
import { describeJsonError } from "./json_locate.ts";
import {
  describeInvalidUtf8,
  findDuplicateFields,
  findInvalidUtf8,
} from "./json_scan.ts";
import {
  type Credential,
  describeType,
  isPlainObject,
  type SecretsIssue,
  type SecretsReport,
  validateEntry,
} from "./secrets_entry.ts";

export { MAX_CREDENTIALS };
export type { Credential, SecretsIssue, SecretsReport };

const LOSSY_UTF8 = new TextDecoder("utf-8");

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
export type SecretsFileContent = SafeReadResult;

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
    return await readRegularFile(path, MAX_SECRETS_FILE_BYTES);
  } catch (err) {
    if (err instanceof RefusedFileError) {
      throw new SecretsReadError(err.message);
    }
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
