/**
 * A Responses API request (`/v1/responses`) as a Chat Completions one.
 * Pure but for the tool notes it leaves for the answer (common.ts). The
 * Responses API can keep state on OpenAI's side; Chat Completions cannot,
 * so a request that needs stored state is refused, not half-answered.
 */
import type { Json, RequestContext, RequestTranslation } from "../types.ts";
import { cleanSchema } from "../anthropic/request_to_chat.ts";
import { asArray, noteTools, thinkingBlock, type ToolNotes } from "./common.ts";

/** Options that need a stored response, and why each is refused. */
const STATEFUL: readonly [string, (value: unknown) => boolean, string][] = [
  [
    "previous_response_id",
    (v) => typeof v === "string" && v !== "",
    "the earlier response cannot be recalled; send the whole conversation in `input` instead",
  ],
  [
    "conversation",
    (v) => v !== undefined && v !== null,
    "no conversation is kept; send the whole conversation in `input` instead",
  ],
  [
    "store",
    (v) => v === true,
    "nothing is stored; leave `store` out or set it to false",
  ],
  [
    "background",
    (v) => v === true,
    "a background response must be stored to be polled; send the request without it",
  ],
];

/** Fields with no Chat counterpart, dropped (and named in the DEBUG line). */
const IGNORED = [
  "include",
  "prompt_cache_key",
  "service_tier",
  "truncation",
  "metadata",
  "client_metadata",
  "top_logprobs",
  "max_tool_calls",
  "prompt",
  "prompt_cache_retention",
];

/** Translates a Responses request to Chat Completions. */
export function responsesToChatRequest(
  req: Json,
  context: RequestContext,
): RequestTranslation {
  const refused = refusal(req);
  if (refused !== null) return { body: {}, dropped: [], refused };
  const dropped = new Set<string>();
  const notes: ToolNotes = { custom: new Set(), namespaces: new Map() };
  const body: Json = { model: context.model };
  const tools = chatTools(
    [...asArray(req.tools), ...additionalTools(req.input)],
    notes,
    dropped,
  );
  body.messages = chatMessages(req, dropped);
  if (typeof req.max_output_tokens === "number") {
    const key = REASONING_MODEL.test(context.model)
      ? "max_completion_tokens"
      : "max_tokens";
    body[key] = req.max_output_tokens;
  }
  for (const key of ["temperature", "top_p"] as const) {
    if (typeof req[key] === "number") body[key] = req[key];
  }
  if (tools.length > 0) {
    body.tools = tools;
    const choice = toolChoice(req.tool_choice, dropped);
    if (choice !== undefined) body.tool_choice = choice;
    if (typeof req.parallel_tool_calls === "boolean") {
      body.parallel_tool_calls = req.parallel_tool_calls;
    }
  }
  applyReasoning(req.reasoning as Json | undefined, body, dropped);
  applyTextFormat(req.text as Json | undefined, body, dropped);
  if (req.stream === true) {
    body.stream = true;
    body.stream_options = { include_usage: true };
  }
  const user = typeof req.user === "string" ? req.user : req.safety_identifier;
  if (typeof user === "string" && user !== "") body.user = user;
  for (const key of IGNORED) if (req[key] !== undefined) dropped.add(key);
  noteTools(context, notes);
  return { body, dropped: [...dropped] };
}

/** The message of the 400 for an option that needs stored state, or null. */
export function refusal(req: Json): string | null {
  for (const [option, applies, why] of STATEFUL) {
    if (!applies(req[option])) continue;
    return `\`${option}\` is not supported for this model: Flow serves it on Chat Completions, a stateless API, through flow-proxy's translation, so ${why}`;
  }
  return null;
}

/** OpenAI models that take `max_completion_tokens` only. */
const REASONING_MODEL = /^(?:[\w.-]+\/)?(?:gpt-5|o\d)/;

/** Codex sends some tools as an `additional_tools` input item. */
function additionalTools(input: unknown): unknown[] {
  return asArray(input).flatMap((item) =>
    (item as Json)?.type === "additional_tools"
      ? asArray((item as Json).tools)
      : []
  );
}

