/**
 * What the Anthropic request rewrite needs to know about a model, and its
 * switches. Both are structural subsets of `ModelEntry` and `CompatSwitches`
 * in `types.ts` (the catalogue's shapes), kept here so the rewrite depends
 * on nothing else: a catalogue entry is passed as it is, as `model`, and its
 * `compat` as `switches`.
 */

/** A `thinking.type` a model may take. */
export type CompatThinkingType = "enabled" | "adaptive";

/** The facts about one Flow model the Anthropic request rewrite acts on. */
export interface AnthropicCompatModel {
  /** Flow's name for the model, e.g. `anthropic.claude-4-6-sonnet`. */
  readonly name: string;
  /** Model family; only `"anthropic"` models are ever rewritten. */
  readonly family: string;
  /** Largest `max_tokens` the model takes. */
  readonly outputLimit: number;
  /** The `thinking.type`s it takes; empty when it takes no `thinking`. */
  readonly thinking: readonly CompatThinkingType[];
  /**
   * The `anthropic-beta` flags the model accepts; an entry ending in `*`
   * accepts every flag that starts with what precedes it.
   */
  readonly betas: readonly string[];
  /**
   * Body fields the model refuses. Acted on: `context_management`,
   * `output_config`, and the finer `output_config.effort` and
   * `output_config.format` (only that part goes).
   */
  readonly rejectsFields: readonly string[];
}

/** What the rewrite does about each kind of field; `"pass"` leaves it. */
export interface AnthropicCompatSwitches {
  /** `filter`: drop `anthropic-beta` flags the model does not accept. */
  betas: "filter" | "pass";
  /**
   * `convert`: a thinking type the model does not take becomes one it takes
   * (`adaptive` → `enabled` with a budget that fits `max_tokens`,
   * `enabled` → `adaptive`), or is removed when it takes none; `remove`:
   * drop `thinking` whenever the model does not take its type.
   */
  thinking: "convert" | "remove" | "pass";
  /** `remove`: drop `context_management` when the model rejects it. */
  contextManagement: "remove" | "pass";
  /** `move`: `role: "system"` entries of `messages` leave `messages`. */
  systemMessages: "move" | "pass";
  /** `clamp`: `max_tokens` above the model's output limit becomes the limit. */
  maxTokens: "clamp" | "pass";
  /** `remove`: drop the parts of `output_config` the model rejects. */
  outputConfig: "remove" | "pass";
}

/** Every rule on: the default. */
export const DEFAULT_COMPAT_SWITCHES: Readonly<AnthropicCompatSwitches> = Object
  .freeze({
    betas: "filter",
    thinking: "convert",
    contextManagement: "remove",
    systemMessages: "move",
    maxTokens: "clamp",
    outputConfig: "remove",
  });
