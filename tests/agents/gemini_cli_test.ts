/**
 * Acceptance (issue 15): the real `gemini` CLI (npm `@google/gemini-cli`),
 * set up as docs/clients.md says, on Flow models none of which is served on
 * Gemini's API (Gemini, GPT and Claude): flow-proxy translates its
 * `streamGenerateContent?alt=sse` requests to Chat Completions and the
 * answers back. Same jail as the other agent tests: loopback-only network
 * namespace, temp HOME, usage statistics off.
 */
import assert from "node:assert/strict";
import { PLAIN_ANSWER, TOOL_ANSWER_PREFIX } from "../support/mock_flow_llm.ts";
import { assertCleanRun, runAgent } from "./run.ts";
import type { ScenarioConfig, ScenarioResult } from "./scenario.ts";
import { exportedVariables, snippet, templated } from "./client_setups.ts";

const BOUND_MS = 120_000;

/** The docs' variables, plus trust for the fresh working directory (headless runs need it). */
function geminiEnv(): Record<string, string> {
  return {
    ...exportedVariables(templated(snippet("gemini-cli"))),
    GEMINI_CLI_TRUST_WORKSPACE: "true",
  };
}

/** `gemini -p` with the docs' settings; `model` null keeps the settings' model. */
function gemini(
  model: string | null,
  prompt: string,
  ...flags: string[]
): ScenarioConfig {
  return {
    client: "gemini",
    args: [
      ...(model === null ? [] : ["-m", model]),
      "-p",
      prompt,
      "--output-format",
      "json",
      ...flags,
    ],
    env: geminiEnv(),
    homeFiles: { ".gemini/settings.json": snippet("gemini-cli-settings") },
    timeoutMs: BOUND_MS,
  };
}

/** The answer of `gemini -p --output-format json` (its stdout when not JSON). */
function responseText(stdout: string): string {
  try {
    return String(JSON.parse(stdout).response ?? "");
  } catch {
    return stdout;
  }
}

/** Flow saw only Chat Completions, for `model`; the proxy says it translated. */
function assertTranslated(result: ScenarioResult, model: string): void {
  const paths = result.flow.map((r) => r.path);
  assert.ok(paths.length > 0, "Mock Flow saw no request");
  assert.deepEqual(
    [...new Set(paths)],
    ["/v1/chat/completions"],
    `Mock Flow saw: ${paths.join(", ")}`,
  );
  const models = result.flow.map((r) => (r.body as { model?: string }).model);
  assert.deepEqual([...new Set(models)], [model]);
  assert.match(
    result.proxyLogs,
    new RegExp(
      `Translated Gemini generateContent to Chat Completions for '${
        model.replaceAll(".", "\\.")
      }'`,
    ),
  );
}

Deno.test("docs/clients.md's Gemini CLI set-up names the base URL, the key and a Flow model", () => {
  const env = exportedVariables(snippet("gemini-cli"));
  assert.deepEqual(Object.keys(env).sort(), [
    "GEMINI_API_KEY",
    "GOOGLE_GEMINI_BASE_URL",
  ]);
  assert.equal(env.GOOGLE_GEMINI_BASE_URL, "http://127.0.0.1:8899");
  const settings = JSON.parse(snippet("gemini-cli-settings"));
  assert.equal(settings.security.auth.selectedType, "gemini-api-key");
  assert.equal(settings.model.name, "gemini-2.5-pro");
  assert.equal(settings.privacy.usageStatisticsEnabled, false);
});

for (
  const model of ["gemini-2.5-pro", "gpt-4o", "anthropic.claude-4-5-sonnet"]
) {
  // The settings name gemini-2.5-pro; the other model comes with -m.
  const flag = model === "gemini-2.5-pro" ? null : model;

  Deno.test(`gemini -p on ${model} answers a plain prompt through flow-proxy's translation`, async () => {
    const result = await runAgent(gemini(flag, "Say hello"));
    assertCleanRun(result, { client: "gemini", boundMs: BOUND_MS });
    assertTranslated(result, model);
    assert.match(responseText(result.stdout), new RegExp(PLAIN_ANSWER));
  });

  Deno.test(`gemini -p on ${model} runs its shell tool through flow-proxy's translation`, async () => {
    const result = await runAgent(
      gemini(
        flag,
        "List the files in the current directory",
        "--approval-mode",
        "yolo",
      ),
    );
    assertCleanRun(result, { client: "gemini", boundMs: BOUND_MS });
    assertTranslated(result, model);
    const toolResult = result.flow.some((r) =>
      JSON.stringify((r.body as { messages?: unknown }).messages).includes(
        '"role":"tool"',
      )
    );
    assert.ok(toolResult, "the shell tool's result never reached Flow");
    const text = responseText(result.stdout);
    assert.match(text, new RegExp(TOOL_ANSWER_PREFIX));
    assert.match(text, new RegExp(result.marker.replaceAll(".", "\\.")));
  });
}
