/**
 * A Responses API `response` object (Flow's answer for a model served on
 * `/v1/responses` only) as a Chat Completions answer. Pure.
 */
import type { Json, RequestContext } from "../types.ts";
import { asArray, chatUsage, thinkingBlock } from "./common.ts";

/** Chat's `finish_reason` for a finished response. */
export function finishReason(response: Json, calls: number): string {
  const reason = (response.incomplete_details as Json | null)?.reason;
  if (response.status === "incomplete") {
    return reason === "content_filter" ? "content_filter" : "length";
  }
  return calls > 0 ? "tool_calls" : "stop";
}

/** Chat's id from a Responses id (`resp_abc` → `chatcmpl-abc`). */
export function chatId(id: unknown): string {
  const raw = typeof id === "string" && id !== "" ? id : crypto.randomUUID();
  return "chatcmpl-" + raw.replace(/^resp_/, "");
}

/** A reasoning item's text: its raw reasoning, else its summary. */
export function reasoningOf(item: Json): string {
  const pick = (parts: unknown) =>
    asArray(parts).map((p) => String((p as Json)?.text ?? "")).join("");
  const content = pick(item.content);
  return content !== "" ? content : pick(item.summary);
}

/** A Responses body as a Chat Completions one. */
export function responsesToChatResponse(
  response: Json,
  context: RequestContext,
): Json {
  let content = "";
  let refusal = "";
  let reasoning = "";
  const thinking: Json[] = [];
  const calls: Json[] = [];
  for (const raw of asArray(response.output)) {
    const item = raw as Json;
    if (item.type === "message") {
      for (const p of asArray(item.content) as Json[]) {
        if (p.type === "output_text") content += String(p.text ?? "");
        else if (p.type === "refusal") refusal += String(p.refusal ?? "");
      }
    } else if (item.type === "reasoning") {
      const text = reasoningOf(item);
      reasoning += text;
      const block = thinkingBlock(item.encrypted_content, text);
      if (block !== null) thinking.push(block);
    } else if (item.type === "function_call") {
      calls.push({
        id: item.call_id,
        type: "function",
        function: { name: item.name, arguments: item.arguments ?? "" },
      });
    }
  }
  const message: Json = {
    role: "assistant",
    content: content === "" ? null : content,
  };
  if (refusal !== "") message.refusal = refusal;
  if (reasoning !== "") message.reasoning_content = reasoning;
  if (thinking.length > 0) message.thinking_blocks = thinking;
  if (calls.length > 0) message.tool_calls = calls;
  return {
    id: chatId(response.id),
    object: "chat.completion",
    created: typeof response.created_at === "number"
      ? response.created_at
      : Math.floor(Date.now() / 1000),
    model: typeof response.model === "string" ? response.model : context.model,
    choices: [{
      index: 0,
      message,
      finish_reason: finishReason(response, calls.length),
    }],
    usage: chatUsage(response.usage),
  };
}
