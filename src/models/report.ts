/**
 * What `flow-proxy models` prints: the effective catalogue and mapping, as
 * a table for people or as JSON for scripts; and the lines a config check
 * prints for a models file. Pure: strings in, strings out.
 */
import { builtInModelsConfig, type ModelsReport } from "./config_file.ts";
import { createModelResolver } from "./mapping.ts";
import { type ApiKind, COMPAT_OFF, DEFAULT_COMPAT } from "./types.ts";
import type { CompatSwitches, ModelEntry, ModelsConfig } from "./types.ts";

/** One requested id and how it resolved, for the examples section. */
export interface MappingExample {
  requested: string;
  api: ApiKind;
  /** The Flow name sent, or the id itself when nothing matched. */
  flow: string;
  rule: string;
}

/** Options of {@linkcode modelsReportJson} and {@linkcode formatModelsTable}. */
export interface ModelsReportOptions {
  /** Ids to show resolved; {@linkcode DEFAULT_EXAMPLES} when absent. */
  examples?: readonly { requested: string; api: ApiKind }[];
}

/** The ids the clients of issue 14 send by default, on the API they use. */
export const DEFAULT_EXAMPLES: readonly { requested: string; api: ApiKind }[] =
  [
    { requested: "claude-opus-4-8", api: "messages" },
    { requested: "claude-opus-4-8[1m]", api: "messages" },
    { requested: "claude-sonnet-4-5-20250929", api: "messages" },
    { requested: "claude-haiku-4-5-20251001", api: "messages" },
    { requested: "claude-3-5-sonnet-20241022", api: "messages" },
    { requested: "gpt-6.2-sol", api: "responses" },
    { requested: "gpt-4o-2024-08-06", api: "chat" },
  ];

/** The shipped rules (never applied on `embeddings`), as the table and the JSON describe them. */
export const BUILT_IN_RULES: readonly { match: string; to: string }[] = [
  {
    match: "claude-{opus,sonnet,haiku}-<N>[-<M>]…",
    to: "the same version on Flow, else the newest of the family",
  },
  {
    match: "claude-<N>[-<M>]-{opus,sonnet,haiku}…",
    to: "the same version on Flow, else the newest of the family",
  },
  { match: "gpt-*-<YYYY-MM-DD>", to: "the undated name, when on Flow" },
  { match: "gpt-*-mini*, gpt-*-nano*", to: "gpt-5-mini" },
  { match: "gpt-*", to: "gpt-5" },
  { match: "gemini-*", to: "the catalogue's Gemini model (gemini-2.5-pro)" },
];

/** The effective configuration as plain JSON (what `flow-proxy models --json` prints). */
export function modelsReportJson(
  config: ModelsConfig,
  options: ModelsReportOptions = {},
): Record<string, unknown> {
  return {
    source: config.source,
    compat: config.compat,
    models: config.catalogue.entries.map((e) => ({
      name: e.name,
      family: e.family,
      apis: e.apis,
      contextWindow: e.contextWindow,
      outputLimit: e.outputLimit,
      thinking: e.thinking,
      betas: e.betas,
      rejectsFields: e.rejectsFields,
      compat: e.compat,
      builtIn: e.builtIn,
      ...(e.note === undefined ? {} : { note: e.note }),
      ...(e.translateTo === undefined ? {} : { translateTo: e.translateTo }),
      price: e.price ?? null,
    })),
    currency: config.currency,
    aliases: Object.fromEntries(config.aliases),
    patterns: config.patterns,
    builtInRules: config.builtInRules ? BUILT_IN_RULES : [],
    defaults: config.defaults,
    examples: examplesOf(config, options),
  };
}

/** The effective configuration as text tables (what `flow-proxy models` prints). */
export function formatModelsTable(
  config: ModelsConfig,
  options: ModelsReportOptions = {},
): string {
  const out: string[] = [];
  out.push(
    `Models (${config.source ?? "built in"}${
      config.compat ? "" : "; compatibility rewrites off"
    })`,
  );
  out.push(table(
    [
      "NAME",
      "FAMILY",
      "APIS",
      "CONTEXT",
      "OUTPUT",
      "THINKING",
      "BETAS",
      "REJECTS",
      "COMPAT",
      `PRICE ${config.currency}/M IN,OUT,CACHE R,W`,
    ],
    config.catalogue.entries.map((e) => [
      e.name + (e.builtIn ? "" : " *"),
      e.family,
      e.apis.join(","),
      String(e.contextWindow),
      String(e.outputLimit),
      e.thinking.join(",") || "-",
      String(e.betas.length),
      e.rejectsFields.join(",") || "-",
      describeCompat(e),
      e.price === undefined
        ? "unknown"
        : [e.price.input, e.price.output, e.price.cacheRead, e.price.cacheWrite]
          .join(","),
    ]),
  ));
  out.push("");
  out.push("Mapping (first match wins)");
  const rows: string[][] = [];
  for (const [from, to] of config.aliases) rows.push(["alias", from, to]);
  rows.push(["flow name", "<any catalogue name>", "itself"]);
  for (const p of config.patterns) {
    rows.push([
      "pattern",
      p.match + (p.apis ? ` (${p.apis.join(",")})` : ""),
      p.model,
    ]);
  }
  if (config.builtInRules) {
    for (const r of BUILT_IN_RULES) rows.push(["built in", r.match, r.to]);
  }
  for (const [api, to] of Object.entries(config.defaults)) {
    rows.push(["default", api, to]);
  }
  rows.push(["otherwise", "<anything else>", "sent unchanged"]);
  out.push(table(["RULE", "MATCH", "MAPS TO"], rows));
  out.push("");
  out.push("Examples");
  out.push(table(
    ["REQUESTED", "API", "SENT AS", "RULE"],
    examplesOf(config, options).map((
      x,
    ) => [x.requested, x.api, x.flow, x.rule]),
  ));
  return out.join("\n") + "\n";
}

