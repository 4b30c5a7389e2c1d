/**
 * The outside half of an agent test: runs `scenario.ts` in a fresh
 * loopback-only network namespace and returns what it reported, plus the
 * assertions every agent test shares.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { FLOW_MODELS } from "../support/mock_flow.ts";
import { runInNetworkJail } from "./jail.ts";
import type { ScenarioConfig, ScenarioResult } from "./scenario.ts";

const SCENARIO = fileURLToPath(new URL("./scenario.ts", import.meta.url));
const CONFIG = fileURLToPath(new URL("../../deno.json", import.meta.url));
const BINS = fileURLToPath(
  new URL("./cli/node_modules/.bin/", import.meta.url),
);

/** Codex settings that keep it quiet: no update check, no analytics, no feedback uploads. */
export const CODEX_TELEMETRY_OFF = `check_for_update_on_startup = false

[analytics]
enabled = false

[feedback]
enabled = false
`;

/** Hosts a prompt would go to if a client ignored its base URL. */
export const MODEL_API_HOSTS = ["api.anthropic.com", "api.openai.com"];

/** Runs one scenario inside the jail; throws when the CLIs are not installed or the scenario broke. */
export async function runAgent(
  config: ScenarioConfig,
): Promise<ScenarioResult> {
  try {
    Deno.statSync(`${BINS}${config.client}`);
  } catch {
    throw new Error(
      `Cannot run the agent tests: ${config.client} is not installed: run "npm ci --prefix tests/agents/cli"`,
    );
  }
  const out = await runInNetworkJail(
    [
      Deno.execPath(),
      "run",
      "-A",
      "--config",
      CONFIG,
      SCENARIO,
      JSON.stringify(config),
    ],
    { timeoutMs: (config.timeoutMs ?? 180_000) + 60_000 },
  );
  if (out.code !== 0) {
    throw new Error(
      `Agent scenario failed (exit ${out.code}): ${out.stderr.slice(-4000)}`,
    );
  }
  return JSON.parse(out.stdout) as ScenarioResult;
}

/** A readable list of what the mock Flow refused, one line each. */
export function describeRefusals(result: ScenarioResult): string {
  return result.refusals.map((r) =>
    [
      `  ${r.path} model '${r.model}' — ${r.rule}: ${r.message}`,
      ...r.alsoBreaks.map((v) =>
        `      and would break ${v.rule}: ${v.message}`
      ),
    ].join("\n")
  ).join("\n");
}

/** Throws, listing every refusal, when the mock Flow refused anything. */
export function assertFlowAccepted(result: ScenarioResult): void {
  if (result.refusals.length === 0) return;
  throw new Error(
    `Mock Flow refused ${result.refusals.length} request(s) (what flow-proxy still has to rewrite):\n${
      describeRefusals(result)
    }\nclient exit ${result.code}; stdout: ${result.stdout.slice(0, 600)}`,
  );
}

/** Throws when a request reached the mock under a name Flow does not serve. */
export function assertFlowModelsOnly(result: ScenarioResult): void {
  const foreign = result.flow.flatMap((r) => {
    const model = (r.body as { model?: unknown } | null)?.model;
    return typeof model === "string" && !(model in FLOW_MODELS) ? [model] : [];
  });
  if (foreign.length) {
    throw new Error(
      `Mock Flow saw model names Flow does not serve: ${
        [...new Set(foreign)].join(", ")
      }`,
    );
  }
}

/** Throws when anything that could carry a prompt left for an outside host. */
export function assertNothingLeft(result: ScenarioResult): void {
  const bad = result.outside.filter((r) =>
    r.bodyBytes > 0 || MODEL_API_HOSTS.some((h) => r.host.split(":")[0] === h)
  );
  if (bad.length) {
    throw new Error(
      `A prompt was sent outside the machine: ${JSON.stringify(bad)}`,
    );
  }
}

/** The distinct outside hosts the client tried (for the report). */
export function outsideHosts(result: ScenarioResult): string[] {
  return [...new Set(result.outside.map((r) => r.host))].sort();
}

/**
 * What every successful agent run shows: nothing left the machine, Flow took
 * every request and saw only its own model names, and `client` finished
 * within `boundMs` with exit code 0.
 */
export function assertCleanRun(
  result: ScenarioResult,
  options: { client: string; boundMs: number },
): void {
  assertNothingLeft(result);
  assertFlowAccepted(result);
  assertFlowModelsOnly(result);
  assert.equal(
    result.timedOut,
    false,
    `${options.client} did not finish within ${options.boundMs} ms`,
  );
  assert.equal(result.code, 0, result.stdout + result.stderr);
}

/** The answer text of `claude -p --output-format json` (its stdout when not JSON). */
export function claudeResultText(stdout: string): string {
  try {
    return String(JSON.parse(stdout).result ?? "");
  } catch {
    return stdout;
  }
}
