// The wire formats (Anthropic, OpenAI) are snake_case.
// deno-lint-ignore-file camelcase
/**
 * The scripted model behind the mock Flow: answers a plain prompt with text,
 * answers "list the files …" / "run a tool" with a call of the client's own
 * shell tool (Claude Code's `Bash`, Codex's `shell`/`exec_command`, Gemini
 * CLI's `run_shell_command`, or the first tool an SDK offers), and after the
 * tool's result answers with text that quotes it. One function per API, each returning a `Response`.
 */

/** The text of a plain answer. */
export const PLAIN_ANSWER = "Hello from mock Flow";
/** What the final answer after a tool result starts with. */
export const TOOL_ANSWER_PREFIX = "The tool returned:";

/** A user turn that asks for a tool call. */
const WANTS_TOOL =
  /\b(list (the )?(files|directory)|run a tool|use the \w+ tool)\b/i;

const encoder = new TextEncoder();

type Json = Record<string, unknown>;

function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content.map((part) => {
    const p = part as Json;
    if (typeof p.text === "string") return p.text;
    if (p.type === "tool_result") return textOf(p.content);
    return "";
  }).join("\n");
}

/** Tools flattened: Codex nests its tools in `{type: "namespace", tools: […]}` entries. */
function flatTools(tools: unknown): Json[] {
  if (!Array.isArray(tools)) return [];
  return (tools as Json[]).flatMap((t) =>
    t.type === "namespace" ? flatTools(t.tools) : [t]
  );
}

function toolNames(tools: unknown): string[] {
  return flatTools(tools).map((tool) => {
    const fn = tool.function as Json | undefined;
    return String(tool.name ?? fn?.name ?? "");
  }).filter(Boolean);
}

function schemaOf(tools: unknown, name: string): Json {
  for (const t of flatTools(tools)) {
    const tool = t as Json;
    const fn = tool.function as Json | undefined;
    if ((tool.name ?? fn?.name) !== name) continue;
    return (tool.input_schema ?? tool.parameters ?? fn?.parameters ??
      {}) as Json;
  }
  return {};
}

/** Arguments for calling `name`: a shell tool lists the directory; any other gets "Paris" for each required string. */
export function toolArguments(name: string, schema: Json): Json {
  if (name === "Bash") return { command: "ls", description: "List files" };
  if (name === "shell") return { command: ["ls"] };
  if (name === "exec_command") return { cmd: "ls" };
  if (name === "shell_command") return { command: "ls" };
  // Gemini CLI's shell tool.
  if (name === "run_shell_command") return { command: "ls" };
  // Codex's code mode: one free-form tool that runs JavaScript calling the nested tools.
  if (name === "exec") {
    return {
      input:
        'const r = await tools.exec_command({ cmd: "ls" });\ntext(r.output);',
    };
  }
  const args: Json = {};
  const props = (schema.properties ?? {}) as Record<string, Json>;
  for (const key of (schema.required ?? []) as string[]) {
    args[key] = props[key]?.type === "number" ? 1 : "Paris";
  }
  return args;
}

const SHELL_TOOLS = [
  "Bash",
  "shell",
  "exec_command",
  "shell_command",
  "exec",
  "run_shell_command",
];

function pickTool(tools: unknown): string | null {
  const names = toolNames(tools);
  return SHELL_TOOLS.find((n) => names.includes(n)) ?? names[0] ?? null;
}

/** What the scripted model decides to say. */
export type Turn =
  | { kind: "text"; text: string }
  | { kind: "tool"; name: string; arguments: Json };

/** Decides from the last turn: a tool result → text quoting it; a tool request → a call; else plain text. */
export function decide(
  last: { isToolResult: boolean; text: string },
  tools: unknown,
): Turn {
  if (last.isToolResult) {
    const quoted = last.text.trim().slice(0, 300);
    return { kind: "text", text: `${TOOL_ANSWER_PREFIX} ${quoted}` };
  }
  const name = WANTS_TOOL.test(last.text) ? pickTool(tools) : null;
  if (name === null) return { kind: "text", text: PLAIN_ANSWER };
  return {
    kind: "tool",
    name,
    arguments: toolArguments(name, schemaOf(tools, name)),
  };
}

function sse(events: [string | null, Json | string][]): Response {
  const body = events.map(([type, data]) =>
    (type ? `event: ${type}\n` : "") +
    `data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`
  ).join("");
  return new Response(encoder.encode(body), {
    headers: {
      "content-type": "text/event-stream",
      "cache-control": "no-cache",
    },
  });
}

