/**
 * The Bedrock rules of the mock Flow (issue 14): the models Flow serves,
 * with their output limits and accepted `anthropic-beta` flags, and what
 * Bedrock refuses in an Anthropic request. Pure functions, each rule
 * switchable off.
 */

type Json = Record<string, unknown>;

/** One model Flow serves. */
export interface FlowModel {
  /** The API it is served on. */
  api: "anthropic" | "openai" | "gemini";
  /** Largest `max_tokens` accepted (Anthropic models). */
  maxOutputTokens?: number;
  /** `anthropic-beta` flags accepted (Anthropic models). */
  betas?: string[];
}

// The flags and limits below are those of src/models/catalogue.ts, the
// product's statement of what Flow's Bedrock models take (kept literal
// here, so a change to the catalogue must be made on purpose in both).
const BEDROCK_BETAS = [
  "interleaved-thinking-2025-05-14",
  "fine-grained-tool-streaming-2025-05-14",
  "computer-use-2025-01-24",
];
const SONNET_BETAS = [...BEDROCK_BETAS, "context-1m-2025-08-07"];
const NEWER_BETAS = [...BEDROCK_BETAS, "computer-use-2025-11-24"];

/** How a request for a model Flow does not serve is judged for the diff in `FlowRefusal.alsoBreaks`. */
export const GENERIC_BEDROCK_CLAUDE: FlowModel = {
  api: "anthropic",
  maxOutputTokens: 64_000,
  betas: BEDROCK_BETAS,
};

/** The models the mock serves by default: Flow's names, nothing else. */
export const FLOW_MODELS: Readonly<Record<string, FlowModel>> = {
  "anthropic.claude-4-5-haiku": {
    api: "anthropic",
    maxOutputTokens: 64_000,
    betas: BEDROCK_BETAS,
  },
  "anthropic.claude-4-5-sonnet": {
    api: "anthropic",
    maxOutputTokens: 64_000,
    betas: SONNET_BETAS,
  },
  "anthropic.claude-4-6-sonnet": {
    api: "anthropic",
    maxOutputTokens: 128_000,
    betas: NEWER_BETAS,
  },
  "anthropic.claude-4-6-opus": {
    api: "anthropic",
    maxOutputTokens: 128_000,
    betas: NEWER_BETAS,
  },
  "anthropic.claude-4-7-opus": {
    api: "anthropic",
    maxOutputTokens: 128_000,
    betas: [],
  },
  "gpt-4o": { api: "openai" },
  "gpt-4o-mini": { api: "openai" },
  "gpt-4.1": { api: "openai" },
  "gpt-5": { api: "openai" },
  "gpt-5-mini": { api: "openai" },
  "gemini-2.5-pro": { api: "gemini" },
};

/** The refusal rules; each is on unless set to false. */
export interface FlowRules {
  /** Unknown model names → 400 "no healthy deployment for model …". */
  knownModelsOnly?: boolean;
  /** `thinking: {type: "adaptive"}` → 400. */
  rejectAdaptiveThinking?: boolean;
  /** An `anthropic-beta` flag the model does not accept → 400 "invalid beta flag". */
  rejectUnknownBetas?: boolean;
  /** `context_management` in the body → 400. */
  rejectContextManagement?: boolean;
  /** A `role: "system"` entry inside `messages` → 400. */
  rejectSystemInMessages?: boolean;
  /** `max_tokens` above the model's output limit → 400. */
  rejectOversizedMaxTokens?: boolean;
  /** `output_config` in the body → 400 (off by default: not known either way). */
  rejectOutputConfig?: boolean;
  /**
   * `/v1/responses` for a model not of OpenAI's family (Claude, Gemini) →
   * 400, as LiteLLM's Bedrock and Vertex routes have no Responses API: a
   * Responses request passed through for such a model fails.
   */
  responsesForOpenAiOnly?: boolean;
  /**
   * A thinking Claude on the Chat route (`reasoning_effort` set) whose last
   * assistant turn calls tools without its signed `thinking_blocks` → 400,
   * as Anthropic refuses a tool_use turn that lost its thinking block.
   */
  requireThinkingBlocks?: boolean;
}

