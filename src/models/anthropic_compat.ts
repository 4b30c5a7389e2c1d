/**
 * Makes an Anthropic Messages request acceptable to an Anthropic model on
 * Flow (LiteLLM in front of AWS Bedrock), per model and per switch.
 *
 * Most requests need nothing, and Claude Code's are ~200 KB, so the decision
 * is made without parsing: one regular expression over the decoded text
 * finds the keys a rule could act on (`"thinking": {`, `"context_management"`,
 * `"output_config"`, `"role": "system"`, a `"max_tokens"` above the limit)
 * and the model is compared as sniffed. No hit means null, and the caller
 * forwards the original bytes. A hit can be a false alarm (a tool schema
 * with a `thinking` property); the parsed body then changes nothing and the
 * answer is still null.
 *
 * A changed body goes through JSON.parse → change → JSON.stringify: every
 * other field keeps its meaning and key order, but not its bytes. Escapes
 * become the characters they stand for, whitespace goes, and a number is
 * written the way JavaScript writes it (`1.0` → `1`, `1e3` → `1000`),
 * except a long one a double would change (an id in a tool input), which
 * is kept as written (see json_numbers.ts).
 *
 * A body that does not parse is forwarded unchanged (only the header is
 * filtered), so the client gets Flow's own error: Flow's Python parser takes
 * some bodies JSON.parse refuses (`NaN`), and a proxy-made 400 would hide
 * which side refused. Streaming is not touched: this is request-side only.
 */

import { sniffModel } from "./model_sniff.ts";
import {
  type NumberKeepingParse,
  parseKeepingNumbers,
} from "./json_numbers.ts";
import {
  type AnthropicCompatModel,
  type AnthropicCompatSwitches,
  DEFAULT_COMPAT_SWITCHES,
} from "./compat_types.ts";
import {
  betasNeedFilter,
  filterBetas,
  fixOutputConfig,
  fixThinking,
  isObject,
  type JsonObject,
  moveSystemMessages,
  printable,
  type Rewrite,
} from "./anthropic_rules.ts";

export type { Rewrite, RewriteKind } from "./anthropic_rules.ts";
export {
  EFFORT_BUDGET_SHARE,
  MIN_THINKING_BUDGET,
  REWRITE_KINDS,
  thinkingBudget,
} from "./anthropic_rules.ts";

/** Options of {@linkcode rewriteAnthropicRequest}. */
export interface AnthropicRewriteOptions {
  /** The target model's facts (from the catalogue, after mapping). */
  model: AnthropicCompatModel;
  /** The Flow name to set as `model`; defaults to `model.name`. */
  flowModel?: string;
  /** The request's `anthropic-beta` header, or null when it has none. */
  betaHeader: string | null;
  /** What to do about each kind of field; every rule is on by default. */
  switches?: Partial<AnthropicCompatSwitches>;
  /** Whether to set `model` to the Flow name; default true. */
  setModel?: boolean;
  /**
   * `/v1/messages` (default) or `/v1/messages/count_tokens`, which takes no
   * `max_tokens`: it is not clamped, and a converted thinking budget is
   * sized on the model's output limit instead.
   */
  endpoint?: "messages" | "count_tokens";
  /**
   * The body's top-level `model` if the caller has sniffed it already
   * (null: none); sniffed here when left out.
   */
  requestedModel?: string | null;
}

