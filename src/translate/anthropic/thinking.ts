/**
 * Anthropic's thinking and the hub's reasoning, both ways: a
 * `reasoning_effort` is a fixed `budget_tokens` (LiteLLM's own mapping for
 * Claude, `minimal` raised to Anthropic's 1024-token minimum), and a budget
 * is the effort whose budget it does not exceed, so effort → budget →
 * effort keeps `low`, `medium` and `high`.
 */
import type { Json } from "../types.ts";

/** Anthropic's smallest thinking budget. */
export const MIN_BUDGET_TOKENS = 1024;

/** `budget_tokens` per `reasoning_effort`. */
export const EFFORT_BUDGET: Readonly<Record<string, number>> = Object.freeze({
  minimal: 1024,
  low: 1024,
  medium: 2048,
  high: 4096,
});

/** `output_config.effort` of adaptive thinking as a `reasoning_effort`. */
const ADAPTIVE_EFFORT: Readonly<Record<string, string>> = Object.freeze({
  low: "low",
  medium: "medium",
  high: "high",
  xhigh: "high",
  max: "high",
});

/**
 * A request's `thinking` (and `output_config.effort`, for adaptive
 * thinking) as a `reasoning_effort`: a budget up to 1024 is `low`, up to
 * 2048 `medium`, more `high`; adaptive thinking takes its effort (`max`
 * and `xhigh` are `high`; none: `high`, the API's default). Null when
 * thinking is off or not understood.
 */
export function effortForThinking(
  thinking: unknown,
  outputConfig: unknown,
): string | null {
  if (thinking === null || typeof thinking !== "object") return null;
  const t = thinking as Json;
  if (t.type === "enabled") {
    const budget = typeof t.budget_tokens === "number" ? t.budget_tokens : 0;
    if (budget <= EFFORT_BUDGET.low) return "low";
    return budget <= EFFORT_BUDGET.medium ? "medium" : "high";
  }
  if (t.type === "adaptive") {
    const effort = (outputConfig as Json | null | undefined)?.effort;
    return (typeof effort === "string" && ADAPTIVE_EFFORT[effort]) || "high";
  }
  return null;
}

/**
 * Chat models that take `reasoning_effort`: OpenAI's reasoning models, Claude
 * (LiteLLM turns it into thinking) and Gemini 2.5 and later.
 */
const REASONING_MODEL =
  /^(?:[\w.-]+\/)?(?:gpt-5|o\d)|claude|gemini-(?:2\.5|[3-9])/i;

/** Whether a Chat model (by Flow name) takes `reasoning_effort`. */
export function takesReasoning(model: string): boolean {
  return REASONING_MODEL.test(model);
}

/**
 * Whether a Chat model can use Anthropic's signed thinking blocks sent back
 * (`thinking_blocks`): Claude only; a signature means nothing to others.
 */
export function keepsThinkingBlocks(model: string): boolean {
  return /claude/i.test(model);
}
