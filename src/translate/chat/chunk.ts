/**
 * One Chat Completions stream chunk taken apart in the order its parts
 * arrive — thinking text, thinking signatures (LiteLLM's `thinking_blocks`),
 * text, tool-call pieces, the finish reason — for the translations that
 * turn Chat chunks into another API's events.
 */
import type { Json } from "../types.ts";

/** What a chunk may hold, one callback per part. */
export interface ChunkParts {
  /** The chunk's `usage` (the last chunk of a stream with `include_usage`). */
  usage(usage: unknown): void;
  /** A `reasoning_content` delta. */
  reasoning(text: string): void;
  /** One `thinking_blocks` entry: a signature, or a redacted block. */
  thinkingBlock(block: Json): void;
  /** A `content` delta. */
  text(text: string): void;
  /** One `tool_calls` entry: a call's id and name, or a piece of its arguments. */
  toolCall(call: Json): void;
  /** The first choice's `finish_reason`. */
  finish(reason: unknown): void;
}

/** Hands the parts of `chunk` (its first choice) to `parts`, in order. */
export function readChatChunk(chunk: Json, parts: ChunkParts): void {
  if (chunk.usage !== undefined && chunk.usage !== null) {
    parts.usage(chunk.usage);
  }
  const choice = (Array.isArray(chunk.choices) ? chunk.choices[0] : null) as
    | Json
    | null;
  if (!choice) return;
  const delta = (choice.delta ?? {}) as Json;
  if (
    typeof delta.reasoning_content === "string" &&
    delta.reasoning_content !== ""
  ) {
    parts.reasoning(delta.reasoning_content);
  }
  if (Array.isArray(delta.thinking_blocks)) {
    for (const block of delta.thinking_blocks as Json[]) {
      parts.thinkingBlock(block);
    }
  }
  if (typeof delta.content === "string" && delta.content !== "") {
    parts.text(delta.content);
  }
  if (Array.isArray(delta.tool_calls)) {
    for (const call of delta.tool_calls as Json[]) parts.toolCall(call);
  }
  if (choice.finish_reason !== undefined && choice.finish_reason !== null) {
    parts.finish(choice.finish_reason);
  }
}
