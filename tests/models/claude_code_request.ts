/**
 * A request in the shape Claude Code 2.1.197 sends (`POST
 * /v1/messages?beta=true`), for the rewrite's tests and benchmark.
 */

/** The `anthropic-beta` header Claude Code 2.1.197 sends. */
export const CLAUDE_CODE_BETAS = "claude-code-20250219," +
  "context-1m-2025-08-07, interleaved-thinking-2025-05-14," +
  "context-management-2025-06-27,prompt-caching-scope-2026-01-05," +
  "mid-conversation-system-2026-03-01,effort-2025-11-24," +
  "structured-outputs-2025-11-13";

/** Options of {@linkcode claudeCodeRequest}. */
export interface ClaudeCodeRequestOptions {
  /** Extra tool-use round trips in the history, ~2.3 KB each. */
  turns?: number;
}

/** The text of the long system prompt block. */
export const SYSTEM_PROMPT = "You are an interactive CLI tool that helps " +
  "users with software engineering tasks. ".repeat(120);

/** A Claude Code request body as an object, keys in Claude Code's order. */
export function claudeCodeRequest(
  options: ClaudeCodeRequestOptions = {},
): Record<string, unknown> {
  const history: unknown[] = [];
  for (let i = 0; i < (options.turns ?? 0); i++) {
    history.push(
      {
        role: "assistant",
        content: [
          {
            type: "thinking",
            thinking: `Step ${i}: I should look at the file next. `.repeat(8),
            signature: "EqQBCkYIBxgCKkB" + "a".repeat(200),
          },
          {
            type: "tool_use",
            id: `toolu_${String(i).padStart(4, "0")}`,
            name: "Read",
            input: { file_path: `/repo/src/file_${i}.ts`, limit: 2000 },
          },
        ],
      },
      {
        role: "user",
        content: [{
          type: "tool_result",
          tool_use_id: `toolu_${String(i).padStart(4, "0")}`,
          content: `     1\texport function f${i}(x: number): number {\n` +
            "     2\t  return x * 2; // ünïcödé\n".repeat(40),
        }],
      },
    );
  }
  return {
    model: "claude-opus-4-8",
    messages: [
      {
        role: "user",
        content: [
          {
            type: "text",
            text: "<system-reminder>\nAs you answer, use this context.\n" +
              "</system-reminder>",
          },
          { type: "text", text: "list the files in this directory" },
        ],
      },
      {
        role: "system",
        content: [{
          type: "text",
          text: "Today's date is 2026-12-02. The working directory is /repo.",
          cache_control: { type: "ephemeral" },
        }],
      },
      ...history,
      {
        role: "assistant",
        content: [{
          type: "tool_use",
          id: "toolu_last",
          name: "Bash",
          input: { command: "ls -la", description: "List files" },
        }],
      },
      {
        role: "user",
        content: [{
          type: "tool_result",
          tool_use_id: "toolu_last",
          content: "README.md\nsrc\ntests",
          cache_control: { type: "ephemeral" },
        }],
      },
    ],
    system: [
      {
        type: "text",
        text: "You are Claude Code, Anthropic's official CLI for Claude.",
        cache_control: { type: "ephemeral", scope: "global" },
      },
      {
        type: "text",
        text: SYSTEM_PROMPT,
        cache_control: { type: "ephemeral" },
      },
    ],
    tools: ["Bash", "Read", "Edit", "Glob", "Grep"].map((name) => ({
      name,
      description: `${name} tool. `.repeat(60),
      input_schema: {
        $schema: "http://json-schema.org/draft-07/schema#",
        type: "object",
        properties: {
          command: { type: "string", description: "What to run" },
          timeout: { type: "number", maximum: 600000 },
        },
        required: ["command"],
        additionalProperties: false,
      },
    })),
    metadata: { user_id: "user_0123abcd_account__session_4567" },
    max_tokens: 64000,
    thinking: { type: "adaptive" },
    context_management: {
      edits: [{ type: "clear_thinking_20251015", keep: "all" }],
    },
    output_config: { effort: "high" },
    stream: true,
  };
}
