/**
 * The rules of the Anthropic request rewrite, each on a parsed body. Internal
 * to {@link ./anthropic_compat.ts}: every function takes the body object (or
 * the header), changes it in place and returns what it did.
 */

import type { AnthropicCompatModel } from "./compat_types.ts";
import { REWRITE_KINDS, type RewriteKind } from "../base/rewrite_kinds.ts";

export { REWRITE_KINDS, type RewriteKind };

/** One change made to a request, with a human detail for the DEBUG line. */
export interface Rewrite {
  /** What was changed. */
  kind: RewriteKind;
  /** What happened, e.g. `dropped beta context-management-2025-06-27`. */
  detail: string;
}

/** A JSON object as JSON.parse gives it. */
export type JsonObject = Record<string, unknown>;

/** Smallest `budget_tokens` Anthropic takes. */
export const MIN_THINKING_BUDGET = 1024;

/**
 * Share of `max_tokens` given to thinking when adaptive thinking becomes
 * `enabled`, by the request's `output_config.effort` (absent: `high`, the
 * API's default effort). `max` and `xhigh` give all but one token.
 */
export const EFFORT_BUDGET_SHARE: Readonly<Record<string, number>> = Object
  .freeze({ low: 0.25, medium: 0.5, high: 0.75, xhigh: 1, max: 1 });

/**
 * The thinking budget for a ceiling of `maxTokens` output tokens at an
 * effort: `min(maxTokens - 1, max(1024, floor(maxTokens × share)))`, or null
 * when `maxTokens` leaves no room for the 1024-token minimum.
 */
export function thinkingBudget(
  maxTokens: number,
  effort: unknown,
): number | null {
  if (maxTokens - 1 < MIN_THINKING_BUDGET) return null;
  const share = (typeof effort === "string" && EFFORT_BUDGET_SHARE[effort]) ||
    EFFORT_BUDGET_SHARE.high;
  return Math.min(
    maxTokens - 1,
    Math.max(MIN_THINKING_BUDGET, Math.floor(maxTokens * share)),
  );
}

/** Whether a beta flag is one the model accepts. */
export function acceptsBeta(
  model: AnthropicCompatModel,
  flag: string,
): boolean {
  for (const accepted of model.betas) {
    if (accepted === flag) return true;
    if (
      accepted.endsWith("*") && flag.startsWith(accepted.slice(0, -1))
    ) return true;
  }
  return false;
}

/**
 * The `anthropic-beta` value with only the flags the model accepts (null
 * when none is left), and one rewrite per dropped flag. Empty entries and
 * the space around commas are not kept; a repeated flag is kept once.
 */
export function filterBetas(
  header: string,
  model: AnthropicCompatModel,
): { header: string | null; rewrites: Rewrite[] } {
  const kept: string[] = [];
  const rewrites: Rewrite[] = [];
  for (const raw of header.split(",")) {
    const flag = raw.trim();
    if (flag === "" || kept.includes(flag)) continue;
    if (acceptsBeta(model, flag)) kept.push(flag);
    else {rewrites.push({
        kind: "beta",
        detail: `dropped beta ${printable(flag)}`,
      });}
  }
  return { header: kept.length === 0 ? null : kept.join(","), rewrites };
}

/** Whether the header holds a flag the model does not accept. */
export function betasNeedFilter(
  header: string,
  model: AnthropicCompatModel,
): boolean {
  for (const raw of header.split(",")) {
    const flag = raw.trim();
    if (flag !== "" && !acceptsBeta(model, flag)) return true;
  }
  return false;
}

/**
 * Makes `thinking` what the model takes (see the `thinking` switch in
 * compat_types.ts). `ceiling` is the request's
 * `max_tokens` after clamping (for count_tokens, the model's limit);
 * `clampedFrom` the value it had before a clamp, if there was one.
 */
