/**
 * Acceptance (issue 15, Responses ⇄ Chat Completions): the real `codex` CLI
 * on a Claude model, which Flow serves on Messages and Chat Completions but
 * not on the Responses API Codex speaks, through flow-proxy, which
 * translates. Same jail and set-up as tests/agents/codex_test.ts; the mock
 * Flow refuses `/v1/responses` for Claude, so a pass-through would fail.
 */
import assert from "node:assert/strict";
import {
  MOCK_THINKING,
  PLAIN_ANSWER,
  TOOL_ANSWER_PREFIX,
} from "../support/mock_flow_llm.ts";
import { assertCleanRun, CODEX_TELEMETRY_OFF, runAgent } from "./run.ts";
import type { ScenarioConfig, ScenarioResult } from "./scenario.ts";
import { codexConfigToml, codexEnv } from "./client_setups.ts";

const BOUND_MS = 120_000;
const MODEL = "claude-sonnet-4-5";
const FLOW_MODEL = "anthropic.claude-4-5-sonnet";

function codex(prompt: string, ...flags: string[]): ScenarioConfig {
  return {
    client: "codex",
    args: ["exec", "--skip-git-repo-check", "-m", MODEL, ...flags, prompt],
    env: codexEnv(),
    homeFiles: {
      ".codex/config.toml": `${codexConfigToml()}\n${CODEX_TELEMETRY_OFF}`,
    },
    timeoutMs: BOUND_MS,
  };
}

/** Flow saw Chat Completions only, for the Claude model, and refused nothing. */
function assertTranslated(result: ScenarioResult): void {
  const posts = result.flow.filter((r) => r.method === "POST");
  assert.ok(posts.length > 0, "Flow saw no request");
  const paths = [...new Set(posts.map((r) => r.path))];
  assert.deepEqual(paths, ["/v1/chat/completions"]);
  const models = posts.map((r) => (r.body as { model?: string }).model);
  assert.ok(models.every((m) => m === FLOW_MODEL), models.join(", "));
  assert.deepEqual(result.refusals, []);
}

Deno.test(`codex exec on ${MODEL} answers a plain prompt through flow-proxy's translation`, async () => {
  const result = await runAgent(codex("Say hello"));
  assertCleanRun(result, { client: "codex", boundMs: BOUND_MS });
  assertTranslated(result);
  assert.match(result.stdout, new RegExp(PLAIN_ANSWER));
});

Deno.test(`codex exec on ${MODEL} runs a shell command through flow-proxy's translation`, async () => {
  const result = await runAgent(
    codex("List the files in the current directory"),
  );
  assertCleanRun(result, { client: "codex", boundMs: BOUND_MS });
  assertTranslated(result);
  const last = result.flow.at(-1)!.body as {
    messages: { role: string; content: unknown; tool_calls?: unknown[] }[];
  };
  const tool = last.messages.find((m) => m.role === "tool");
  assert.ok(tool, "the shell tool's result never reached Flow");
  assert.match(
    String(tool.content),
    new RegExp(result.marker.replaceAll(".", "\\.")),
  );
  assert.ok(
    last.messages.some((m) => m.role === "assistant" && m.tool_calls?.length),
    "the call was not sent back as an assistant tool_calls message",
  );
  assert.match(result.stdout, new RegExp(TOOL_ANSWER_PREFIX));
  assert.match(result.stdout, new RegExp(result.marker.replaceAll(".", "\\.")));
});

Deno.test(`codex exec on ${MODEL} with reasoning gives Claude its signed thinking back on the tool loop's next turn`, async () => {
  // The mock refuses a thinking Claude's tool turn without its signed thinking, as Anthropic does.
  const result = await runAgent(
    codex(
      "List the files in the current directory",
      "-c",
      'model_reasoning_effort="high"',
    ),
  );
  assertCleanRun(result, { client: "codex", boundMs: BOUND_MS });
  assertTranslated(result);
  const last = result.flow.at(-1)!.body as {
    reasoning_effort?: string;
    messages: { role: string; thinking_blocks?: unknown[] }[];
  };
  assert.equal(last.reasoning_effort, "high");
  const turn = last.messages.find((m) => m.role === "assistant");
  assert.deepEqual(turn?.thinking_blocks, [MOCK_THINKING]);
  assert.match(result.stdout, new RegExp(TOOL_ANSWER_PREFIX));
});
