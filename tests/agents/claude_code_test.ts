/**
 * Acceptance (issue 14): the real `claude` CLI, pinned in tests/agents/cli,
 * with nothing but a base URL and a key, through flow-proxy, against a mock
 * Flow that refuses what Flow refuses — inside a loopback-only network
 * namespace. Fails until flow-proxy maps Claude Code's model ids and makes
 * its requests acceptable to Bedrock.
 */
import assert from "node:assert/strict";
import { PLAIN_ANSWER, TOOL_ANSWER_PREFIX } from "../support/mock_flow_llm.ts";
import {
  assertCleanRun,
  claudeResultText,
  outsideHosts,
  runAgent,
} from "./run.ts";
import type { ScenarioConfig } from "./scenario.ts";
import { claudeCodeEnv } from "./client_setups.ts";

/** The whole set-up a user makes, as docs/clients.md gives it: where flow-proxy is, and a key. */
const ONLY_BASE_URL_AND_KEY = claudeCodeEnv();
const BOUND_MS = 120_000;

function claude(prompt: string, ...flags: string[]): ScenarioConfig {
  return {
    client: "claude",
    args: ["-p", prompt, "--output-format", "json", ...flags],
    env: ONLY_BASE_URL_AND_KEY,
    timeoutMs: BOUND_MS,
  };
}

Deno.test("claude -p answers a plain prompt through flow-proxy with only a base URL and a key", async () => {
  const result = await runAgent(claude("Say hello"));
  // deno-lint-ignore no-console
  console.log(
    `claude: outside hosts tried: ${outsideHosts(result).join(", ") || "none"}`,
  );
  assertCleanRun(result, { client: "claude", boundMs: BOUND_MS });
  assert.match(claudeResultText(result.stdout), new RegExp(PLAIN_ANSWER));
});

Deno.test("claude -p runs its Bash tool to list a directory through flow-proxy", async () => {
  const result = await runAgent(
    claude("List the files in the current directory", "--allowedTools", "Bash"),
  );
  assertCleanRun(result, { client: "claude", boundMs: BOUND_MS });
  const calls = result.flow.filter((r) => r.path === "/v1/messages");
  const toolResult = calls.some((r) =>
    JSON.stringify((r.body as { messages?: unknown }).messages).includes(
      '"tool_result"',
    )
  );
  assert.ok(toolResult, "claude never sent the Bash tool's result back");
  const text = claudeResultText(result.stdout);
  assert.match(text, new RegExp(TOOL_ANSWER_PREFIX));
  assert.match(text, new RegExp(result.marker.replaceAll(".", "\\.")));
});