export function fixThinking(
  body: JsonObject,
  model: AnthropicCompatModel,
  options: {
    mode: "convert" | "remove";
    ceiling: number | null;
    clampedFrom: number | null;
    effort: unknown;
  },
): Rewrite[] {
  const thinking = body.thinking;
  if (thinking === undefined) return [];
  const takes = model.thinking;
  if (takes.length === 0) {
    delete body.thinking;
    return [{
      kind: "thinking",
      detail: "removed thinking: the model takes no thinking",
    }];
  }
  if (!isObject(thinking) || thinking.type === "disabled") return [];
  const { ceiling, clampedFrom } = options;
  const type = thinking.type;
  if (typeof type === "string" && takes.includes(type as "enabled")) {
    return type === "enabled"
      ? fitBudget(body, thinking, ceiling, clampedFrom)
      : [];
  }
  if (options.mode === "remove") {
    delete body.thinking;
    return [{
      kind: "thinking",
      detail: `removed thinking: the model does not take ${printable(type)}`,
    }];
  }
  if (type === "adaptive" && takes.includes("enabled")) {
    const budget = ceiling === null
      ? null
      : thinkingBudget(ceiling, options.effort);
    if (budget === null) {
      delete body.thinking;
      return [{
        kind: "thinking",
        detail:
          `removed adaptive thinking: max_tokens ${ceiling} leaves no room for a ${MIN_THINKING_BUDGET}-token budget`,
      }];
    }
    body.thinking = { type: "enabled", budget_tokens: budget };
    return [{
      kind: "thinking",
      detail:
        `converted thinking adaptive to enabled (budget_tokens ${budget})`,
    }];
  }
  if (type === "enabled" && takes.includes("adaptive")) {
    body.thinking = { type: "adaptive" };
    return [{
      kind: "thinking",
      detail: "converted thinking enabled to adaptive",
    }];
  }
  delete body.thinking;
  return [{
    kind: "thinking",
    detail: `removed thinking: the model does not take ${printable(type)}`,
  }];
}

/**
 * Lowers an `enabled` budget a clamp of `max_tokens` left too big. Only a
 * budget that fitted before the clamp is touched: one above the client's
 * own `max_tokens` is its choice (interleaved thinking allows it).
 */
function fitBudget(
  body: JsonObject,
  thinking: JsonObject,
  ceiling: number | null,
  clampedFrom: number | null,
): Rewrite[] {
  const budget = thinking.budget_tokens;
  if (
    typeof budget !== "number" || ceiling === null || clampedFrom === null ||
    budget < ceiling || budget >= clampedFrom
  ) return [];
  if (ceiling - 1 < MIN_THINKING_BUDGET) {
    delete body.thinking;
    return [{
      kind: "thinking",
      detail:
        `removed thinking: max_tokens ${ceiling} leaves no room for a ${MIN_THINKING_BUDGET}-token budget`,
    }];
  }
  thinking.budget_tokens = ceiling - 1;
  return [{
    kind: "thinking",
    detail: `lowered thinking budget_tokens ${budget} to ${ceiling - 1}`,
  }];
}

/** Removes the parts of `output_config` the model rejects. */
export function fixOutputConfig(
  body: JsonObject,
  model: AnthropicCompatModel,
): Rewrite[] {
  const config = body.output_config;
  if (config === undefined) return [];
  const rejected = model.rejectsFields;
  if (rejected.includes("output_config")) {
    delete body.output_config;
    const parts = isObject(config) ? Object.keys(config) : [];
    return [{
      kind: "output_config",
      detail: parts.length === 0
        ? "removed output_config"
        : `removed output_config (${
          parts.map((part) => describePart(printable(part))).join(", ")
        })`,
    }];
  }
  if (!isObject(config)) return [];
  const rewrites: Rewrite[] = [];
  for (const part of ["effort", "format"] as const) {
    if (
      config[part] !== undefined && rejected.includes(`output_config.${part}`)
    ) {
      delete config[part];
      rewrites.push({
        kind: "output_config",
        detail: `removed output_config.${describePart(part)}`,
      });
    }
  }
  if (rewrites.length > 0 && Object.keys(config).length === 0) {
    delete body.output_config;
  }
  return rewrites;
}

function describePart(part: string): string {
  return part === "format"
    ? "format: structured output, the answer is not schema-constrained"
    : part;
}

