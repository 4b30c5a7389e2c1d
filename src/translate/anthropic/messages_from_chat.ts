/**
 * Chat Completions `messages` as Anthropic's `system` and `messages`:
 * system and developer messages (wherever they are) become the system
 * prompt; tool results go into the next user turn, grouped (parallel
 * results in one turn); consecutive turns of one role are merged, since
 * Anthropic wants user and assistant to alternate, starting with the user.
 */
import type { Json } from "../types.ts";

/** The conversation in Anthropic's shape. */
export interface AnthropicConversation {
  /** The system prompt (blocks joined by a blank line), or null. */
  system: string | null;
  messages: Json[];
}

/**
 * The text a turn gets when the conversation starts with the assistant:
 * Anthropic requires a user turn first.
 */
export const OPENING_USER_TEXT = "(conversation start)";

/** `messages` (a Chat request's) as Anthropic's; what is lost goes to `dropped`. */
export function messagesOf(
  messages: unknown,
  dropped: Set<string>,
): AnthropicConversation {
  const system: string[] = [];
  const out: Json[] = [];
  for (const message of Array.isArray(messages) ? messages as Json[] : []) {
    if (message === null || typeof message !== "object") continue;
    const role = message.role;
    if (role === "system" || role === "developer") {
      const text = textOf(message.content, dropped);
      if (text !== "") system.push(text);
      continue;
    }
    const blocks = role === "assistant"
      ? assistantBlocks(message, dropped)
      : role === "tool"
      ? [toolResult(message, dropped)]
      : role === "user"
      ? userBlocks(message.content, dropped)
      : null;
    if (blocks === null) {
      dropped.add(`${String(role)} message`);
      continue;
    }
    if (blocks.length === 0) continue;
    pushTurn(out, role === "assistant" ? "assistant" : "user", blocks);
  }
  if (out.length > 0 && out[0].role !== "user") {
    out.unshift({
      role: "user",
      content: [{ type: "text", text: OPENING_USER_TEXT }],
    });
  }
  return {
    system: system.length === 0 ? null : system.join("\n\n"),
    messages: out,
  };
}

/** Appends `blocks` as a turn of `role`, joined to the last turn when it is one too. */
function pushTurn(out: Json[], role: string, blocks: Json[]): void {
  const last = out.at(-1);
  if (last?.role === role) {
    const content = last.content as Json[];
    // Tool results lead their user turn, as Anthropic wants them.
    if (role === "user" && blocks[0].type === "tool_result") {
      const at = content.findIndex((b) => b.type !== "tool_result");
      if (at !== -1) {
        content.splice(at, 0, ...blocks);
        return;
      }
    }
    content.push(...blocks);
    return;
  }
  out.push({ role, content: blocks });
}

/** A message's content as plain text (text parts joined). */
function textOf(content: unknown, dropped: Set<string>): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  const texts: string[] = [];
  for (const part of content as Json[]) {
    if (part?.type === "text" && typeof part.text === "string") {
      texts.push(part.text);
    } else dropped.add(`${String(part?.type)} part`);
  }
  return texts.join("\n\n");
}

/** A user message's content as text and image blocks. */
function userBlocks(content: unknown, dropped: Set<string>): Json[] {
  if (typeof content === "string") {
    return content === "" ? [] : [{ type: "text", text: content }];
  }
  const blocks: Json[] = [];
  for (const part of Array.isArray(content) ? content as Json[] : []) {
    if (part?.type === "text" && typeof part.text === "string") {
      if (part.text !== "") blocks.push({ type: "text", text: part.text });
    } else if (part?.type === "image_url") {
      const image = imageBlock(part.image_url);
      if (image !== null) blocks.push(image);
      else dropped.add("image_url (not a data: or http(s) URL)");
    } else dropped.add(`${String(part?.type)} part`);
  }
  return blocks;
}

const DATA_URL = /^data:([^;,]+);base64,(.*)$/s;

/** An `image_url` (a data: URL or an http(s) one) as an image block. */
export function imageBlock(imageUrl: unknown): Json | null {
  const url = typeof imageUrl === "string"
    ? imageUrl
    : (imageUrl as Json | null)?.url;
  if (typeof url !== "string") return null;
  const data = DATA_URL.exec(url);
  if (data !== null) {
    return {
      type: "image",
      source: { type: "base64", media_type: data[1], data: data[2] },
    };
  }
  if (/^https?:\/\//i.test(url)) {
    return { type: "image", source: { type: "url", url } };
  }
  return null;
}

/**
 * An assistant message as blocks: its thinking first (signed blocks only:
 * Anthropic refuses a thinking block without its signature), then the
 * text, then one tool_use per call.
 */
function assistantBlocks(message: Json, dropped: Set<string>): Json[] {
  const blocks = thinkingBlocks(message, dropped);
  const text = textOf(message.content, dropped) ||
    (typeof message.refusal === "string" ? message.refusal : "");
  if (text !== "") blocks.push({ type: "text", text });
  const calls = Array.isArray(message.tool_calls) ? message.tool_calls : [];
  for (const call of calls as Json[]) {
    const fn = (call?.function ?? {}) as Json;
    blocks.push({
      type: "tool_use",
      id: call.id,
      name: fn.name,
      input: toolInput(fn.arguments, dropped),
    });
  }
  return blocks;
}

/** `thinking_blocks` (or a bare `reasoning_content`) as thinking blocks. */
function thinkingBlocks(message: Json, dropped: Set<string>): Json[] {
  const out: Json[] = [];
  const given = Array.isArray(message.thinking_blocks)
    ? message.thinking_blocks as Json[]
    : [];
  for (const block of given) {
    if (block?.type === "redacted_thinking" && typeof block.data === "string") {
      out.push({ type: "redacted_thinking", data: block.data });
    } else if (
      typeof block?.signature === "string" && block.signature !== "" &&
      typeof block.thinking === "string"
    ) {
      out.push({
        type: "thinking",
        thinking: block.thinking,
        signature: block.signature,
      });
    } else dropped.add("thinking block without a signature");
  }
  if (
    given.length === 0 && typeof message.reasoning_content === "string" &&
    message.reasoning_content !== ""
  ) dropped.add("reasoning_content without a signature");
  return out;
}

/** A call's `arguments` as the tool_use `input`: `{}` (and said) when not a JSON object. */
function toolInput(args: unknown, dropped: Set<string>): Json {
  if (typeof args !== "string" || args.trim() === "") return {};
  try {
    const parsed = JSON.parse(args);
    if (
      parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)
    ) {
      return parsed as Json;
    }
  } catch {
    // said below
  }
  dropped.add("tool call arguments that are not a JSON object (sent as {})");
  return {};
}

/** A `tool` message as a tool_result block. */
function toolResult(message: Json, dropped: Set<string>): Json {
  return {
    type: "tool_result",
    tool_use_id: message.tool_call_id,
    content: textOf(message.content, dropped),
  };
}
