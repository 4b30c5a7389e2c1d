/**
 * Acceptance (issue 14): the real `codex` CLI, pinned in tests/agents/cli,
 * on its DEFAULT model with the smallest `config.toml` (one provider block),
 * through flow-proxy, against a mock Flow that serves only Flow's model
 * names — inside a loopback-only network namespace. Fails until flow-proxy
 * maps Codex's default model and refuses the WebSocket upgrade at once.
 */
import assert from "node:assert/strict";
import { PLAIN_ANSWER, TOOL_ANSWER_PREFIX } from "../support/mock_flow_llm.ts";
import {
  assertCleanRun,
  assertNothingLeft,
  CODEX_TELEMETRY_OFF,
  outsideHosts,
  runAgent,
} from "./run.ts";
import type { ScenarioConfig } from "./scenario.ts";
import {
  codexConfigToml,
  codexEnv,
  codexOpenAiBaseUrlToml,
} from "./client_setups.ts";

/** The smallest Codex set-up that uses flow-proxy, as docs/clients.md gives it: a provider block and a key. */
const MINIMAL_CONFIG = codexConfigToml();
/** The one-line set-up docs/clients.md gives for Codex's built-in provider. */
const BUILT_IN_PROVIDER_CONFIG = codexOpenAiBaseUrlToml();
const BOUND_MS = 120_000;

function codex(prompt: string, config = MINIMAL_CONFIG): ScenarioConfig {
  return {
    client: "codex",
    args: ["exec", "--skip-git-repo-check", prompt],
    env: codexEnv(),
    // The telemetry switches come after the user's part (tables end the root keys).
    homeFiles: { ".codex/config.toml": `${config}\n${CODEX_TELEMETRY_OFF}` },
    timeoutMs: BOUND_MS,
  };
}

Deno.test("codex exec answers on its default model through flow-proxy", async () => {
  const result = await runAgent(codex("Say hello"));
  // deno-lint-ignore no-console
  console.log(
    `codex: outside hosts tried: ${outsideHosts(result).join(", ") || "none"}`,
  );
  assertCleanRun(result, { client: "codex", boundMs: BOUND_MS });
  assert.match(result.stdout, new RegExp(PLAIN_ANSWER));
});

Deno.test("codex hanging up on response.completed while Flow keeps the stream open is a completed request", async () => {
  // Flow closes 3 s after its last event; Codex leaves as soon as it has it.
  const result = await runAgent({ ...codex("Say hello"), lingerMs: 3000 });
  assertNothingLeft(result);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.match(result.stdout, new RegExp(PLAIN_ANSWER));
  const lines = result.proxyLogs.split("\n").filter((l) =>
    /for POST \/v1\/responses: /.test(l)
  );
  assert.ok(lines.length > 0, result.proxyLogs);
  for (const line of lines) {
    assert.match(line, /: 200 in /, line);
    assert.doesNotMatch(line, /client_cancel/, line);
  }
});

Deno.test("codex exec runs a shell command through flow-proxy", async () => {
  const result = await runAgent(
    codex("List the files in the current directory"),
  );
  assertCleanRun(result, { client: "codex", boundMs: BOUND_MS });
  const posts = result.flow.filter((r) =>
    r.method === "POST" && r.path === "/v1/responses"
  );
  assert.ok(
    posts.some((r) =>
      JSON.stringify(r.body).includes("custom_tool_call_output")
    ),
    "codex never sent the tool's output back",
  );
  assert.match(result.stdout, new RegExp(TOOL_ANSWER_PREFIX));
  assert.match(result.stdout, new RegExp(result.marker.replaceAll(".", "\\.")));
});

Deno.test("codex falls back from the Responses WebSocket to HTTP at once through flow-proxy", async () => {
  // openai_base_url keeps the built-in provider, which tries the WebSocket first.
  const result = await runAgent({
    ...codex("Say hello", BUILT_IN_PROVIDER_CONFIG),
    env: { OPENAI_API_KEY: "any-client-key" },
  });
  const upgrades = result.flow.filter((r) =>
    r.method === "GET" && r.path === "/v1/responses"
  );
  assert.equal(
    upgrades.length,
    0,
    `flow-proxy forwarded ${upgrades.length} WebSocket upgrade(s) to Flow instead of refusing them itself`,
  );
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.match(result.stdout, new RegExp(PLAIN_ANSWER));
  // Codex retries a refused upgrade for ~6 s; refused right, it falls back after one try.
  assert.ok(
    result.durationMs < 5_000,
    `codex took ${result.durationMs} ms: it kept retrying the WebSocket`,
  );
});
