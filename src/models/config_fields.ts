/**
 * Field checks of the models file: one model entry, an API list, a set of
 * compatibility switches. Each reports through {@linkcode Issues} and goes on,
 * so that one pass finds every problem.
 */
import { childPath } from "./json_positions.ts";
import {
  API_KINDS,
  type ApiKind,
  COMPAT_OFF,
  COMPAT_VALUES,
  type CompatSwitches,
  DEFAULT_COMPAT,
  MODEL_FAMILIES,
  type ModelEntry,
  type ModelFamily,
  type ModelPrice,
  type PatternRule,
  type ThinkingType,
} from "./types.ts";

/** Where field checks report; paths as `childPath` builds them. */
export interface Issues {
  /** An error about the value at `path`. */
  error(path: string, detail: string): void;
  /** An error at an explicit offset. */
  errorAt(path: string, offset: number, detail: string): void;
  /** An error about the key of the value at `path`. */
  errorAtKey(path: string, detail: string): void;
  /** A warning about the value at `path`. */
  warning(path: string, detail: string): void;
  /** One error per key of `object` that is not in `allowed`. */
  unknownKeys(
    object: Record<string, unknown>,
    path: string,
    allowed: readonly string[],
  ): void;
}

/** What a model entry of the file gave, before it is merged. */
export interface ModelFields {
  name: string;
  /**
   * The entry it makes over `base` (the built-in entry of that name, or
   * null for a new model), or null when a field was wrong or missing.
   */
  complete(
    base: ModelEntry | null,
    path: string,
    globalCompat: CompatSwitches | false,
  ): ModelEntry | null;
}

const MODEL_KEYS = [
  "name",
  "family",
  "apis",
  "contextWindow",
  "outputLimit",
  "thinking",
  "betas",
  "rejectsFields",
  "compat",
  "note",
  "translateTo",
  "price",
];
const PRICE_KEYS = ["input", "output", "cacheRead", "cacheWrite"];
/** The APIs a translation can send a request on. */
const TRANSLATE_TARGETS: readonly string[] = [
  "messages",
  "chat",
  "responses",
  "gemini",
];
const REQUIRED_FOR_NEW = ["family", "apis", "contextWindow", "outputLimit"];
const PATTERN_KEYS = ["match", "model", "apis"];
const THINKING_TYPES: readonly string[] = ["enabled", "adaptive"];
/** A flag, or a prefix of flags ending in `*`. */
const BETA_FLAG = /^[A-Za-z0-9._-]+\*?$/;

/** True for a plain JSON object (not an array, not null). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** `a string`, `an array`, `null`, `the number 3`, … for messages. */
export function typeOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return "a string";
  if (typeof value === "number") return `the number ${value}`;
  if (typeof value === "boolean") return String(value);
  return "an object";
}

/** A non-empty list of distinct API kinds, or null after reporting. */
export function readApis(
  value: unknown,
  path: string,
  issues: Issues,
): ApiKind[] | null {
  const list = readStrings(
    value,
    path,
    issues,
    (v) => API_KINDS.includes(v as ApiKind),
    `one of ${API_KINDS.join(", ")}`,
  );
  if (list === null) return null;
  if (list.length === 0) {
    issues.error(path, "must name at least one API");
    return null;
  }
  return list as ApiKind[];
}

/**
 * `true` → `{}` (the defaults), `false` → false (everything passes), an
 * object → the switches it sets; null after reporting a problem.
 */
export function readCompat(
  value: unknown,
  path: string,
  issues: Issues,
): Partial<CompatSwitches> | false | null {
  if (value === true) return {};
  if (value === false) return false;
  if (!isObject(value)) {
    issues.error(
      path,
      `must be true, false or an object, got ${typeOf(value)}`,
    );
    return null;
  }
  const keys = Object.keys(COMPAT_VALUES) as (keyof CompatSwitches)[];
  issues.unknownKeys(value, path, keys);
  const out: Record<string, string> = {};
  let ok = true;
  for (const key of keys) {
    if (!(key in value)) continue;
    const allowed: readonly string[] = COMPAT_VALUES[key];
    const v = value[key];
    if (typeof v !== "string" || !allowed.includes(v)) {
      issues.error(
        childPath(path, key),
        `must be ${allowed.map((a) => JSON.stringify(a)).join(" or ")}, got ${
          typeOf(v)
        }`,
      );
      ok = false;
    } else out[key] = v;
  }
  return ok ? out as Partial<CompatSwitches> : null;
}

/** The switches a model ends with: the global `false` wins, then the model's own. */
export function effectiveCompat(
  globalCompat: CompatSwitches | false,
  model: Partial<CompatSwitches> | false | null,
): Readonly<CompatSwitches> {
  if (globalCompat === false || model === false) return COMPAT_OFF;
  const merged = { ...globalCompat, ...(model ?? {}) };
  return sameSwitches(merged, DEFAULT_COMPAT)
    ? DEFAULT_COMPAT
    : Object.freeze(merged);
}