/** What a command prints and exits with. */
export interface ModelsCommandOutput {
  stdout: string;
  stderr: string;
  /** 0, or 1 when the file has errors. */
  code: 0 | 1;
}

/** Options of {@linkcode modelsCommand}. */
export interface ModelsCommandOptions extends ModelsReportOptions {
  /** Print JSON instead of tables. */
  json?: boolean;
  /** Only validate: print the issues and a summary (the config check). */
  check?: boolean;
}

/**
 * `flow-proxy models` (and, with `check`, the models file check) for a
 * validated file, or for the built-in configuration when `report` is null.
 * A file with errors prints them all to stderr and exits 1; warnings go to
 * stderr, the catalogue to stdout.
 */
export function modelsCommand(
  report: ModelsReport | null,
  options: ModelsCommandOptions = {},
): ModelsCommandOutput {
  if (report !== null && report.config === null) {
    return { stdout: "", stderr: formatModelsIssues(report), code: 1 };
  }
  if (options.check) {
    return {
      stdout: report === null
        ? "no models file: the built-in catalogue is used\n"
        : formatModelsIssues(report),
      stderr: "",
      code: 0,
    };
  }
  const config = report?.config ?? builtInModelsConfig();
  const stderr = (report?.warnings ?? []).map((w) => `warning: ${w.message}\n`)
    .join("");
  const stdout = options.json
    ? JSON.stringify(modelsReportJson(config, options), null, 2) + "\n"
    : formatModelsTable(config, options);
  return { stdout, stderr, code: 0 };
}

/** `error: …` and `warning: …` lines for a models file, then a summary line. */
export function formatModelsIssues(report: ModelsReport): string {
  const lines = [
    ...report.errors.map((i) => `error: ${i.message}`),
    ...report.warnings.map((i) => `warning: ${i.message}`),
  ];
  const count = (n: number, what: string) =>
    `${n} ${what}${n === 1 ? "" : "s"}`;
  lines.push(
    report.errors.length === 0
      ? `${report.file}: OK (${
        count(report.config?.catalogue.entries.length ?? 0, "model")
      }, ${count(report.warnings.length, "warning")})`
      : `${report.file}: ${count(report.errors.length, "error")}, ${
        count(report.warnings.length, "warning")
      }`,
  );
  return lines.join("\n") + "\n";
}

function examplesOf(
  config: ModelsConfig,
  options: ModelsReportOptions,
): MappingExample[] {
  const resolve = createModelResolver(config, { cacheSize: 0 });
  return (options.examples ?? DEFAULT_EXAMPLES).map(({ requested, api }) => {
    const r = resolve(requested, api);
    return r
      ? { requested, api, flow: r.flow, rule: r.rule }
      : { requested, api, flow: requested, rule: "none" };
  });
}

function describeCompat(entry: ModelEntry): string {
  if (entry.compat === DEFAULT_COMPAT) return "default";
  if (sameAs(entry.compat, COMPAT_OFF)) return "off";
  return (Object.keys(DEFAULT_COMPAT) as (keyof CompatSwitches)[])
    .filter((k) => entry.compat[k] !== DEFAULT_COMPAT[k])
    .map((k) => `${k}=${entry.compat[k]}`)
    .join(",");
}

function sameAs(a: CompatSwitches, b: CompatSwitches): boolean {
  return (Object.keys(b) as (keyof CompatSwitches)[]).every((k) =>
    a[k] === b[k]
  );
}

/** Left-aligned columns separated by two spaces; no trailing spaces. */
function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) =>
    Math.max(h.length, ...rows.map((r) => r[i].length))
  );
  const line = (cells: string[]) =>
    cells.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}
