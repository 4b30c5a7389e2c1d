/**
 * What the Responses side of a translation shares: how a request's tools
 * are remembered for its answer, ids, usage, and how an Anthropic thinking
 * signature rides in a reasoning item's `encrypted_content`.
 *
 * Why a side table: the answer to a Responses request must name a call of
 * a free-form (`custom`) tool as a `custom_tool_call`, and a call of a tool
 * Codex nests in a `namespace` with that namespace, but Chat Completions
 * knows only functions. The request's translation notes those tools here,
 * keyed by the request's {@linkcode RequestContext} (the same object the
 * answer's translation is given), and the note goes with the context.
 */
import type { ErrorInfo, Json, RequestContext } from "../types.ts";

/** What the answer needs to know of the request's tools. */
export interface ToolNotes {
  /** Free-form tools, sent to Chat as functions taking `{input: string}`. */
  custom: Set<string>;
  /** The namespace of each tool Codex nested in one. */
  namespaces: Map<string, string>;
}

const NOTES = new WeakMap<RequestContext, ToolNotes>();

/** Remembers `notes` for the answer to the request of `context`. */
export function noteTools(context: RequestContext, notes: ToolNotes): void {
  if (notes.custom.size > 0 || notes.namespaces.size > 0) {
    NOTES.set(context, notes);
  }
}

/** The notes the request of `context` left (none for most requests). */
export function toolNotes(context: RequestContext | undefined): ToolNotes {
  return (context && NOTES.get(context)) ?? NO_NOTES;
}

const NO_NOTES: ToolNotes = { custom: new Set(), namespaces: new Map() };

/** The prefix of an `encrypted_content` holding an Anthropic thinking signature. */
export const SIGNATURE_PREFIX = "anthropic-thinking:";
/** The prefix of an `encrypted_content` holding an Anthropic redacted thinking block. */
export const REDACTED_PREFIX = "anthropic-redacted:";

/** A hub thinking block (`thinking_blocks[i]`) as a reasoning item's `encrypted_content`. */
export function encryptedContent(block: Json): string | null {
  if (block.type === "redacted_thinking") {
    return typeof block.data === "string" ? REDACTED_PREFIX + block.data : null;
  }
  return typeof block.signature === "string" && block.signature !== ""
    ? SIGNATURE_PREFIX + block.signature
    : null;
}

/**
 * A reasoning item's `encrypted_content` and text as a hub thinking block;
 * null when it holds no Anthropic signature (OpenAI's own encrypted
 * reasoning means nothing to another model).
 */
export function thinkingBlock(encrypted: unknown, text: string): Json | null {
  if (typeof encrypted !== "string") return null;
  if (encrypted.startsWith(SIGNATURE_PREFIX)) {
    return {
      type: "thinking",
      thinking: text,
      signature: encrypted.slice(SIGNATURE_PREFIX.length),
    };
  }
  if (encrypted.startsWith(REDACTED_PREFIX)) {
    return {
      type: "redacted_thinking",
      data: encrypted.slice(REDACTED_PREFIX.length),
    };
  }
  return null;
}

/** A Responses id with `prefix` from Chat's (`chatcmpl-abc` → `resp_abc`). */
export function responseId(id: unknown, prefix = "resp_"): string {
  const raw = typeof id === "string" && id !== "" ? id : crypto.randomUUID();
  return prefix + raw.replace(/^chatcmpl-/, "");
}

/** Chat's `usage` as the Responses API's. */
export function responsesUsage(usage: unknown): Json {
  const u = (usage ?? {}) as Json;
  const input = num(u.prompt_tokens);
  const output = num(u.completion_tokens);
  return {
    input_tokens: input,
    input_tokens_details: {
      cached_tokens: num((u.prompt_tokens_details as Json)?.cached_tokens),
    },
    output_tokens: output,
    output_tokens_details: {
      reasoning_tokens: num(
        (u.completion_tokens_details as Json)?.reasoning_tokens,
      ),
    },
    total_tokens: typeof u.total_tokens === "number"
      ? u.total_tokens
      : input + output,
  };
}

/** The Responses API's `usage` as Chat's. */
export function chatUsage(usage: unknown): Json {
  const u = (usage ?? {}) as Json;
  const prompt = num(u.input_tokens);
  const completion = num(u.output_tokens);
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: typeof u.total_tokens === "number"
      ? u.total_tokens
      : prompt + completion,
    prompt_tokens_details: {
      cached_tokens: num((u.input_tokens_details as Json)?.cached_tokens),
    },
    completion_tokens_details: {
      reasoning_tokens: num(
        (u.output_tokens_details as Json)?.reasoning_tokens,
      ),
    },
  };
}

/** Chat's `finish_reason` as a Responses status and `incomplete_details`. */
export function responseStatus(
  finish: unknown,
): { status: "completed" | "incomplete"; incomplete: Json | null } {
  if (finish === "length") {
    return {
      status: "incomplete",
      incomplete: { reason: "max_output_tokens" },
    };
  }
  if (finish === "content_filter") {
    return { status: "incomplete", incomplete: { reason: "content_filter" } };
  }
  return { status: "completed", incomplete: null };
}

/** A number, or 0. */
export function num(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) ? value : 0;
}

/** An array, or an empty one. */
export function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/**
 * The `response` object every answer and stream event carries, around
 * `output`: the fields the SDKs read, with the request's own settings left
 * at their defaults (the translation does not echo them).
 */
export function responseObject(fields: {
  id: string;
  model: string;
  createdAt: number;
  status: string;
  output: Json[];
  usage: Json | null;
  incomplete?: Json | null;
  error?: Json | null;
}): Json {
  return {
    id: fields.id,
    object: "response",
    created_at: fields.createdAt,
    status: fields.status,
    error: fields.error ?? null,
    incomplete_details: fields.incomplete ?? null,
    instructions: null,
    max_output_tokens: null,
    model: fields.model,
    output: fields.output,
    parallel_tool_calls: true,
    previous_response_id: null,
    reasoning: { effort: null, summary: null },
    store: false,
    temperature: null,
    text: { format: { type: "text" } },
    tool_choice: "auto",
    tools: [],
    top_p: null,
    truncation: "disabled",
    usage: fields.usage,
    metadata: {},
  };
}

/** An item's output index, read back from its id (`fc_resp_x_3` → 3). */
export function outputOrder(item: Json): number {
  const match = /_(\d+)$/.exec(String(item.id));
  return match === null ? 0 : Number(match[1]);
}

/** The `error.code` of `response.failed` for an upstream error. */
export function failureCode(info: ErrorInfo): string {
  if (info.status === 429) return "rate_limit_exceeded";
  if (
    info.code !== undefined && info.code !== null && !/^\d+$/.test(info.code)
  ) {
    return info.code;
  }
  return info.status >= 500 ? "server_error" : "invalid_prompt";
}
