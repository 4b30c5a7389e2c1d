/**
 * Client model id → Flow name, once per request.
 *
 * Precedence, first match wins:
 * 1. an exact alias from the file;
 * 2. a Flow name (a catalogue entry) passes unchanged;
 * 3. the file's patterns, in file order;
 * 4. the built-in rules (unless `"builtInRules": false`): Claude ids go to
 *    the same version on Flow when it is there, else to the newest Flow
 *    model of the family; unknown `gpt-*` ids go to `gpt-5` (`gpt-5-mini`
 *    for `*-mini`/`*-nano`), after a dated `gpt-4o-2024-08-06` is tried as
 *    `gpt-4o`; unknown `gemini-*` ids (Gemini CLI's defaults, such as
 *    `gemini-3.1-pro-preview`) go to the catalogue's Gemini model;
 * 5. the file's default for the API;
 * 6. nothing: the id is sent as it is, so Flow's own error reaches the user.
 *
 * Exact ids are one `Map` lookup; pattern and rule results are cached per
 * API in a bounded map, so a steady stream of the same ids costs a lookup.
 */
import type {
  ApiKind,
  Catalogue,
  ModelEntry,
  ModelsConfig,
  PatternRule,
} from "./types.ts";

/** What an id resolved to. */
export interface ModelResolution {
  /** The Flow name to send upstream. */
  flow: string;
  /** Its catalogue entry, or null when the catalogue does not know it. */
  entry: ModelEntry | null;
  /** Which rule matched, for logs: `flow-name`, `alias`, `pattern:<glob>`, `builtin:<rule>`, `default:<api>`. */
  rule: string;
}

/** Resolves a requested model id on an API; null: send it unchanged. */
export type ModelResolver = (
  requested: string,
  api: ApiKind,
) => ModelResolution | null;

/** Options of {@linkcode createModelResolver}. */
export interface ModelResolverOptions {
  /** Most pattern and rule results kept per API (default 1024). */
  cacheSize?: number;
}

/** Results kept per API when no `cacheSize` is given. */
export const DEFAULT_RESOLVER_CACHE_SIZE = 1024;

/** Claude families the built-in rules know. */
export type ClaudeFamily = "opus" | "sonnet" | "haiku";

/** A Claude id taken apart. */
export interface ClaudeId {
  family: ClaudeFamily;
  major: number;
  /** Null when the id names no minor version (`claude-opus-4-20250514`). */
  minor: number | null;
}

// claude-opus-4-8, claude-sonnet-4-5-20250929, claude-opus-4-8[1m],
// claude-haiku-4-5-latest, claude-opus-4-1@20250805 (Vertex style)
const CLAUDE_NEW =
  /^(?:(?:global|us|eu|apac|jp|au)\.)?(?:anthropic\.)?claude-(opus|sonnet|haiku)-(\d+)(?:[-.](\d{1,2}))?(?:[-@](?:\d{8}|latest))?(?:-v\d+(?::\d+)?)?(?:\[1m\])?$/i;
// claude-3-5-sonnet-20241022, claude-3-opus-latest, claude-3-7-sonnet[1m]
const CLAUDE_OLD =
  /^(?:(?:global|us|eu|apac|jp|au)\.)?(?:anthropic\.)?claude-(\d+)(?:[-.](\d{1,2}))?-(opus|sonnet|haiku)(?:[-@](?:\d{8}|latest))?(?:-v\d+(?::\d+)?)?(?:\[1m\])?$/i;
// anthropic.claude-4-6-sonnet, the shape of Flow's names
const FLOW_CLAUDE = /^anthropic\.claude-(\d+)-(\d+)-(opus|sonnet|haiku)$/;
const GPT = /^gpt-/i;
const GPT_DATED = /^(.+)-\d{4}-\d{2}-\d{2}$/;
const GPT_SMALL = /-(mini|nano)(?:-|$)/i;
const GEMINI = /^(?:models\/)?gemini-/i;

/** Takes a Claude id apart (new and old styles, date and `[1m]` suffixes); null for anything else. */
export function parseClaudeId(id: string): ClaudeId | null {
  let m = CLAUDE_NEW.exec(id);
  if (m) {
    return {
      family: m[1].toLowerCase() as ClaudeFamily,
      major: Number(m[2]),
      minor: m[3] === undefined ? null : Number(m[3]),
    };
  }
  m = CLAUDE_OLD.exec(id);
  if (m) {
    return {
      family: m[3].toLowerCase() as ClaudeFamily,
      major: Number(m[1]),
      minor: m[2] === undefined ? null : Number(m[2]),
    };
  }
  return null;
}

/** Compiles a glob where `*` matches any run of characters and nothing else is special. */
export function compileGlob(glob: string): RegExp {
  const body = glob.split("*").map((part) =>
    part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
  ).join(".*");
  return new RegExp(`^${body}$`, "s");
}

