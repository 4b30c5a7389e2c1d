/**
 * What the request rewrite needs to know about a model and which of its
 * rules are switched on. A minimal interface of its own so the rewrite does
 * not depend on the catalogue's full entry type: a catalogue entry is turned
 * into an {@linkcode AnthropicCompatModel} with a few field copies.
 */

/**
 * Names accepted in {@linkcode AnthropicCompatModel.rejectedFields}: a
 * top-level body field, a field of `output_config`, or `system_messages` for
 * a `role: "system"` entry inside `messages`.
 */
export type RejectableField =
  | "context_management"
  | "output_config"
  | "output_config.effort"
  | "output_config.format"
  | "system_messages";

/** The facts about one Flow model the Anthropic request rewrite acts on. */
export interface AnthropicCompatModel {
  /** Flow's name for the model, e.g. `anthropic.claude-4-6-sonnet`. */
  name: string;
  /** Model family; only `"anthropic"` models are ever rewritten. */
  family: string;
  /** Largest `max_tokens` the model takes. */
  maxOutputTokens: number;
  /**
   * The `anthropic-beta` flags the model accepts; an entry ending in `*`
   * accepts every flag that starts with what precedes it.
   */
  betas: readonly string[];
  /** Whether the model takes extended thinking (`enabled` with a budget). */
  thinking: boolean;
  /** Body fields the model refuses; see {@linkcode RejectableField}. */
  rejectedFields: readonly RejectableField[];
}

/** Which rewrite rules are on; each one is on unless switched off. */
export interface AnthropicCompatSwitches {
  /** Filter `anthropic-beta` to the flags the model accepts. */
  betas: boolean;
  /** Convert adaptive thinking, or remove thinking the model cannot take. */
  thinking: boolean;
  /** Remove `context_management` where the model rejects it. */
  contextManagement: boolean;
  /** Move `role: "system"` messages out of `messages` where rejected. */
  systemMessages: boolean;
  /** Clamp `max_tokens` to the model's output limit. */
  maxTokens: boolean;
  /** Remove the parts of `output_config` the model rejects. */
  outputConfig: boolean;
  /** Set `model` to the Flow name. */
  model: boolean;
}

/** Every rule on: the default. */
export const ALL_COMPAT_SWITCHES: Readonly<AnthropicCompatSwitches> = Object
  .freeze({
    betas: true,
    thinking: true,
    contextManagement: true,
    systemMessages: true,
    maxTokens: true,
    outputConfig: true,
    model: true,
  });

/**
 * What Bedrock is known or likely to reject in an Anthropic body (issue 14),
 * for catalogue entries that do not say otherwise.
 */
export const BEDROCK_REJECTED_FIELDS: readonly RejectableField[] = Object
  .freeze([
    "context_management",
    "output_config",
    "system_messages",
  ]);
