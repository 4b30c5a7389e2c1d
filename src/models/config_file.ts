/**
 * The models configuration file: JSON that adds or overrides catalogue
 * entries, aliases, patterns, per-API defaults and compatibility switches.
 *
 * {@linkcode validateModelsConfig} checks text and reports every problem at
 * once, each with the file, line:column and field path
 * (`models.json:12:5: models[3].outputLimit must be a non-negative integer`);
 * {@linkcode readModelsConfigFile} reads a file first. Unknown keys are
 * errors: a misspelt switch would otherwise silently change what is sent,
 * and a reload with a bad file keeps the old configuration anyway.
 */
import { BUILT_IN_CATALOGUE, catalogueOf } from "./catalogue.ts";
import {
  childPath,
  JsonSyntaxError,
  parseWithPositions,
  type PositionedJson,
} from "./json_positions.ts";
import {
  checkModelFields,
  entryFrom,
  isObject,
  type Issues,
  readCompat,
  readPatterns,
  typeOf,
} from "./config_fields.ts";
import {
  type ApiKind,
  type CompatSwitches,
  DEFAULT_COMPAT,
  type ModelEntry,
  type ModelsConfig,
} from "./types.ts";

/** One error or warning about a models file. */
export interface ModelsIssue {
  /** The field path (`models[3].outputLimit`), or null for the file as a whole. */
  path: string | null;
  /** 1-based, or null when the problem has no place in the text. */
  line: number | null;
  column: number | null;
  /** Full message: `file:line:column: path detail`. */
  message: string;
}

/** What a models file gave: the configuration when there are no errors. */
export interface ModelsReport {
  file: string;
  /** The effective configuration (built-in + file); null when `errors` is not empty. */
  config: ModelsConfig | null;
  errors: ModelsIssue[];
  warnings: ModelsIssue[];
}

/** Options of {@linkcode readModelsConfigFile}. */
export interface ReadModelsConfigOptions {
  /** Name used in messages instead of the path (e.g. as the user typed it). */
  displayName?: string;
  /** Reads the file; `Deno.readFile` by default (injected in tests). */
  readFile?: (path: string) => Promise<Uint8Array>;
}

/** Larger files are refused: a full catalogue takes a few kilobytes. */
export const MAX_MODELS_FILE_BYTES = 1024 * 1024;

const TOP_KEYS = [
  "$schema",
  "compat",
  "builtInRules",
  "currency",
  "models",
  "aliases",
  "patterns",
  "defaults",
];
const API_KEYS: readonly string[] = [
  "messages",
  "chat",
  "responses",
  "embeddings",
  "gemini",
];

/** The configuration with no file: the built-in catalogue and rules. */
export function builtInModelsConfig(): ModelsConfig {
  return BUILT_IN_CONFIG;
}

const BUILT_IN_CONFIG: ModelsConfig = Object.freeze({
  catalogue: BUILT_IN_CATALOGUE,
  aliases: new Map<string, string>(),
  patterns: Object.freeze([]),
  builtInRules: true,
  defaults: Object.freeze({}),
  compat: true,
  currency: "USD",
  source: null,
});

