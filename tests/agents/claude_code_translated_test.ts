/**
 * Acceptance (issue 15, first direction): the real `claude` CLI on GPT-5,
 * a model Flow serves on Chat Completions only, through flow-proxy, which
 * translates its Anthropic Messages requests to Chat Completions and the
 * answers back. Same jail as tests/agents/claude_code_test.ts.
 */
import assert from "node:assert/strict";
import { PLAIN_ANSWER, TOOL_ANSWER_PREFIX } from "../support/mock_flow_llm.ts";
import {
  assertFlowAccepted,
  assertFlowModelsOnly,
  assertNothingLeft,
  runAgent,
} from "./run.ts";
import type { ScenarioConfig, ScenarioResult } from "./scenario.ts";
import { claudeCodeEnv } from "./client_setups.ts";

const BOUND_MS = 120_000;

/** The docs' set-up plus the model: GPT-5, and GPT-5 mini for the small calls. */
const ON_GPT5 = {
  ...claudeCodeEnv(),
  ANTHROPIC_MODEL: "gpt-5",
  ANTHROPIC_SMALL_FAST_MODEL: "gpt-5-mini",
  ANTHROPIC_DEFAULT_HAIKU_MODEL: "gpt-5-mini",
};

function claude(prompt: string, ...flags: string[]): ScenarioConfig {
  return {
    client: "claude",
    args: ["-p", prompt, "--output-format", "json", ...flags],
    env: ON_GPT5,
    timeoutMs: BOUND_MS,
  };
}

function resultText(stdout: string): string {
  try {
    return String(JSON.parse(stdout).result ?? "");
  } catch {
    return stdout;
  }
}

/** Every request reached Flow on Chat Completions, the main ones for gpt-5. */
function assertTranslated(result: ScenarioResult): void {
  const paths = result.flow.map((r) => r.path);
  assert.ok(
    !paths.some((p) => p.startsWith("/v1/messages")),
    `Mock Flow saw Anthropic Messages requests: ${paths.join(", ")}`,
  );
  const models = result.flow.filter((r) => r.path === "/v1/chat/completions")
    .map((r) => (r.body as { model?: string }).model);
  assert.ok(models.includes("gpt-5"), `models seen: ${models.join(", ")}`);
}

Deno.test("claude -p on gpt-5 answers a plain prompt through flow-proxy's translation", async () => {
  const result = await runAgent(claude("Say hello"));
  assertNothingLeft(result);
  assertFlowAccepted(result);
  assertFlowModelsOnly(result);
  assert.equal(
    result.timedOut,
    false,
    `claude did not finish in ${BOUND_MS} ms`,
  );
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assertTranslated(result);
  assert.match(resultText(result.stdout), new RegExp(PLAIN_ANSWER));
});

Deno.test("claude -p on gpt-5 runs its Bash tool through flow-proxy's translation", async () => {
  const result = await runAgent(
    claude("List the files in the current directory", "--allowedTools", "Bash"),
  );
  assertNothingLeft(result);
  assertFlowAccepted(result);
  assertFlowModelsOnly(result);
  assert.equal(
    result.timedOut,
    false,
    `claude did not finish in ${BOUND_MS} ms`,
  );
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assertTranslated(result);
  const toolResult = result.flow.some((r) =>
    JSON.stringify((r.body as { messages?: unknown }).messages).includes(
      '"role":"tool"',
    )
  );
  assert.ok(toolResult, "the Bash tool's result never reached Flow");
  const text = resultText(result.stdout);
  assert.match(text, new RegExp(TOOL_ANSWER_PREFIX));
  assert.match(text, new RegExp(result.marker.replaceAll(".", "\\.")));
});