function sameSwitches(a: CompatSwitches, b: CompatSwitches): boolean {
  return (Object.keys(COMPAT_VALUES) as (keyof CompatSwitches)[]).every((k) =>
    a[k] === b[k]
  );
}

/** `base` with `fields` over it and its switches made effective. */
export function entryFrom(
  base: ModelEntry,
  fields: Partial<Omit<ModelEntry, "compat" | "builtIn">>,
  globalCompat: CompatSwitches | false,
  model: Partial<CompatSwitches> | false | null,
): ModelEntry {
  const changed = Object.keys(fields).length > 0 || model !== null;
  return Object.freeze({
    ...base,
    ...fields,
    compat: effectiveCompat(globalCompat, model),
    builtIn: base.builtIn && !changed,
  });
}

/** Checks one element of `models`; null when it is unusable as a whole. */
export function checkModelFields(
  value: unknown,
  path: string,
  issues: Issues,
): ModelFields | null {
  if (!isObject(value)) {
    issues.error(path, `must be an object, got ${typeOf(value)}`);
    return null;
  }
  issues.unknownKeys(value, path, MODEL_KEYS);
  const at = (key: string) => childPath(path, key);
  if (!("name" in value)) {
    issues.error(path, `has no "name" (Flow's name for the model is required)`);
    return null;
  }
  if (typeof value.name !== "string" || value.name.trim() === "") {
    issues.error(
      at("name"),
      `must be a non-empty string, got ${typeOf(value.name)}`,
    );
    return null;
  }
  const name = value.name;
  let bad = false;
  const fields: Record<string, unknown> = {};

  if ("family" in value) {
    if (!MODEL_FAMILIES.includes(value.family as ModelFamily)) {
      issues.error(
        at("family"),
        `must be one of ${MODEL_FAMILIES.join(", ")}, got ${
          typeOf(value.family)
        }`,
      );
      bad = true;
    } else fields.family = value.family;
  }
  if ("apis" in value) {
    const apis = readApis(value.apis, at("apis"), issues);
    if (apis === null) bad = true;
    else fields.apis = Object.freeze(apis);
  }
  for (
    const [key, min] of [["contextWindow", 1], ["outputLimit", 0]] as const
  ) {
    if (!(key in value)) continue;
    const v = value[key];
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min) {
      issues.error(
        at(key),
        `must be a ${min === 1 ? "positive" : "non-negative"} integer, got ${
          typeOf(v)
        }`,
      );
      bad = true;
    } else fields[key] = v;
  }
  if ("thinking" in value) {
    const list = readStrings(
      value.thinking,
      at("thinking"),
      issues,
      (v) => THINKING_TYPES.includes(v),
      `"enabled" or "adaptive"`,
    );
    if (list === null) bad = true;
    else fields.thinking = Object.freeze(list as ThinkingType[]);
  }
  if ("betas" in value) {
    const list = readStrings(
      value.betas,
      at("betas"),
      issues,
      (v) => BETA_FLAG.test(v),
      "a beta flag (letters, digits, '.', '_', '-'; a final '*' for a prefix)",
    );
    if (list === null) bad = true;
    else fields.betas = Object.freeze(list);
  }
  if ("rejectsFields" in value) {
    const list = readStrings(
      value.rejectsFields,
      at("rejectsFields"),
      issues,
      (v) => v !== "",
      "a non-empty field name",
    );
    if (list === null) bad = true;
    else fields.rejectsFields = Object.freeze(list);
  }
  let compat: Partial<CompatSwitches> | false | null = null;
  if ("compat" in value) {
    const c = readCompat(value.compat, at("compat"), issues);
    if (c === null) bad = true;
    else compat = c;
  }
  if ("note" in value) {
    if (typeof value.note !== "string") {
      issues.error(at("note"), `must be a string, got ${typeOf(value.note)}`);
      bad = true;
    } else fields.note = value.note;
  }
  if ("price" in value) {
    const price = readPrice(value.price, at("price"), issues);
    if (price === null) bad = true;
    else fields.price = price;
  }
  if ("translateTo" in value) {
    if (!TRANSLATE_TARGETS.includes(value.translateTo as string)) {
      issues.error(
        at("translateTo"),
        `must be one of ${TRANSLATE_TARGETS.join(", ")}, got ${
          typeOf(value.translateTo)
        }`,
      );
      bad = true;
    } else fields.translateTo = value.translateTo;
  }

  return {
    name,
    complete(base, entryPath, globalCompat) {
      if (base === null) {
        const missing = REQUIRED_FOR_NEW.filter((k) => !(k in value));
        if (missing.length > 0) {
          issues.error(
            entryPath,
            `adds the model ${
              JSON.stringify(name)
            }, which is not built in, so it needs ${
              missing.map((k) => `"${k}"`).join(", ")
            }`,
          );
          return null;
        }
      }
      if (bad) return null;
      const start: ModelEntry = base ?? {
        name,
        family: "other",
        apis: [],
        contextWindow: 1,
        outputLimit: 0,
        thinking: [],
        betas: [],
        rejectsFields: [],
        compat: DEFAULT_COMPAT,
        builtIn: false,
      };
      const entry = entryFrom(start, fields, globalCompat, compat);
      if (
        entry.translateTo !== undefined &&
        !entry.apis.includes(entry.translateTo)
      ) {
        issues.error(
          at("translateTo"),
          `must be one of the APIs the model is served on (${
            entry.apis.join(", ")
          }), got "${entry.translateTo}"`,
        );
        return null;
      }
      return entry;
    },
  };
}