/** Validates the text of a models file; pure, never throws for any content. */
export function validateModelsConfig(
  text: string,
  file: string,
): ModelsReport {
  const report: ModelsReport = { file, config: null, errors: [], warnings: [] };
  // Editors add a byte-order mark; columns are counted as they show them.
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.trim() === "") {
    report.errors.push(
      fileIssue(file, "file is empty; expected a JSON object"),
    );
    return report;
  }
  let doc: PositionedJson;
  try {
    doc = parseWithPositions(text);
  } catch (err) {
    if (!(err instanceof JsonSyntaxError)) throw err;
    report.errors.push({
      path: null,
      line: err.line,
      column: err.column,
      message: `${file}:${err.line}:${err.column}: invalid JSON: ${err.reason}`,
    });
    return report;
  }
  const issues = issuesFor(file, doc, report);
  for (const d of doc.duplicates) {
    const places = d.offsets.map((o) => {
      const at = doc.locate(o);
      return `${at.line}:${at.column}`;
    });
    issues.errorAt(
      d.path,
      doc.keys.get(d.path) ?? 0,
      `is written ${d.offsets.length} times (at ${places.join(", ")})`,
    );
  }
  const root = doc.value;
  if (!isObject(root)) {
    issues.error("", `the file must be a JSON object, got ${typeOf(root)}`);
    return report;
  }
  issues.unknownKeys(root, "", TOP_KEYS);

  let globalCompat: CompatSwitches | false = { ...DEFAULT_COMPAT };
  if ("compat" in root) {
    const c = readCompat(root.compat, "compat", issues);
    if (c === false) globalCompat = false;
    else if (c !== null) globalCompat = { ...DEFAULT_COMPAT, ...c };
  }
  let currency = "USD";
  if ("currency" in root) {
    if (typeof root.currency === "string" && /^[A-Z]{3}$/.test(root.currency)) {
      currency = root.currency;
    } else {
      issues.error(
        "currency",
        `must be a three-letter ISO 4217 code such as "USD" or "BRL", got ${
          typeOf(root.currency)
        }${
          typeof root.currency === "string"
            ? ` ${JSON.stringify(root.currency)}`
            : ""
        }`,
      );
    }
  }

  let builtInRules = true;
  if ("builtInRules" in root) {
    if (typeof root.builtInRules === "boolean") {
      builtInRules = root.builtInRules;
    } else {
      issues.error(
        "builtInRules",
        `must be true or false, got ${typeOf(root.builtInRules)}`,
      );
    }
  }

  const entries = readModels(
    root.models,
    "models" in root,
    issues,
    globalCompat,
  );
  const catalogue = catalogueOf(entries);
  const known = catalogue.byName;
  const target = (path: string, name: string) => {
    if (!known.has(name)) {
      issues.warning(
        path,
        `maps to ${
          JSON.stringify(name)
        }, which is not in the catalogue; it is sent as it is and takes no compatibility rewrites`,
      );
    }
  };

  const aliases = new Map<string, string>();
  if ("aliases" in root) {
    if (!isObject(root.aliases)) {
      issues.error("aliases", `must be an object, got ${typeOf(root.aliases)}`);
    } else {
      for (const [from, to] of Object.entries(root.aliases)) {
        const path = childPath("aliases", from);
        if (from === "") issues.errorAtKey(path, "is an empty model id");
        else if (typeof to !== "string" || to === "") {
          issues.error(path, `must be a non-empty string, got ${typeOf(to)}`);
        } else {
          if (known.has(from)) {
            issues.warning(
              path,
              `${
                JSON.stringify(from)
              } is a Flow name; the alias takes precedence`,
            );
          }
          target(path, to);
          aliases.set(from, to);
        }
      }
    }
  }

  const patterns = readPatterns(
    root.patterns,
    "patterns" in root,
    issues,
    target,
  );

  const defaults: Partial<Record<ApiKind, string>> = {};
  if ("defaults" in root) {
    if (!isObject(root.defaults)) {
      issues.error(
        "defaults",
        `must be an object, got ${typeOf(root.defaults)}`,
      );
    } else {
      issues.unknownKeys(root.defaults, "defaults", API_KEYS);
      for (const [api, to] of Object.entries(root.defaults)) {
        if (!API_KEYS.includes(api)) continue;
        const path = childPath("defaults", api);
        if (typeof to !== "string" || to === "") {
          issues.error(path, `must be a non-empty string, got ${typeOf(to)}`);
        } else {
          target(path, to);
          defaults[api as ApiKind] = to;
        }
      }
    }
  }

  report.errors.sort(byPlace);
  report.warnings.sort(byPlace);
  if (report.errors.length === 0) {
    report.config = Object.freeze({
      catalogue,
      aliases,
      patterns: Object.freeze(patterns),
      builtInRules,
      defaults: Object.freeze(defaults),
      compat: globalCompat !== false,
      currency,
      source: file,
    });
  }
  return report;
}

/** File order; stable, so issues at one place keep the order they were found in. */
function byPlace(a: ModelsIssue, b: ModelsIssue): number {
  return (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0);
}

function fileIssue(file: string, detail: string): ModelsIssue {
  return {
    path: null,
    line: null,
    column: null,
    message: `${file}: ${detail}`,
  };
}