/** A request that needs changing, as it should be sent. */
export interface AnthropicRewrite {
  /** The body to send: the very input array when only the header changed. */
  body: Uint8Array;
  /** The `anthropic-beta` value to send; null: send none. */
  betaHeader: string | null;
  /** What was changed, in the order it was done; never empty. */
  rewrites: Rewrite[];
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();
/**
 * The keys a rule may act on, with the start of their value. `"role"` and
 * `"max_tokens"` are common; their values are checked in {@linkcode hits}.
 */
const TRIGGER =
  /"(thinking|context_management|output_config|role|max_tokens)"[ \t\r\n]*:[ \t\r\n]*(?:(\{)|("system")|(\d{1,15}(?![\d.eE]))|)/g;

/**
 * What has to change for the request to be acceptable to `options.model`;
 * null when nothing does (then forward the original body and header). Only
 * `anthropic`-family models are ever touched. See the module doc for how
 * the body is (not) parsed.
 */
export function rewriteAnthropicRequest(
  body: Uint8Array,
  options: AnthropicRewriteOptions,
): AnthropicRewrite | null {
  const { model } = options;
  if (model.family !== "anthropic") return null;
  const switches = { ...DEFAULT_COMPAT_SWITCHES, ...options.switches };
  const flowModel = options.flowModel ?? model.name;
  const countTokens = options.endpoint === "count_tokens";
  const header = options.betaHeader;
  const headerChanges = switches.betas === "filter" && header !== null &&
    betasNeedFilter(header, model);
  const requested = options.requestedModel !== undefined
    ? options.requestedModel
    : sniffModel(body).model;
  const setModel = options.setModel ?? true;
  const modelChanges = setModel && requested !== flowModel;
  const text = decoder.decode(body);
  const bodyChanges = modelChanges || hits(text, model, switches, countTokens);
  if (!headerChanges && !bodyChanges) return null;

  const rewrites: Rewrite[] = [];
  let betaHeader = header;
  if (headerChanges) {
    const filtered = filterBetas(header, model);
    betaHeader = filtered.header;
    rewrites.push(...filtered.rewrites);
  }
  if (!bodyChanges) return { body, betaHeader, rewrites };
  const parsing = parse(text);
  const parsed = parsing?.value;
  if (!isObject(parsed)) {
    return rewrites.length === 0 ? null : { body, betaHeader, rewrites };
  }
  const bodyRewrites = rewriteBody(parsed, {
    model,
    flowModel: setModel ? flowModel : null,
    switches,
    countTokens,
  });
  if (bodyRewrites.length === 0) {
    return rewrites.length === 0 ? null : { body, betaHeader, rewrites };
  }
  // The model comes first in the DEBUG line, then the header, then the body.
  const modelFirst = bodyRewrites[0].kind === "model" ? 1 : 0;
  rewrites.unshift(...bodyRewrites.slice(0, modelFirst));
  rewrites.push(...bodyRewrites.slice(modelFirst));
  return {
    body: encoder.encode(parsing!.stringify(parsed)),
    betaHeader,
    rewrites,
  };
}

/**
 * The DEBUG line for a rewrite, e.g. `Rewrote request for
 * 'anthropic.claude-4-6-sonnet': dropped beta context-management-2025-06-27,
 * removed context_management`.
 */
export function formatRewriteLine(
  flowModel: string,
  rewrites: readonly Rewrite[],
): string {
  return `Rewrote request for '${flowModel}': ${
    rewrites.map((r) => r.detail).join(", ")
  }`;
}

/** Whether the text holds something a switched-on rule may change. */
function hits(
  text: string,
  model: AnthropicCompatModel,
  switches: AnthropicCompatSwitches,
  countTokens: boolean,
): boolean {
  const rejected = model.rejectsFields;
  const wantThinking = switches.thinking !== "pass";
  const wantContext = switches.contextManagement === "remove" &&
    rejected.includes("context_management");
  const wantOutput = switches.outputConfig === "remove" &&
    rejected.some((field) =>
      field === "output_config" || field.startsWith("output_config.")
    );
  const wantSystem = switches.systemMessages === "move";
  const wantMax = switches.maxTokens === "clamp" && !countTokens;
  TRIGGER.lastIndex = 0;
  for (let m = TRIGGER.exec(text); m !== null; m = TRIGGER.exec(text)) {
    switch (m[1]) {
      case "thinking":
        if (
          wantThinking && m[2] !== undefined &&
          !takesThinking(text, TRIGGER.lastIndex, model)
        ) return true;
        break;
      case "context_management":
        if (wantContext) return true;
        break;
      case "output_config":
        if (wantOutput) return true;
        break;
      case "role":
        if (wantSystem && m[3] !== undefined) return true;
        break;
      case "max_tokens":
        // Anything but a short plain integer is looked at after parsing.
        if (
          wantMax &&
          (m[4] === undefined || Number(m[4]) > model.outputLimit)
        ) return true;
        break;
    }
  }
  return false;
}

/** `"type": "…"` first in a thinking object. */
const THINKING_TYPE = /[ \t\r\n]*"type"[ \t\r\n]*:[ \t\r\n]*"([a-z]+)"/y;

/**
 * Whether the thinking object opening before `at` starts with a type the
 * model takes as it is (or `disabled`), so it needs nothing unless
 * `max_tokens` is clamped, which is a trigger of its own.
 */
function takesThinking(
  text: string,
  at: number,
  model: AnthropicCompatModel,
): boolean {
  if (model.thinking.length === 0) return false;
  THINKING_TYPE.lastIndex = at;
  const type = THINKING_TYPE.exec(text)?.[1];
  return type === "disabled" ||
    (type !== undefined && model.thinking.includes(type as "enabled"));
}

interface BodyContext {
  model: AnthropicCompatModel;
  /** Null: leave `model` as it is. */
  flowModel: string | null;
  switches: AnthropicCompatSwitches;
  countTokens: boolean;
}

/** Applies every switched-on rule to the parsed body, in a fixed order. */
function rewriteBody(body: JsonObject, context: BodyContext): Rewrite[] {
  const { model, flowModel, switches, countTokens } = context;
  const rewrites: Rewrite[] = [];
  if (flowModel !== null && body.model !== flowModel) {
    rewrites.push({
      kind: "model",
      detail: typeof body.model === "string"
        ? `mapped model ${printable(body.model)} to ${flowModel}`
        : `set model ${flowModel}`,
    });
    body.model = flowModel;
  }
  let clampedFrom: number | null = null;
  const maxTokens = body.max_tokens;
  if (
    switches.maxTokens === "clamp" && !countTokens &&
    typeof maxTokens === "number" && maxTokens > model.outputLimit
  ) {
    clampedFrom = maxTokens;
    body.max_tokens = model.outputLimit;
    rewrites.push({
      kind: "max_tokens",
      detail: `clamped max_tokens ${maxTokens} to ${model.outputLimit}`,
    });
  }
  // Read before output_config may lose it: it sizes a converted budget.
  const effort = isObject(body.output_config)
    ? body.output_config.effort
    : undefined;
  if (switches.thinking !== "pass") {
    const ceiling = countTokens
      ? model.outputLimit
      : typeof body.max_tokens === "number"
      ? body.max_tokens
      : null;
    rewrites.push(
      ...fixThinking(body, model, {
        mode: switches.thinking,
        ceiling,
        clampedFrom,
        effort,
      }),
    );
  }
  if (
    switches.contextManagement === "remove" &&
    body.context_management !== undefined &&
    model.rejectsFields.includes("context_management")
  ) {
    delete body.context_management;
    rewrites.push({
      kind: "context_management",
      detail: "removed context_management",
    });
  }
  if (switches.outputConfig === "remove") {
    rewrites.push(...fixOutputConfig(body, model));
  }
  if (switches.systemMessages === "move") {
    rewrites.push(...moveSystemMessages(body));
  }
  return rewrites;
}

/** The parsed body, or undefined when it is not JSON. */
function parse(text: string): NumberKeepingParse | undefined {
  try {
    return parseKeepingNumbers(text);
  } catch {
    return undefined;
  }
}