/** Answers `POST /v1/messages` (JSON or SSE). */
export function answerMessages(body: Json): Response {
  const messages = (body.messages ?? []) as Json[];
  const lastUser = [...messages].reverse().find((m) => m.role === "user");
  const content = lastUser?.content;
  const isToolResult = Array.isArray(content) &&
    content.some((p) => (p as Json).type === "tool_result");
  const turn = decide({ isToolResult, text: textOf(content) }, body.tools);
  const model = String(body.model);
  const block = turn.kind === "text" ? { type: "text", text: turn.text } : {
    type: "tool_use",
    id: "toolu_mock_1",
    name: turn.name,
    input: turn.arguments,
  };
  const stopReason = turn.kind === "text" ? "end_turn" : "tool_use";
  const usage = { input_tokens: 11, output_tokens: 4 };
  if (!body.stream) {
    return Response.json({
      id: "msg_mock_1",
      type: "message",
      role: "assistant",
      model,
      content: [block],
      stop_reason: stopReason,
      stop_sequence: null,
      usage,
    });
  }
  const ev = (
    type: string,
    data: Json,
  ): [string, Json] => [type, { type, ...data }];
  const delta = turn.kind === "text"
    ? { type: "text_delta", text: turn.text }
    : {
      type: "input_json_delta",
      partial_json: JSON.stringify(turn.arguments),
    };
  const start = turn.kind === "text"
    ? { type: "text", text: "" }
    : { ...block, input: {} };
  return sse([
    ev("message_start", {
      message: {
        id: "msg_mock_1",
        type: "message",
        role: "assistant",
        model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: 11, output_tokens: 1 },
      },
    }),
    ev("content_block_start", { index: 0, content_block: start }),
    ev("content_block_delta", { index: 0, delta }),
    ev("content_block_stop", { index: 0 }),
    ev("message_delta", {
      delta: { stop_reason: stopReason, stop_sequence: null },
      usage: { output_tokens: 4 },
    }),
    ev("message_stop", {}),
  ]);
}

/** Answers `POST /v1/responses` (JSON or SSE), the way the Responses API streams. */
export function answerResponses(body: Json): Response {
  const input = Array.isArray(body.input)
    ? body.input as Json[]
    : [{ type: "message", role: "user", content: String(body.input ?? "") }];
  const last = input.at(-1) ?? {};
  const isToolResult = last.type === "function_call_output" ||
    last.type === "custom_tool_call_output";
  const lastUser = [...input].reverse().find((i) => i.role === "user");
  const text = isToolResult
    ? (typeof last.output === "string" ? last.output : textOf(last.output))
    : textOf(lastUser?.content);
  // Codex 0.171 sends its tools as an `additional_tools` input item, not in `tools`.
  const offered = [
    ...(Array.isArray(body.tools) ? body.tools : []),
    ...input.filter((i) => i.type === "additional_tools").flatMap((i) =>
      i.tools as Json[]
    ),
  ];
  const turn = decide({ isToolResult, text }, offered);
  const model = String(body.model);
  const item: Json = turn.kind === "text"
    ? {
      type: "message",
      id: "msg_mock_1",
      status: "completed",
      role: "assistant",
      content: [{ type: "output_text", text: turn.text, annotations: [] }],
    }
    : turn.name === "exec"
    ? {
      type: "custom_tool_call",
      id: "ctc_mock_1",
      call_id: "call_mock_1",
      name: turn.name,
      input: turn.arguments.input,
      status: "completed",
    }
    : {
      type: "function_call",
      id: "fc_mock_1",
      call_id: "call_mock_1",
      name: turn.name,
      arguments: JSON.stringify(turn.arguments),
      status: "completed",
    };
  const usage = {
    input_tokens: 11,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: 4,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: 15,
  };
  const response = (status: string, output: Json[]): Json => ({
    id: "resp_mock_1",
    object: "response",
    created_at: Math.floor(Date.now() / 1000),
    status,
    model,
    output,
    usage: status === "completed" ? usage : null,
  });
  if (!body.stream) return Response.json(response("completed", [item]));
  let seq = 0;
  const ev = (type: string, data: Json): [string, Json] => [
    type,
    { type, sequence_number: seq++, ...data },
  ];
  const events: [string, Json][] = [
    ev("response.created", { response: response("in_progress", []) }),
    ev("response.in_progress", { response: response("in_progress", []) }),
  ];
  if (turn.kind === "text") {
    const part = { type: "output_text", text: "", annotations: [] };
    const ids = { item_id: item.id, output_index: 0, content_index: 0 };
    events.push(
      ev("response.output_item.added", {
        output_index: 0,
        item: { ...item, status: "in_progress", content: [] },
      }),
      ev("response.content_part.added", { ...ids, part }),
      ev("response.output_text.delta", { ...ids, delta: turn.text }),
      ev("response.output_text.done", { ...ids, text: turn.text }),
      ev("response.content_part.done", {
        ...ids,
        part: { ...part, text: turn.text },
      }),
    );
  } else if (item.type === "custom_tool_call") {
    events.push(
      ev("response.output_item.added", {
        output_index: 0,
        item: { ...item, input: "", status: "in_progress" },
      }),
      ev("response.custom_tool_call_input.delta", {
        item_id: item.id,
        output_index: 0,
        delta: item.input,
      }),
      ev("response.custom_tool_call_input.done", {
        item_id: item.id,
        output_index: 0,
        input: item.input,
      }),
    );
  } else {
    events.push(
      ev("response.output_item.added", {
        output_index: 0,
        item: { ...item, arguments: "", status: "in_progress" },
      }),
      ev("response.function_call_arguments.delta", {
        item_id: item.id,
        output_index: 0,
        delta: item.arguments,
      }),
      ev("response.function_call_arguments.done", {
        item_id: item.id,
        output_index: 0,
        arguments: item.arguments,
      }),
    );
  }
  events.push(
    ev("response.output_item.done", { output_index: 0, item }),
    ev("response.completed", { response: response("completed", [item]) }),
  );
  return sse(events);
}

