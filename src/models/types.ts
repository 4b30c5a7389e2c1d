/**
 * The shapes shared by the models catalogue, the mapping, the configuration
 * file and the request rewrites, with the constant lists that enumerate them.
 */

/** The upstream API a request is made on (`count_tokens` counts as `messages`). */
export type ApiKind =
  | "messages"
  | "chat"
  | "responses"
  | "embeddings"
  | "gemini";

/** Every {@linkcode ApiKind}, in the order tables show them. */
export const API_KINDS: readonly ApiKind[] = [
  "messages",
  "chat",
  "responses",
  "embeddings",
  "gemini",
];

/** Who makes a model; decides which compatibility rewrites can apply. */
export type ModelFamily = "anthropic" | "openai" | "gemini" | "other";

/** Every {@linkcode ModelFamily}. */
export const MODEL_FAMILIES: readonly ModelFamily[] = [
  "anthropic",
  "openai",
  "gemini",
  "other",
];

/** A `thinking.type` of the Anthropic Messages API that a model accepts. */
export type ThinkingType = "enabled" | "adaptive";

/**
 * What flow-proxy does about each kind of request field an Anthropic model
 * on Bedrock may refuse. `"pass"` always means: send it as the client did.
 */
export interface CompatSwitches {
  /** `filter`: drop `anthropic-beta` flags the model does not accept. */
  betas: "filter" | "pass";
  /**
   * `convert`: a thinking type the model does not take becomes one it takes
   * (`adaptive` → `enabled` with a budget that fits `max_tokens`, `enabled`
   * → `adaptive`), or is removed when it takes none; `remove`: drop
   * `thinking` whenever the model does not take its type.
   */
  thinking: "convert" | "remove" | "pass";
  /** `remove`: drop `context_management` when the model rejects it. */
  contextManagement: "remove" | "pass";
  /** `move`: `role: "system"` entries of `messages` go to `system`. */
  systemMessages: "move" | "pass";
  /** `clamp`: `max_tokens` above the model's output limit becomes the limit. */
  maxTokens: "clamp" | "pass";
  /** `remove`: drop `output_config` when the model rejects it. */
  outputConfig: "remove" | "pass";
}

/** Every key of {@linkcode CompatSwitches} with the values it may take. */
export const COMPAT_VALUES: {
  readonly [K in keyof CompatSwitches]: readonly CompatSwitches[K][];
} = {
  betas: ["filter", "pass"],
  thinking: ["convert", "remove", "pass"],
  contextManagement: ["remove", "pass"],
  systemMessages: ["move", "pass"],
  maxTokens: ["clamp", "pass"],
  outputConfig: ["remove", "pass"],
};

/** The switches every model gets unless the configuration says otherwise. */
export const DEFAULT_COMPAT: Readonly<CompatSwitches> = Object.freeze({
  betas: "filter",
  thinking: "convert",
  contextManagement: "remove",
  systemMessages: "move",
  maxTokens: "clamp",
  outputConfig: "remove",
});

/** Every switch off: what the global `"compat": false` gives each model. */
export const COMPAT_OFF: Readonly<CompatSwitches> = Object.freeze({
  betas: "pass",
  thinking: "pass",
  contextManagement: "pass",
  systemMessages: "pass",
  maxTokens: "pass",
  outputConfig: "pass",
});

/**
 * What a model costs, per million tokens, in the configuration's currency:
 * fresh input, output, input read from the cache, input written to it.
 */
export interface ModelPrice {
  readonly input: number;
  readonly output: number;
  readonly cacheRead: number;
  readonly cacheWrite: number;
}

/** One model Flow serves, as flow-proxy knows it. */
export interface ModelEntry {
  /** Flow's name for it, the one sent upstream (`anthropic.claude-4-6-sonnet`). */
  readonly name: string;
  readonly family: ModelFamily;
  /** The APIs Flow serves it on. */
  readonly apis: readonly ApiKind[];
  /**
   * The API a request on another one is translated to (one of `apis`);
   * absent: Chat Completions when served, else the first that can be
   * reached (src/proxy/translation.ts).
   */
  readonly translateTo?: ApiKind;
  /** Its price; absent: unknown (spend is then shown as tokens only, never as 0). */
  readonly price?: ModelPrice;
  /** Input tokens the model takes. */
  readonly contextWindow: number;
  /** Most output tokens (`max_tokens`) the model takes. */
  readonly outputLimit: number;
  /** The `thinking.type`s it takes; empty when it takes no `thinking` at all. */
  readonly thinking: readonly ThinkingType[];
  /**
   * The `anthropic-beta` flags it accepts; an entry ending in `*` accepts
   * every flag that starts with what precedes it.
   */
  readonly betas: readonly string[];
  /**
   * Body fields it refuses: `context_management`, `output_config`, or a part
   * of one (`output_config.effort`, `output_config.format`).
   */
  readonly rejectsFields: readonly string[];
  /** The effective switches for this model. */
  readonly compat: Readonly<CompatSwitches>;
  /** True when the entry comes from the built-in catalogue unchanged. */
  readonly builtIn: boolean;
  /** Why a value is what it is, when it is an assumption. */
  readonly note?: string;
}

/** The models known to flow-proxy, by Flow name, in display order. */
export interface Catalogue {
  readonly entries: readonly ModelEntry[];
  readonly byName: ReadonlyMap<string, ModelEntry>;
}

/** A client model id pattern (`*` matches any run of characters). */
export interface PatternRule {
  /** The glob as written, e.g. `claude-*-haiku*`. */
  readonly match: string;
  /** The Flow name it maps to. */
  readonly model: string;
  /** The APIs it applies to; all when absent. */
  readonly apis?: readonly ApiKind[];
}

/** Everything the mapping and the rewrites need: built-in plus the file. */
export interface ModelsConfig {
  readonly catalogue: Catalogue;
  /** Exact client id → Flow name. */
  readonly aliases: ReadonlyMap<string, string>;
  /** The file's patterns, in file order. */
  readonly patterns: readonly PatternRule[];
  /** Whether the shipped family rules (Claude, `gpt-*`) apply. */
  readonly builtInRules: boolean;
  /** The model for an id that matches nothing, per API; absent: pass it through. */
  readonly defaults: Readonly<Partial<Record<ApiKind, string>>>;
  /** False when the global `"compat": false` turned every rewrite off. */
  readonly compat: boolean;
  /** The currency of every `price` (ISO 4217 code); `USD` unless the file says otherwise. */
  readonly currency: string;
  /** The file it came from, or null for the built-in configuration. */
  readonly source: string | null;
}
