/**
 * A Chat Completions request as a Responses API one, for a model Flow
 * serves on `/v1/responses` only. Pure. Nothing is stored on Flow's side
 * (`store: false`): the whole conversation travels in `input` each time.
 */
import type { Json, RequestContext, RequestTranslation } from "../types.ts";
import { asArray, encryptedContent } from "./common.ts";

/** Chat fields the Responses API has no place for. */
const DROPPED = [
  "stop",
  "n",
  "seed",
  "logprobs",
  "top_logprobs",
  "logit_bias",
  "frequency_penalty",
  "presence_penalty",
  "audio",
  "modalities",
  "prediction",
  "web_search_options",
];

/** Translates a Chat Completions request to the Responses API. */
export function chatToResponsesRequest(
  chat: Json,
  context: RequestContext,
): RequestTranslation {
  const dropped = new Set<string>();
  const messages = asArray(chat.messages) as Json[];
  let first = 0;
  const system: string[] = [];
  while (first < messages.length && isSystem(messages[first])) {
    system.push(textOf(messages[first].content));
    first++;
  }
  const body: Json = { model: context.model };
  if (system.length > 0) body.instructions = system.join("\n\n");
  body.input = messages.slice(first).flatMap((m) => inputItems(m, dropped));
  const max = chat.max_completion_tokens ?? chat.max_tokens;
  if (typeof max === "number") body.max_output_tokens = max;
  for (const key of ["temperature", "top_p", "parallel_tool_calls"] as const) {
    if (chat[key] !== undefined && chat[key] !== null) body[key] = chat[key];
  }
  const tools = asArray(chat.tools).flatMap((t) =>
    responsesTool(t as Json, dropped)
  );
  if (tools.length > 0) body.tools = tools;
  const choice = chat.tool_choice;
  if (typeof choice === "string") body.tool_choice = choice;
  else if (choice !== undefined && choice !== null) {
    const fn = ((choice as Json).function ?? {}) as Json;
    body.tool_choice = { type: "function", name: fn.name };
  }
  if (typeof chat.reasoning_effort === "string") {
    body.reasoning = { effort: chat.reasoning_effort };
  }
  const format = textFormat(chat.response_format as Json | undefined);
  if (format !== null) body.text = { format };
  if (chat.stream === true) body.stream = true;
  if (typeof chat.user === "string") body.user = chat.user;
  body.store = false;
  for (const key of DROPPED) if (chat[key] !== undefined) dropped.add(key);
  return { body, dropped: [...dropped] };
}

function isSystem(message: Json): boolean {
  return message.role === "system" || message.role === "developer";
}

/** A message's content as text (parts joined). */
function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  return asArray(content).map((p) => String((p as Json)?.text ?? "")).join("");
}

/** One Chat message as Responses input items. */
function inputItems(message: Json, dropped: Set<string>): Json[] {
  if (message.role === "tool") {
    return [{
      type: "function_call_output",
      call_id: message.tool_call_id,
      output: textOf(message.content),
    }];
  }
  if (message.role === "assistant") return assistantItems(message);
  const role = isSystem(message) ? message.role : "user";
  if (typeof message.content === "string") {
    return [{ type: "message", role, content: message.content }];
  }
  const content: Json[] = [];
  for (const raw of asArray(message.content)) {
    const part = raw as Json;
    if (part.type === "text") {
      content.push({ type: "input_text", text: part.text });
    } else if (part.type === "image_url") {
      const image = (part.image_url ?? {}) as Json;
      const out: Json = {
        type: "input_image",
        "image_url": image.url,
        detail: typeof image.detail === "string" ? image.detail : "auto",
      };
      content.push(out);
    } else dropped.add(`${String(part.type)} part`);
  }
  return [{ type: "message", role, content }];
}

/** An assistant message as reasoning, message and function_call items. */
function assistantItems(message: Json): Json[] {
  const items: Json[] = [];
  const blocks = asArray(message.thinking_blocks) as Json[];
  for (const block of blocks) {
    const text = typeof block.thinking === "string" ? block.thinking : "";
    const item: Json = {
      type: "reasoning",
      summary: [],
      content: text === "" ? [] : [{ type: "reasoning_text", text }],
    };
    const encrypted = encryptedContent(block);
    if (encrypted !== null) item.encrypted_content = encrypted;
    items.push(item);
  }
  const reasoning = message.reasoning_content;
  if (
    blocks.length === 0 && typeof reasoning === "string" && reasoning !== ""
  ) {
    items.push({
      type: "reasoning",
      summary: [],
      content: [{ type: "reasoning_text", text: reasoning }],
    });
  }
  const text = textOf(message.content);
  if (text !== "") {
    items.push({
      type: "message",
      role: "assistant",
      content: [{ type: "output_text", text }],
    });
  }
  for (const raw of asArray(message.tool_calls)) {
    const call = raw as Json;
    const fn = (call.function ?? {}) as Json;
    items.push({
      type: "function_call",
      call_id: call.id,
      name: fn.name,
      arguments: typeof fn.arguments === "string" ? fn.arguments : "{}",
    });
  }
  return items;
}

/** A Chat tool as a flat Responses function tool. */
function responsesTool(tool: Json, dropped: Set<string>): Json[] {
  if (tool.type !== "function") {
    dropped.add(`tool ${String(tool.type)}`);
    return [];
  }
  const fn = (tool.function ?? {}) as Json;
  const out: Json = {
    type: "function",
    name: fn.name,
    parameters: fn.parameters ?? { type: "object", properties: {} },
  };
  if (typeof fn.description === "string") out.description = fn.description;
  if (typeof fn.strict === "boolean") out.strict = fn.strict;
  return [out];
}

/** Chat's `response_format` as Responses' `text.format`. */
function textFormat(format: Json | undefined): Json | null {
  if (format === undefined || format === null) return null;
  if (format.type === "json_object") return { type: "json_object" };
  if (format.type !== "json_schema") return null;
  const schema = (format.json_schema ?? {}) as Json;
  const out: Json = {
    type: "json_schema",
    name: schema.name ?? "response",
    schema: schema.schema,
  };
  if (typeof schema.description === "string") {
    out.description = schema.description;
  }
  if (typeof schema.strict === "boolean") out.strict = schema.strict;
  return out;
}