/** The thinking a Claude model on Flow's Chat route gives when `reasoning_effort` asks for it. */
export const MOCK_THINKING = {
  type: "thinking",
  thinking: "The user wants something; I will answer.",
  signature: "mock-signature-1",
};

/** Whether a Chat request makes the mock think: a Claude model with `reasoning_effort` (LiteLLM turns it into Anthropic's thinking). */
export function chatThinks(body: Json): boolean {
  return typeof body.reasoning_effort === "string" &&
    body.reasoning_effort !== "none" &&
    String(body.model).startsWith("anthropic.");
}

/** Answers `POST /v1/chat/completions` (JSON or SSE, with tool calls; with LiteLLM's thinking fields for a thinking Claude). */
export function answerChat(body: Json): Response {
  const messages = (body.messages ?? []) as Json[];
  const last = messages.at(-1) ?? {};
  const isToolResult = last.role === "tool";
  const turn = decide({ isToolResult, text: textOf(last.content) }, body.tools);
  const model = String(body.model);
  const thinking = chatThinks(body)
    ? {
      reasoning_content: MOCK_THINKING.thinking,
      thinking_blocks: [MOCK_THINKING],
    }
    : null;
  const toolCall = turn.kind === "tool"
    ? {
      id: "call_mock_1",
      type: "function",
      function: { name: turn.name, arguments: JSON.stringify(turn.arguments) },
    }
    : null;
  const finish = toolCall ? "tool_calls" : "stop";
  const usage = { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 };
  const base = {
    id: "chatcmpl-mock",
    created: Math.floor(Date.now() / 1000),
    model,
  };
  if (!body.stream) {
    return Response.json({
      ...base,
      object: "chat.completion",
      choices: [{
        index: 0,
        message: {
          role: "assistant",
          content: turn.kind === "text" ? turn.text : null,
          ...(thinking ?? {}),
          ...(toolCall ? { tool_calls: [toolCall] } : {}),
        },
        finish_reason: finish,
      }],
      usage,
    });
  }
  const chunk = (
    delta: Json,
    finishReason: string | null = null,
  ): [null, Json] => [
    null,
    {
      ...base,
      object: "chat.completion.chunk",
      choices: [{ index: 0, delta, finish_reason: finishReason }],
    },
  ];
  const delta = toolCall
    ? { tool_calls: [{ index: 0, ...toolCall }] }
    : { content: (turn as { text: string }).text };
  const thought: [null, Json][] = thinking
    ? [
      chunk({ reasoning_content: MOCK_THINKING.thinking }),
      chunk({ thinking_blocks: [{ ...MOCK_THINKING, thinking: "" }] }),
    ]
    : [];
  return sse([
    chunk({ role: "assistant", content: "" }),
    ...thought,
    chunk(delta),
    chunk({}, finish),
    [null, { ...base, object: "chat.completion.chunk", choices: [], usage }],
    [null, "[DONE]"],
  ]);
}
