/**
 * A Chat Completions answer as a Responses API `response` object. Pure but
 * for the request's tool notes (common.ts), which say which calls are of
 * free-form tools and which tools sit in a namespace.
 */
import type { Json, RequestContext } from "../types.ts";
import {
  asArray,
  encryptedContent,
  responseId,
  responseObject,
  responseStatus,
  responsesUsage,
  type ToolNotes,
  toolNotes,
} from "./common.ts";

/** A Chat Completions response body as a Responses one. */
export function chatToResponsesResponse(
  chat: Json,
  context: RequestContext,
): Json {
  const choice = (asArray(chat.choices)[0] ?? {}) as Json;
  const message = (choice.message ?? {}) as Json;
  const { status, incomplete } = responseStatus(choice.finish_reason);
  const id = responseId(chat.id);
  const output: Json[] = [
    ...reasoningItems(message, id),
    ...messageItems(message, id, status),
    ...asArray(message.tool_calls).map((call, i) =>
      callItem(call as Json, `${id}_${i}`, toolNotes(context))
    ),
  ];
  return responseObject({
    id,
    model: typeof chat.model === "string" ? chat.model : context.model,
    createdAt: typeof chat.created === "number"
      ? chat.created
      : Math.floor(Date.now() / 1000),
    status,
    incomplete,
    output,
    usage: responsesUsage(chat.usage),
  });
}

/** The thinking of a Chat message as reasoning items, one per signed block. */
export function reasoningItems(message: Json, id: string): Json[] {
  const blocks = asArray(message.thinking_blocks) as Json[];
  if (blocks.length > 0) {
    return blocks.map((block, i) =>
      reasoningItem(
        `rs_${id}_${i}`,
        typeof block.thinking === "string" ? block.thinking : "",
        encryptedContent(block),
      )
    );
  }
  const text = message.reasoning_content;
  if (typeof text !== "string" || text === "") return [];
  return [reasoningItem(`rs_${id}_0`, text, null)];
}

/** One reasoning item: its text as `reasoning_text` content. */
export function reasoningItem(
  id: string,
  text: string,
  encrypted: string | null,
): Json {
  const item: Json = {
    type: "reasoning",
    id,
    summary: [],
    content: text === "" ? [] : [{ type: "reasoning_text", text }],
  };
  if (encrypted !== null) item.encrypted_content = encrypted;
  return item;
}

function messageItems(message: Json, id: string, status: string): Json[] {
  const content: Json[] = [];
  if (typeof message.content === "string" && message.content !== "") {
    content.push(outputText(message.content));
  }
  if (typeof message.refusal === "string" && message.refusal !== "") {
    content.push({ type: "refusal", refusal: message.refusal });
  }
  if (content.length === 0) return [];
  return [{
    type: "message",
    id: `msg_${id}`,
    status,
    role: "assistant",
    content,
  }];
}

/** An `output_text` part. */
export function outputText(text: string): Json {
  return { type: "output_text", text, annotations: [], logprobs: [] };
}

/**
 * A Chat tool call as a `function_call` item, or a `custom_tool_call` when
 * it calls a free-form tool (its `input` read back from the arguments).
 */
export function callItem(call: Json, id: string, notes: ToolNotes): Json {
  const fn = (call.function ?? {}) as Json;
  const name = String(fn.name ?? "");
  const args = typeof fn.arguments === "string" ? fn.arguments : "";
  const callId = typeof call.id === "string" ? call.id : `call_${id}`;
  if (notes.custom.has(name)) {
    return {
      type: "custom_tool_call",
      id: `ctc_${id}`,
      call_id: callId,
      name,
      input: customInput(args),
      status: "completed",
    };
  }
  const item: Json = {
    type: "function_call",
    id: `fc_${id}`,
    "call_id": callId,
    name,
    arguments: args,
    status: "completed",
  };
  const namespace = notes.namespaces.get(name);
  if (namespace !== undefined) item.namespace = namespace;
  return item;
}

/** A free-form tool's text from the `{input}` arguments it was given as a function. */
export function customInput(args: string): string {
  try {
    const parsed = JSON.parse(args);
    if (typeof parsed?.input === "string") return parsed.input;
  } catch {
    // The model wrote the text itself, not JSON.
  }
  return args;
}