/** What Flow answers a Chat request for a thinking Claude whose tool turn lost its thinking. */
export function thinkingRefusal(
  model: FlowModel,
  body: Json,
  rules: FlowRules = {},
): FlowViolation | null {
  if (rules.requireThinkingBlocks === false || model.api !== "anthropic") {
    return null;
  }
  const effort = body.reasoning_effort;
  if (typeof effort !== "string" || effort === "none") return null;
  const messages = Array.isArray(body.messages) ? body.messages as Json[] : [];
  const at = messages.findLastIndex((m) => m.role === "assistant");
  const last = messages[at];
  if (
    !last || !Array.isArray(last.tool_calls) || last.tool_calls.length === 0
  ) {
    return null;
  }
  const blocks = Array.isArray(last.thinking_blocks)
    ? last.thinking_blocks as Json[]
    : [];
  if (
    blocks.some((b) => typeof b.signature === "string" && b.signature !== "")
  ) {
    return null;
  }
  return {
    rule: "requireThinkingBlocks",
    message:
      `BedrockException - messages.${at}.content.0.type: Expected \`thinking\` or \`redacted_thinking\`, but found \`tool_use\`. When \`thinking\` is enabled, a final \`assistant\` message must start with a thinking block`,
  };
}

/** What Flow answers a Responses request for a model not of OpenAI's family. */
export function responsesRefusal(
  name: string,
  model: FlowModel,
  rules: FlowRules = {},
): FlowViolation | null {
  if (rules.responsesForOpenAiOnly === false || model.api === "openai") {
    return null;
  }
  return {
    rule: "responsesForOpenAiOnly",
    message: `${
      model.api === "anthropic" ? "Bedrock" : "Vertex_ai"
    }Exception - the Responses API (/v1/responses) is not supported for model '${name}'; use /v1/chat/completions`,
  };
}

/** One Bedrock rule a request breaks. */
export interface FlowViolation {
  rule: keyof FlowRules;
  message: string;
}

/**
 * The first Bedrock rule an Anthropic request breaks (what Flow answers), or
 * null. Pure, for unit tests and for the mock itself.
 */
export function anthropicRefusal(
  model: FlowModel,
  body: Json,
  betaHeader: string | null,
  rules: FlowRules = {},
): FlowViolation | null {
  return anthropicViolations(model, body, betaHeader, rules)[0] ?? null;
}

/** Every Bedrock rule an Anthropic request breaks, in the order Flow checks them. */
export function anthropicViolations(
  model: FlowModel,
  body: Json,
  betaHeader: string | null,
  rules: FlowRules = {},
): FlowViolation[] {
  const found: FlowViolation[] = [];
  const add = (v: FlowViolation) => void found.push(v);
  const on = (rule: keyof FlowRules) =>
    rules[rule] ?? rule !== "rejectOutputConfig";
  const thinking = body.thinking as Json | undefined;
  if (on("rejectAdaptiveThinking") && thinking?.type === "adaptive") {
    add({
      rule: "rejectAdaptiveThinking",
      message:
        "BedrockException - thinking.type: Input tag 'adaptive' found using 'type' does not match any of the expected tags: 'disabled', 'enabled'",
    });
  }
  if (on("rejectUnknownBetas") && betaHeader) {
    const bad = betaHeader.split(",").map((f) => f.trim()).filter((f) =>
      f && !(model.betas ?? []).includes(f)
    );
    if (bad.length) {
      add({
        rule: "rejectUnknownBetas",
        message: `BedrockException - invalid beta flag: ${bad.join(",")}`,
      });
    }
  }
  if (on("rejectContextManagement") && "context_management" in body) {
    add({
      rule: "rejectContextManagement",
      message:
        "BedrockException - context_management: Extra inputs are not permitted",
    });
  }
  const messages = Array.isArray(body.messages) ? body.messages as Json[] : [];
  const system = messages.findIndex((m) => m.role === "system");
  if (on("rejectSystemInMessages") && system >= 0) {
    add({
      rule: "rejectSystemInMessages",
      message:
        `BedrockException - messages.${system}.role: Input should be 'user' or 'assistant'`,
    });
  }
  const limit = model.maxOutputTokens ?? Infinity;
  if (
    on("rejectOversizedMaxTokens") && typeof body.max_tokens === "number" &&
    body.max_tokens > limit
  ) {
    add({
      rule: "rejectOversizedMaxTokens",
      message:
        `BedrockException - max_tokens: ${body.max_tokens} > ${limit}, which is the maximum allowed number of output tokens`,
    });
  }
  if (on("rejectOutputConfig") && "output_config" in body) {
    add({
      rule: "rejectOutputConfig",
      message:
        "BedrockException - output_config: Extra inputs are not permitted",
    });
  }
  return found;
}