/** `instructions` and `input` as Chat messages. */
function chatMessages(req: Json, dropped: Set<string>): Json[] {
  const messages: Json[] = [];
  if (typeof req.instructions === "string" && req.instructions !== "") {
    messages.push({ role: "system", content: req.instructions });
  }
  if (typeof req.input === "string") {
    messages.push({ role: "user", content: req.input });
    return messages;
  }
  const thinking: Json[] = [];
  let reasoning = "";
  const attach = (message: Json) => {
    if (reasoning !== "") message.reasoning_content = reasoning;
    if (thinking.length > 0) message.thinking_blocks = thinking.splice(0);
    reasoning = "";
  };
  // Reasoning belongs to the assistant turn it precedes; before anything
  // else it has no message to ride on.
  const discard = () => {
    if (reasoning === "" && thinking.length === 0) return;
    dropped.add("reasoning not followed by an assistant turn");
    reasoning = "";
    thinking.length = 0;
  };
  for (const raw of asArray(req.input)) {
    const item = raw as Json;
    const type = item.type ?? (item.role !== undefined ? "message" : undefined);
    if (type === "reasoning") {
      const text = reasoningText(item);
      const block = thinkingBlock(item.encrypted_content, text);
      if (block !== null) thinking.push(block);
      else if (item.encrypted_content !== undefined) {
        dropped.add("encrypted_content");
      }
      reasoning += text;
    } else if (type === "message") {
      const message = chatMessage(item, dropped);
      if (message === null) continue;
      if (message.role === "assistant") attach(message);
      else discard();
      messages.push(message);
    } else if (type === "function_call" || type === "custom_tool_call") {
      const call = toolCall(item, type === "custom_tool_call");
      const last = messages.at(-1);
      if (
        last?.role === "assistant" && reasoning === "" && thinking.length === 0
      ) {
        last.tool_calls = [...asArray(last.tool_calls), call];
      } else {
        const message: Json = { role: "assistant", content: null };
        attach(message);
        message.tool_calls = [call];
        messages.push(message);
      }
    } else if (
      type === "function_call_output" || type === "custom_tool_call_output"
    ) {
      discard();
      messages.push({
        role: "tool",
        tool_call_id: item.call_id,
        content: outputText(item.output, dropped),
      });
    } else if (type === "additional_tools") continue;
    else dropped.add(`${String(type)} item`);
  }
  discard();
  return messages;
}

/** A reasoning item's text: its `content` (raw reasoning), else its summary. */
function reasoningText(item: Json): string {
  const pick = (parts: unknown) =>
    asArray(parts).map((p) => String((p as Json)?.text ?? "")).join("");
  const content = pick(item.content);
  return content !== "" ? content : pick(item.summary);
}

/** A `message` item as a Chat message (null when nothing of it is left). */
function chatMessage(item: Json, dropped: Set<string>): Json | null {
  const role = item.role === "assistant"
    ? "assistant"
    : item.role === "system" || item.role === "developer"
    ? "system"
    : "user";
  if (typeof item.content === "string") return { role, content: item.content };
  const parts: Json[] = [];
  for (const raw of asArray(item.content)) {
    const part = raw as Json;
    if (
      part.type === "input_text" || part.type === "output_text" ||
      part.type === "text"
    ) {
      parts.push({ type: "text", text: String(part.text ?? "") });
    } else if (part.type === "refusal") {
      parts.push({ type: "text", text: String(part.refusal ?? "") });
    } else if (part.type === "input_image" && role === "user") {
      const image = imagePart(part);
      if (image !== null) parts.push(image);
      else dropped.add("input_image file_id");
    } else dropped.add(`${String(part.type)} part`);
  }
  if (parts.length === 0) return null;
  if (role !== "user" || parts.every((p) => p.type === "text")) {
    return { role, content: parts.map((p) => p.text).join("") };
  }
  return { role, content: parts };
}

/** An `input_image` part as Chat's `image_url` part (a file id cannot be sent). */
function imagePart(part: Json): Json | null {
  if (typeof part.image_url !== "string" || part.image_url === "") return null;
  const image: Json = { url: part.image_url };
  if (typeof part.detail === "string" && part.detail !== "auto") {
    image.detail = part.detail;
  }
  return { type: "image_url", image_url: image };
}

/** A function (or free-form tool) call item as a Chat tool call. */
function toolCall(item: Json, custom: boolean): Json {
  return {
    id: item.call_id,
    type: "function",
    function: {
      name: item.name,
      arguments: custom
        ? JSON.stringify({ input: String(item.input ?? "") })
        : typeof item.arguments === "string"
        ? item.arguments
        : "{}",
    },
  };
}

