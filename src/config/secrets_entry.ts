/**
 * The checks of one entry of the secrets file, and the shapes they report:
 * a {@linkcode Credential} when the entry is usable, {@linkcode SecretsIssue}s
 * naming the entry and the field, never a value. `secrets.ts` runs them
 * over the whole file.
 *
 * @module
 */
import type { DuplicateField } from "./json_scan.ts";
import { listPlaces } from "./json_locate.ts";

/** The decoder's stand-in for bytes that are not UTF-8. */
export const REPLACEMENT = "\ufffd";

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

/** What the text around an entry revealed, beyond the parsed value. */
export interface EntryContext {
  /** Fields written more than once in this entry's object. */
  duplicates: DuplicateField[];
  /** The file had bytes that are not UTF-8 (decoded as U+FFFD). */
  badUtf8: boolean;
}

export function validateEntry(
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

function isPlaceholder(value: string): boolean {
  return TEMPLATE_VALUES.has(value.trim().toLowerCase()) ||
    PLACEHOLDER_PATTERNS.some((pattern) => pattern.test(value.trim()));
}

/** Known field that `key` most likely meant (`client_id` → `clientId`), if any. */
function suggestField(key: string): string | undefined {
  const normal = key.toLowerCase().replace(/[-_ ]/g, "");
  return KNOWN_FIELDS.find((field) => field.toLowerCase() === normal);
}

/** An object that is not an array or null. */
export function isPlainObject(
  value: unknown,
): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** `a string`, `an array`, `null`: the JSON type of `value`, for messages. */
export function describeType(value: unknown): string {
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