/**
 * Takes the `role: "system"` entries out of `messages`, keeping where they
 * stand in the conversation:
 * - those before the first user or assistant turn (text only) are appended,
 *   in order, to the top-level `system` (a string `system` becomes one text
 *   block first);
 * - a later one is appended to the preceding user turn; after an assistant
 *   turn it goes to the start of the next user turn (after that turn's
 *   `tool_result` blocks, which must come first); with no user turn next it
 *   becomes a user turn of its own.
 * Blocks move as they are (`cache_control` kept); a string content becomes
 * one text block, an empty one is dropped. User and assistant turns keep
 * their order.
 */
export function moveSystemMessages(body: JsonObject): Rewrite[] {
  const messages = body.messages;
  if (!Array.isArray(messages)) return [];
  if (!messages.some((m) => isObject(m) && m.role === "system")) return [];
  const rewrites: Rewrite[] = [];
  const out: unknown[] = [];
  const toSystem: unknown[] = [];
  // Blocks waiting for the next user turn, with their original indices.
  let pending: unknown[] = [];
  let pendingFrom: number[] = [];
  let leading = true;
  for (let i = 0; i < messages.length; i++) {
    const message = messages[i];
    if (!isObject(message) || message.role !== "system") {
      if (isObject(message) && message.role === "user" && pending.length > 0) {
        message.content = prependBlocks(message.content, pending);
        for (const from of pendingFrom) {
          rewrites.push({
            kind: "system_message",
            detail: `merged system message ${from} into user message ${i}`,
          });
        }
        pending = [];
        pendingFrom = [];
      } else if (pending.length > 0) {
        flushPending();
      }
      leading = false;
      out.push(message);
      continue;
    }
    const blocks = toBlocks(message.content);
    if (leading && blocks.every(isTextBlock)) {
      toSystem.push(...blocks);
      rewrites.push({
        kind: "system_message",
        detail: `moved system message ${i} into system`,
      });
      continue;
    }
    const previous = out.at(-1);
    if (
      pending.length === 0 && isObject(previous) && previous.role === "user"
    ) {
      previous.content = [...toBlocks(previous.content), ...blocks];
      rewrites.push({
        kind: "system_message",
        detail: `merged system message ${i} into user message ${
          messages.indexOf(previous)
        }`,
      });
      continue;
    }
    pending.push(...blocks);
    pendingFrom.push(i);
  }
  if (pending.length > 0) flushPending();
  body.messages = out;
  if (toSystem.length > 0) {
    const system = body.system;
    body.system = [
      ...(system === undefined || system === "" ? [] : toBlocks(system)),
      ...toSystem,
    ];
  }
  return rewrites;

  function flushPending() {
    out.push({ role: "user", content: pending });
    for (const from of pendingFrom) {
      rewrites.push({
        kind: "system_message",
        detail: `turned system message ${from} into a user message`,
      });
    }
    pending = [];
    pendingFrom = [];
  }
}

/** A message content or `system` as a list of blocks. */
function toBlocks(content: unknown): unknown[] {
  if (typeof content === "string") {
    return content === "" ? [] : [{ type: "text", text: content }];
  }
  if (Array.isArray(content)) return content;
  return content === undefined || content === null ? [] : [content];
}

/** `blocks` at the start of a user content, after its tool results. */
function prependBlocks(content: unknown, blocks: unknown[]): unknown[] {
  const existing = toBlocks(content);
  let at = 0;
  while (
    at < existing.length && isObject(existing[at]) &&
    (existing[at] as JsonObject).type === "tool_result"
  ) at++;
  return [...existing.slice(0, at), ...blocks, ...existing.slice(at)];
}

function isTextBlock(block: unknown): boolean {
  return isObject(block) && block.type === "text";
}

/**
 * A client's value as it may go into a log line: a string without control
 * characters (no forged lines), at most 100 characters.
 */
export function printable(value: unknown): string {
  const text = typeof value === "string" ? value : JSON.stringify(value) ?? "";
  // deno-lint-ignore no-control-regex
  const clean = text.replace(/[\u0000-\u001f\u007f]/g, "?");
  return clean.length > 100 ? clean.slice(0, 99) + "…" : clean;
}

/** Whether a parsed JSON value is an object (not an array or null). */
export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