/** A tool output (a string, or input parts) as the `tool` message's text. */
function outputText(output: unknown, dropped: Set<string>): string {
  if (typeof output === "string") return output;
  return asArray(output).map((raw) => {
    const part = raw as Json;
    if (typeof part.text === "string") return part.text;
    dropped.add(`${String(part.type)} in tool output`);
    return "";
  }).join("");
}

/** The tools Chat can carry: functions, flattened namespaces, free-form tools as functions. */
function chatTools(
  tools: unknown[],
  notes: ToolNotes,
  dropped: Set<string>,
  namespace?: string,
): Json[] {
  const out: Json[] = [];
  for (const raw of tools) {
    const tool = raw as Json;
    if (tool.type === "namespace") {
      out.push(
        ...chatTools(asArray(tool.tools), notes, dropped, String(tool.name)),
      );
      continue;
    }
    const fn = tool.type === "function"
      ? functionTool(tool)
      : tool.type === "custom"
      ? customTool(tool)
      : null;
    if (fn === null) {
      dropped.add(`tool ${String(tool.type)}`);
      continue;
    }
    if (tool.type === "custom") notes.custom.add(String(tool.name));
    if (namespace !== undefined) {
      notes.namespaces.set(String(tool.name), namespace);
    }
    out.push({ type: "function", function: fn });
  }
  return out;
}

function functionTool(tool: Json): Json {
  const fn: Json = {
    name: tool.name,
    parameters: cleanSchema(tool.parameters ?? { type: "object" }),
  };
  if (typeof tool.description === "string") fn.description = tool.description;
  if (typeof tool.strict === "boolean") fn.strict = tool.strict;
  return fn;
}

/**
 * A free-form tool as a function taking its text as `input`; its grammar,
 * if any, is told in the description (Chat has no constrained decoding).
 */
function customTool(tool: Json): Json {
  const format = (tool.format ?? {}) as Json;
  let description = typeof tool.description === "string"
    ? tool.description
    : "";
  if (format.type === "grammar" && typeof format.definition === "string") {
    description +=
      `\n\nThe input is free-form text (not JSON), following this ${
        String(format.syntax ?? "")
      } grammar:\n${format.definition}`;
  }
  return {
    name: tool.name,
    description: description.trim(),
    parameters: {
      type: "object",
      properties: {
        input: { type: "string", description: "The tool's free-form input" },
      },
      required: ["input"],
    },
  };
}

/** Responses' `tool_choice` as Chat's (undefined: leave it out). */
function toolChoice(choice: unknown, dropped: Set<string>): unknown {
  if (choice === undefined || choice === null) return undefined;
  if (choice === "auto" || choice === "none" || choice === "required") {
    return choice;
  }
  const c = choice as Json;
  if (
    (c.type === "function" || c.type === "custom") && typeof c.name === "string"
  ) {
    return { type: "function", function: { name: c.name } };
  }
  dropped.add(`tool_choice ${String(c.type)}`);
  return undefined;
}

/** `reasoning.effort` as `reasoning_effort` (the hub's four levels). */
function applyReasoning(
  reasoning: Json | undefined,
  body: Json,
  dropped: Set<string>,
): void {
  if (reasoning === undefined || reasoning === null) return;
  const effort = reasoning.effort;
  if (
    effort === "minimal" || effort === "low" || effort === "medium" ||
    effort === "high"
  ) {
    body.reasoning_effort = effort;
  } else if (effort === "xhigh") body.reasoning_effort = "high";
  else if (effort !== undefined && effort !== null && effort !== "none") {
    dropped.add(`reasoning.effort ${String(effort)}`);
  }
  if (reasoning.summary !== undefined && reasoning.summary !== null) {
    dropped.add("reasoning.summary");
  }
}

/** `text.format` as `response_format`. */
function applyTextFormat(
  text: Json | undefined,
  body: Json,
  dropped: Set<string>,
): void {
  if (text === undefined || text === null) return;
  const format = (text.format ?? {}) as Json;
  if (format.type === "json_object") {
    body.response_format = { type: "json_object" };
  } else if (format.type === "json_schema") {
    const schema: Json = {
      name: format.name ?? "response",
      schema: format.schema,
    };
    if (typeof format.description === "string") {
      schema.description = format.description;
    }
    if (typeof format.strict === "boolean") schema.strict = format.strict;
    body.response_format = { type: "json_schema", json_schema: schema };
  }
  if (text.verbosity !== undefined) dropped.add("text.verbosity");
}