/** The error and warning sinks for one document. */
function issuesFor(
  file: string,
  doc: PositionedJson,
  report: ModelsReport,
): Issues {
  const make = (path: string, offset: number, detail: string): ModelsIssue => {
    const at = doc.locate(offset);
    const subject = path === "" ? "" : `${path} `;
    return {
      path: path === "" ? null : path,
      line: at.line,
      column: at.column,
      message: `${file}:${at.line}:${at.column}: ${subject}${detail}`,
    };
  };
  const valueAt = (path: string) => doc.values.get(path) ?? 0;
  const keyAt = (path: string) => doc.keys.get(path) ?? valueAt(path);
  const issues: Issues = {
    error: (path, detail) =>
      report.errors.push(make(path, valueAt(path), detail)),
    errorAt: (path, offset, detail) =>
      report.errors.push(make(path, offset, detail)),
    errorAtKey: (path, detail) =>
      report.errors.push(make(path, keyAt(path), detail)),
    warning: (path, detail) =>
      report.warnings.push(make(path, valueAt(path), detail)),
    unknownKeys(object, path, allowed) {
      for (const key of Object.keys(object)) {
        if (allowed.includes(key)) continue;
        const near = allowed.find((k) => k.toLowerCase() === key.toLowerCase());
        issues.errorAtKey(
          childPath(path, key),
          near === undefined
            ? `is not a known field (known: ${allowed.join(", ")})`
            : `is not a known field (did you mean ${JSON.stringify(near)}?)`,
        );
      }
    },
  };
  return issues;
}

/** The effective entries: the built-in ones, overridden in place, then new ones. */
function readModels(
  raw: unknown,
  present: boolean,
  issues: Issues,
  globalCompat: CompatSwitches | false,
): ModelEntry[] {
  const out = new Map<string, ModelEntry>();
  for (const entry of BUILT_IN_CATALOGUE.entries) {
    out.set(entry.name, entryFrom(entry, {}, globalCompat, null));
  }
  if (!present) return [...out.values()];
  if (!Array.isArray(raw)) {
    issues.error(
      "models",
      `must be an array of model objects, got ${typeOf(raw)}`,
    );
    return [...out.values()];
  }
  const firstAt = new Map<string, string>();
  raw.forEach((value, index) => {
    const path = childPath("models", index);
    const fields = checkModelFields(value, path, issues);
    if (fields === null) return;
    const name = fields.name;
    const earlier = firstAt.get(name);
    if (earlier !== undefined) {
      issues.error(
        childPath(path, "name"),
        `${JSON.stringify(name)} is already defined by ${earlier}`,
      );
      return;
    }
    firstAt.set(name, path);
    const base = out.get(name) ?? null;
    const entry = fields.complete(base, path, globalCompat);
    if (entry) out.set(name, entry);
  });
  return [...out.values()];
}

/**
 * Reads and validates a models file. A file that cannot be read is one
 * file-level error in the report; this never throws for I/O.
 */
export async function readModelsConfigFile(
  path: string,
  options: ReadModelsConfigOptions = {},
): Promise<ModelsReport> {
  const file = options.displayName ?? path;
  const read = options.readFile ?? Deno.readFile;
  let bytes: Uint8Array;
  try {
    bytes = await read(path);
  } catch (err) {
    const reason = err instanceof Deno.errors.NotFound
      ? "no such file"
      : err instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : err instanceof Error
      ? err.message
      : String(err);
    return {
      file,
      config: null,
      errors: [fileIssue(file, `cannot read the file: ${reason}`)],
      warnings: [],
    };
  }
  if (bytes.length > MAX_MODELS_FILE_BYTES) {
    return {
      file,
      config: null,
      errors: [
        fileIssue(
          file,
          `the file has ${bytes.length} bytes, more than the ${MAX_MODELS_FILE_BYTES} allowed`,
        ),
      ],
      warnings: [],
    };
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return {
      file,
      config: null,
      errors: [fileIssue(file, "the file is not valid UTF-8")],
      warnings: [],
    };
  }
  return validateModelsConfig(text, file);
}
