/**
 * The OpenAI-style `GET /v1/models` answer: Flow's names plus the aliases,
 * so model pickers (Cline, Continue, Open WebUI) offer both.
 */
import type { ModelFamily, ModelsConfig } from "./types.ts";

/** One model of the listing. */
export interface ListedModel {
  id: string;
  object: "model";
  /** Unix seconds; 0 when unknown. */
  created: number;
  "owned_by": string;
  /** For an alias: the Flow name it maps to. */
  "alias_of"?: string;
}

/** The listing, as OpenAI's `/v1/models` answers. */
export interface ModelsListing {
  object: "list";
  data: ListedModel[];
}

/** Options of {@linkcode buildModelsListing}. */
export interface ModelsListingOptions {
  /**
   * Flow's own `/v1/models` answer, when it could be fetched: its models are
   * then the served ones (kept with their fields), and an alias is listed
   * only when its target is among them or in the catalogue.
   */
  upstream?: unknown;
}

const OWNER: Record<ModelFamily, string> = {
  anthropic: "anthropic",
  openai: "openai",
  gemini: "google",
  other: "flow",
};

/** Builds the listing: served models first, then aliases, each id once. */
export function buildModelsListing(
  config: ModelsConfig,
  options: ModelsListingOptions = {},
): ModelsListing {
  const data: ListedModel[] = [];
  const ids = new Set<string>();
  const upstream = upstreamModels(options.upstream);
  if (upstream) {
    for (const model of upstream) {
      if (ids.has(model.id)) continue;
      ids.add(model.id);
      data.push(model);
    }
  }
  for (const entry of config.catalogue.entries) {
    if (upstream || ids.has(entry.name)) continue;
    ids.add(entry.name);
    data.push({
      id: entry.name,
      object: "model",
      created: 0,
      owned_by: OWNER[entry.family],
    });
  }
  for (const [alias, target] of config.aliases) {
    if (ids.has(alias)) continue;
    if (!ids.has(target) && !config.catalogue.byName.has(target)) continue;
    ids.add(alias);
    data.push({
      id: alias,
      object: "model",
      created: 0,
      owned_by: "flow-proxy",
      alias_of: target,
    });
  }
  return { object: "list", data };
}

/** The models of an upstream listing, or null when it is not one. */
function upstreamModels(value: unknown): ListedModel[] | null {
  if (typeof value !== "object" || value === null) return null;
  const data = (value as { data?: unknown }).data;
  if (!Array.isArray(data)) return null;
  const out: ListedModel[] = [];
  for (const item of data) {
    if (typeof item !== "object" || item === null) continue;
    const { id, created, owned_by: owner } = item as Record<string, unknown>;
    if (typeof id !== "string" || id === "") continue;
    out.push({
      ...(item as Record<string, unknown>),
      id,
      object: "model",
      created: typeof created === "number" ? created : 0,
      owned_by: typeof owner === "string" ? owner : "flow",
    });
  }
  return out;
}