/** The `patterns` list; `target` checks (and warns about) each model it names. */
export function readPatterns(
  raw: unknown,
  present: boolean,
  issues: Issues,
  target: (path: string, name: string) => void,
): PatternRule[] {
  const out: PatternRule[] = [];
  if (!present) return out;
  if (!Array.isArray(raw)) {
    issues.error("patterns", `must be an array of objects, got ${typeOf(raw)}`);
    return out;
  }
  raw.forEach((value, index) => {
    const path = childPath("patterns", index);
    if (!isObject(value)) {
      issues.error(path, `must be an object, got ${typeOf(value)}`);
      return;
    }
    issues.unknownKeys(value, path, PATTERN_KEYS);
    let ok = true;
    for (const field of ["match", "model"] as const) {
      const v = value[field];
      if (!(field in value)) {
        issues.error(
          path,
          `has no "${field}" (a non-empty string is required)`,
        );
        ok = false;
      } else if (typeof v !== "string" || v === "") {
        issues.error(
          childPath(path, field),
          `must be a non-empty string, got ${typeOf(v)}`,
        );
        ok = false;
      }
    }
    let apis: ApiKind[] | undefined;
    if ("apis" in value) {
      apis = readApis(value.apis, childPath(path, "apis"), issues) ?? undefined;
      if (apis === undefined) ok = false;
    }
    if (!ok) return;
    const rule: PatternRule = {
      match: value.match as string,
      model: value.model as string,
      ...(apis ? { apis: Object.freeze(apis) } : {}),
    };
    target(childPath(path, "model"), rule.model);
    out.push(Object.freeze(rule));
  });
  return out;
}

/** An array of distinct strings each passing `valid`; null after reporting. */
function readStrings(
  value: unknown,
  path: string,
  issues: Issues,
  valid: (v: string) => boolean,
  expected: string,
): string[] | null {
  if (!Array.isArray(value)) {
    issues.error(path, `must be an array, got ${typeOf(value)}`);
    return null;
  }
  let ok = true;
  const seen = new Set<string>();
  value.forEach((v, i) => {
    const p = childPath(path, i);
    if (typeof v !== "string" || !valid(v)) {
      issues.error(
        p,
        `must be ${expected}, got ${typeOf(v)}${
          typeof v === "string" ? ` ${JSON.stringify(v)}` : ""
        }`,
      );
      ok = false;
    } else if (seen.has(v)) {
      issues.warning(p, `repeats ${JSON.stringify(v)}`);
    } else seen.add(v);
  });
  return ok ? [...seen] : null;
}

/**
 * A `price` object: `input` and `output` required, `cacheRead` and
 * `cacheWrite` defaulting to `input` (so a missing cache price never
 * undercounts); each a non-negative number per million tokens. Null after
 * reporting.
 */
export function readPrice(
  value: unknown,
  path: string,
  issues: Issues,
): ModelPrice | null {
  if (!isObject(value)) {
    issues.error(
      path,
      `must be an object such as {"input": 3, "output": 15}, got ${
        typeOf(value)
      }`,
    );
    return null;
  }
  issues.unknownKeys(value, path, PRICE_KEYS);
  let ok = true;
  const read = (key: string): number | undefined => {
    if (!(key in value)) return undefined;
    const v = value[key];
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0 || v > 1e6) {
      issues.error(
        childPath(path, key),
        `must be a price per million tokens from 0 to 1000000, got ${
          typeOf(v)
        }`,
      );
      ok = false;
    }
    return v as number;
  };
  const input = read("input");
  const output = read("output");
  const cacheRead = read("cacheRead");
  const cacheWrite = read("cacheWrite");
  for (const [key, v] of [["input", input], ["output", output]] as const) {
    if (v === undefined) {
      issues.error(path, `has no "${key}" (a price per million tokens)`);
      ok = false;
    }
  }
  if (!ok) return null;
  return Object.freeze({
    input: input!,
    output: output!,
    cacheRead: cacheRead ?? input!,
    cacheWrite: cacheWrite ?? input!,
  });
}
