/**
 * Acceptance (issue 15, first direction): the real `claude` CLI on GPT-5
 * and on Gemini, models Flow serves on Chat Completions only, through flow-proxy, which
 * translates its Anthropic Messages requests to Chat Completions and the
 * answers back. Same jail as tests/agents/claude_code_test.ts.
 */
import assert from "node:assert/strict";
import { PLAIN_ANSWER, TOOL_ANSWER_PREFIX } from "../support/mock_flow_llm.ts";
import { assertCleanRun, claudeResultText, runAgent } from "./run.ts";
import type { ScenarioConfig, ScenarioResult } from "./scenario.ts";
import { claudeCodeEnv } from "./client_setups.ts";

const BOUND_MS = 120_000;

/** The docs' set-up plus the model (GPT-5 mini for GPT-5's small calls). */
function modelEnv(model: string): Record<string, string> {
  const small = model === "gpt-5" ? "gpt-5-mini" : model;
  return {
    ...claudeCodeEnv(),
    ANTHROPIC_MODEL: model,
    ANTHROPIC_SMALL_FAST_MODEL: small,
    ANTHROPIC_DEFAULT_HAIKU_MODEL: small,
  };
}

function claude(
  model: string,
  prompt: string,
  ...flags: string[]
): ScenarioConfig {
  return {
    client: "claude",
    args: ["-p", prompt, "--output-format", "json", ...flags],
    env: modelEnv(model),
    timeoutMs: BOUND_MS,
  };
}

/** Every request reached Flow on Chat Completions, the main ones for `model`. */
function assertTranslated(result: ScenarioResult, model: string): void {
  const paths = result.flow.map((r) => r.path);
  assert.ok(
    !paths.some((p) => p.startsWith("/v1/messages")),
    `Mock Flow saw Anthropic Messages requests: ${paths.join(", ")}`,
  );
  const models = result.flow.filter((r) => r.path === "/v1/chat/completions")
    .map((r) => (r.body as { model?: string }).model);
  assert.ok(models.includes(model), `models seen: ${models.join(", ")}`);
}

for (const model of ["gpt-5", "gemini-2.5-pro"]) {
  Deno.test(`claude -p on ${model} answers a plain prompt through flow-proxy's translation`, async () => {
    const result = await runAgent(claude(model, "Say hello"));
    assertCleanRun(result, { client: "claude", boundMs: BOUND_MS });
    assertTranslated(result, model);
    assert.match(claudeResultText(result.stdout), new RegExp(PLAIN_ANSWER));
  });

  Deno.test(`claude -p on ${model} runs its Bash tool through flow-proxy's translation`, async () => {
    const result = await runAgent(
      claude(
        model,
        "List the files in the current directory",
        "--allowedTools",
        "Bash",
      ),
    );
    assertCleanRun(result, { client: "claude", boundMs: BOUND_MS });
    assertTranslated(result, model);
    const toolResult = result.flow.some((r) =>
      JSON.stringify((r.body as { messages?: unknown }).messages).includes(
        '"role":"tool"',
      )
    );
    assert.ok(toolResult, "the Bash tool's result never reached Flow");
    const text = claudeResultText(result.stdout);
    assert.match(text, new RegExp(TOOL_ANSWER_PREFIX));
    assert.match(text, new RegExp(result.marker.replaceAll(".", "\\.")));
  });
}
