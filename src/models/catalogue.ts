/**
 * The built-in catalogue of Flow's models: what works with no configuration
 * file at all.
 *
 * Sources and assumptions (checked 2026-12-02):
 * - Names: the models Flow is known to serve (issue 14).
 * - Limits: Anthropic's model pages and AWS Bedrock's model cards — Haiku 4.5
 *   and Sonnet 4.5: 200K context, 64K output; Sonnet 4.6, Opus 4.6 and
 *   Opus 4.7: 1M context, 128K output. Sonnet 4.5 reaches 1M only with the
 *   `context-1m-2025-08-07` beta, so its window is given as 200K.
 * - Thinking: Flow (LiteLLM in front of Bedrock) refuses `thinking.type:
 *   "adaptive"` (issue 14), so no model lists it. Bedrock refuses
 *   `"enabled"` with `budget_tokens` on Opus 4.7 (its model card: "adaptive"
 *   only), so Opus 4.7 takes no thinking through Flow at all; the others take
 *   `"enabled"`. A Flow that learns `"adaptive"` needs only a file entry.
 * - Beta flags: Bedrock takes only a known list (AWS's list as quoted by
 *   LiteLLM's Bedrock beta filter: computer-use, token-efficient-tools,
 *   interleaved-thinking, output-128k, context-1m, context-management,
 *   effort, tool-search-tool, tool-examples) and answers 400 "invalid beta
 *   flag" for the rest; Opus 4.7 on Bedrock was reported to refuse every flag
 *   but `interleaved-thinking` (Claude Code's tracker). The lists below keep
 *   only the flags that still change something on Claude 4.5+ and that Flow
 *   is not known to refuse: `token-efficient-tools` and `output-128k` are
 *   Claude 3.7 features, `context-management` and `effort` go with the body
 *   fields Flow refuses, and Opus 4.7 gets none (without thinking,
 *   `interleaved-thinking` does nothing). Any list can be replaced by a file.
 * - Body fields: `context_management` and `output_config` are taken as
 *   refused by every Anthropic model on Flow (issue 14: "treat as likely").
 * - OpenAI and Gemini limits: the providers' model pages. The embeddings
 *   models are an assumption: Flow is believed to serve them, unconfirmed.
 */
import {
  type ApiKind,
  type Catalogue,
  DEFAULT_COMPAT,
  type ModelEntry,
  type ModelFamily,
  type ThinkingType,
} from "./types.ts";

const ANTHROPIC_APIS: readonly ApiKind[] = ["messages", "chat"];
const OPENAI_APIS: readonly ApiKind[] = ["chat", "responses"];
const CHAT_ONLY: readonly ApiKind[] = ["chat"];
const EMBEDDINGS: readonly ApiKind[] = ["embeddings"];

const BEDROCK_REFUSED_FIELDS = ["context_management", "output_config"];
/** Flags every Claude 4.5/4.6 model on Bedrock takes that still do something. */
const CLAUDE_4_BETAS = [
  "interleaved-thinking-2025-05-14",
  "fine-grained-tool-streaming-2025-05-14",
  "computer-use-2025-01-24",
];

interface Spec {
  name: string;
  family: ModelFamily;
  apis: readonly ApiKind[];
  contextWindow: number;
  outputLimit: number;
  thinking?: ThinkingType[];
  betas?: string[];
  rejectsFields?: string[];
  note?: string;
}