interface CompiledPattern {
  rule: PatternRule;
  regex: RegExp;
  label: string;
}

interface FamilyIndex {
  /** `major-minor` → Flow name, for the Claude families. */
  exact: Map<string, string>;
  /** The highest version on Flow, per Claude family. */
  newest: Map<ClaudeFamily, string>;
}

/** Which Claude versions the catalogue has, and the newest of each family. */
function indexClaude(catalogue: Catalogue): FamilyIndex {
  const exact = new Map<string, string>();
  const best = new Map<ClaudeFamily, { v: number; name: string }>();
  for (const entry of catalogue.entries) {
    const m = FLOW_CLAUDE.exec(entry.name);
    if (!m || entry.family !== "anthropic") continue;
    const family = m[3] as ClaudeFamily;
    const major = Number(m[1]);
    const minor = Number(m[2]);
    exact.set(`${family}:${major}-${minor}`, entry.name);
    const v = major * 1000 + minor;
    const current = best.get(family);
    if (!current || v > current.v) best.set(family, { v, name: entry.name });
  }
  const newest = new Map<ClaudeFamily, string>();
  for (const [family, { name }] of best) newest.set(family, name);
  return { exact, newest };
}

/**
 * Builds the resolver for a configuration. Everything that can be done once
 * (globs compiled, Claude versions indexed) is done here, not per request.
 */
export function createModelResolver(
  config: ModelsConfig,
  options: ModelResolverOptions = {},
): ModelResolver {
  const cacheSize = options.cacheSize ?? DEFAULT_RESOLVER_CACHE_SIZE;
  if (!Number.isInteger(cacheSize) || cacheSize < 0) {
    throw new RangeError(
      `Invalid resolver cache size: ${cacheSize} (a non-negative integer is required)`,
    );
  }
  const byName = config.catalogue.byName;
  const patterns: CompiledPattern[] = config.patterns.map((rule) => ({
    rule,
    regex: compileGlob(rule.match),
    label: `pattern:${rule.match}`,
  }));
  const claude = indexClaude(config.catalogue);
  const gpt5 = byName.has("gpt-5") ? "gpt-5" : null;
  const gpt5Mini = byName.has("gpt-5-mini") ? "gpt-5-mini" : gpt5;
  // The last Gemini entry that answers (not embeddings): the newest, as the
  // catalogue lists models oldest first.
  const gemini =
    config.catalogue.entries.findLast((e) =>
      e.family === "gemini" && !e.apis.includes("embeddings")
    )?.name ?? null;
  const caches = new Map<ApiKind, Map<string, ModelResolution | null>>();

  const result = (flow: string, rule: string): ModelResolution => ({
    flow,
    entry: byName.get(flow) ?? null,
    rule,
  });

  const builtIn = (id: string, api: ApiKind): ModelResolution | null => {
    if (!config.builtInRules || api === "embeddings") return null;
    const c = parseClaudeId(id);
    if (c) {
      const same = c.minor === null
        ? undefined
        : claude.exact.get(`${c.family}:${c.major}-${c.minor}`);
      if (same) return result(same, `builtin:claude-${c.family}`);
      const newest = claude.newest.get(c.family);
      return newest
        ? result(newest, `builtin:claude-${c.family}-newest`)
        : null;
    }
    if (GPT.test(id)) {
      const dated = GPT_DATED.exec(id);
      if (dated && byName.has(dated[1])) {
        return result(dated[1], "builtin:gpt-dated");
      }
      const target = GPT_SMALL.test(id) ? gpt5Mini : gpt5;
      return target ? result(target, "builtin:gpt") : null;
    }
    if (GEMINI.test(id)) {
      return gemini ? result(gemini, "builtin:gemini") : null;
    }
    return null;
  };

  const slow = (id: string, api: ApiKind): ModelResolution | null => {
    for (const p of patterns) {
      if (p.rule.apis && !p.rule.apis.includes(api)) continue;
      if (p.regex.test(id)) return result(p.rule.model, p.label);
    }
    const rule = builtIn(id, api);
    if (rule) return rule;
    const fallback = config.defaults[api];
    return fallback === undefined ? null : result(fallback, `default:${api}`);
  };

  return function resolveModel(requested, api) {
    const alias = config.aliases.get(requested);
    if (alias !== undefined) return result(alias, "alias");
    const entry = byName.get(requested);
    if (entry) return { flow: requested, entry, rule: "flow-name" };
    if (cacheSize === 0) return slow(requested, api);
    let cache = caches.get(api);
    if (!cache) caches.set(api, cache = new Map());
    const hit = cache.get(requested);
    if (hit !== undefined || cache.has(requested)) return hit ?? null;
    const found = slow(requested, api);
    // Oldest first out: Map iterates in insertion order.
    if (cache.size >= cacheSize) cache.delete(cache.keys().next().value!);
    cache.set(requested, found);
    return found;
  };
}
