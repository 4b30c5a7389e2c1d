/**
 * What the Anthropic request rewrite needs to know about a model, and its
 * switches: the catalogue's own shapes (`types.ts`), narrowed to the fields
 * the rewrite reads, so a catalogue entry is passed as it is, as `model`,
 * and its `compat` as `switches`.
 */
import {
  type CompatSwitches,
  DEFAULT_COMPAT,
  type ModelEntry,
  type ThinkingType,
} from "./types.ts";

/** A `thinking.type` a model may take. */
export type CompatThinkingType = ThinkingType;

/** The facts about one Flow model the Anthropic request rewrite acts on. */
export type AnthropicCompatModel = Pick<
  ModelEntry,
  "name" | "family" | "outputLimit" | "thinking" | "betas" | "rejectsFields"
>;

/** What the rewrite does about each kind of field; `"pass"` leaves it. */
export type AnthropicCompatSwitches = CompatSwitches;

/** Every rule on: the default. */
export const DEFAULT_COMPAT_SWITCHES: Readonly<AnthropicCompatSwitches> =
  DEFAULT_COMPAT;