const SPECS: readonly Spec[] = [
  {
    name: "anthropic.claude-4-5-haiku",
    family: "anthropic",
    apis: ANTHROPIC_APIS,
    contextWindow: 200_000,
    outputLimit: 64_000,
    thinking: ["enabled"],
    betas: CLAUDE_4_BETAS,
    rejectsFields: BEDROCK_REFUSED_FIELDS,
  },
  {
    name: "anthropic.claude-4-5-sonnet",
    family: "anthropic",
    apis: ANTHROPIC_APIS,
    contextWindow: 200_000,
    outputLimit: 64_000,
    thinking: ["enabled"],
    betas: [...CLAUDE_4_BETAS, "context-1m-2025-08-07"],
    rejectsFields: BEDROCK_REFUSED_FIELDS,
    note: "1M context with the context-1m-2025-08-07 beta",
  },
  {
    name: "anthropic.claude-4-6-sonnet",
    family: "anthropic",
    apis: ANTHROPIC_APIS,
    contextWindow: 1_000_000,
    outputLimit: 128_000,
    thinking: ["enabled"],
    betas: [...CLAUDE_4_BETAS, "computer-use-2025-11-24"],
    rejectsFields: BEDROCK_REFUSED_FIELDS,
  },
  {
    name: "anthropic.claude-4-6-opus",
    family: "anthropic",
    apis: ANTHROPIC_APIS,
    contextWindow: 1_000_000,
    outputLimit: 128_000,
    thinking: ["enabled"],
    betas: [...CLAUDE_4_BETAS, "computer-use-2025-11-24"],
    rejectsFields: BEDROCK_REFUSED_FIELDS,
  },
  {
    name: "anthropic.claude-4-7-opus",
    family: "anthropic",
    apis: ANTHROPIC_APIS,
    contextWindow: 1_000_000,
    outputLimit: 128_000,
    thinking: [],
    betas: [],
    rejectsFields: BEDROCK_REFUSED_FIELDS,
    note:
      "Bedrock takes only adaptive thinking here and Flow refuses adaptive: thinking is removed",
  },
  {
    name: "gpt-4o",
    family: "openai",
    apis: OPENAI_APIS,
    contextWindow: 128_000,
    outputLimit: 16_384,
  },
  {
    name: "gpt-4o-mini",
    family: "openai",
    apis: OPENAI_APIS,
    contextWindow: 128_000,
    outputLimit: 16_384,
  },
  {
    name: "gpt-4.1",
    family: "openai",
    apis: OPENAI_APIS,
    contextWindow: 1_047_576,
    outputLimit: 32_768,
  },
  {
    name: "gpt-5",
    family: "openai",
    apis: OPENAI_APIS,
    contextWindow: 400_000,
    outputLimit: 128_000,
  },
  {
    name: "gpt-5-mini",
    family: "openai",
    apis: OPENAI_APIS,
    contextWindow: 400_000,
    outputLimit: 128_000,
  },
  {
    name: "gemini-2.5-pro",
    family: "gemini",
    apis: CHAT_ONLY,
    contextWindow: 1_048_576,
    outputLimit: 65_536,
  },
  {
    name: "text-embedding-3-small",
    family: "openai",
    apis: EMBEDDINGS,
    contextWindow: 8_191,
    outputLimit: 0,
    note: "assumed to be on Flow; unconfirmed",
  },
  {
    name: "text-embedding-3-large",
    family: "openai",
    apis: EMBEDDINGS,
    contextWindow: 8_191,
    outputLimit: 0,
    note: "assumed to be on Flow; unconfirmed",
  },
];

/** Builds one frozen entry with the default switches. */
function entryOf(spec: Spec): ModelEntry {
  return Object.freeze({
    name: spec.name,
    family: spec.family,
    apis: Object.freeze([...spec.apis]),
    contextWindow: spec.contextWindow,
    outputLimit: spec.outputLimit,
    thinking: Object.freeze([...(spec.thinking ?? [])]),
    betas: Object.freeze([...(spec.betas ?? [])]),
    rejectsFields: Object.freeze([...(spec.rejectsFields ?? [])]),
    compat: DEFAULT_COMPAT,
    builtIn: true,
    ...(spec.note === undefined ? {} : { note: spec.note }),
  });
}

/** Builds a {@linkcode Catalogue} from entries (later names replace earlier ones). */
export function catalogueOf(entries: readonly ModelEntry[]): Catalogue {
  const byName = new Map<string, ModelEntry>();
  for (const entry of entries) byName.set(entry.name, entry);
  return Object.freeze({
    entries: Object.freeze([...byName.values()]),
    byName,
  });
}

/** The built-in catalogue; the same frozen object on every call. */
export const BUILT_IN_CATALOGUE: Catalogue = catalogueOf(SPECS.map(entryOf));
