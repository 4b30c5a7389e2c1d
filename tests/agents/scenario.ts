/**
 * What runs INSIDE the network namespace (the namespace has its own
 * loopback, so everything a client talks to must start here too): the
 * recording refuser, the mock Flow, `flow-proxy serve` in front of it (or
 * nothing, for `via: "direct"`), then one real agent CLI. Prints one JSON
 * {@linkcode ScenarioResult} on stdout for the test outside.
 *
 * Usage: deno run -A tests/agents/scenario.ts '<ScenarioConfig as JSON>'
 */
import { fileURLToPath } from "node:url";
import {
  type FlowRefusal,
  type FlowRequest,
  type FlowRules,
  MockFlow,
  type WebSocketAnswer,
} from "../support/mock_flow.ts";
import { startProxy, testCredentials, writeSecrets } from "../support/proxy.ts";
import { agentEnv } from "./jail.ts";
import { type RefusedRequest, startRefuser } from "./refuser.ts";

/** What to run. `{{BASE_URL}}` in `args`, `env` and `files` becomes the URL the client is pointed at. */
export interface ScenarioConfig {
  client: "claude" | "codex" | "gemini";
  args: string[];
  /** Through flow-proxy (default) or straight at the mock. */
  via?: "proxy" | "direct";
  rules?: FlowRules;
  webSocket?: WebSocketAnswer;
  /** The mock Flow keeps event streams open this long after their last event. */
  lingerMs?: number;
  /** The client's variables (base URL, key). */
  env?: Record<string, string>;
  /** Files to write, relative to the client's HOME (e.g. `.codex/config.toml`). */
  homeFiles?: Record<string, string>;
  /** Kill the client after this long (default 180 s). */
  timeoutMs?: number;
}

/** What happened. */
export interface ScenarioResult {
  code: number;
  timedOut: boolean;
  durationMs: number;
  stdout: string;
  stderr: string;
  /** The marker file in the client's working directory (a directory listing shows it). */
  marker: string;
  /** What the mock Flow received, in order. */
  flow: FlowRequest[];
  refusals: FlowRefusal[];
  /** What the refuser turned away. */
  outside: RefusedRequest[];
  proxyLogs: string;
}

const AGENTS = fileURLToPath(new URL("./", import.meta.url));
const BINS: Record<ScenarioConfig["client"], string> = {
  claude: `${AGENTS}cli/node_modules/.bin/claude`,
  codex: `${AGENTS}cli/node_modules/.bin/codex`,
  gemini: `${AGENTS}cli/node_modules/.bin/gemini`,
};

/** The marker file name the working directory holds. */
export const MARKER = "flow-proxy-marker.txt";

function fill(text: string, baseUrl: string): string {
  return text.replaceAll("{{BASE_URL}}", baseUrl);
}

async function runClient(
  config: ScenarioConfig,
  env: Record<string, string>,
  cwd: string,
): Promise<
  {
    code: number;
    timedOut: boolean;
    stdout: string;
    stderr: string;
    durationMs: number;
  }
> {
  const started = performance.now();
  const child = new Deno.Command(BINS[config.client], {
    args: config.args,
    env,
    clearEnv: true,
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }, config.timeoutMs ?? 180_000);
  const out = await child.output();
  clearTimeout(timer);
  const d = new TextDecoder();
  return {
    code: out.code,
    timedOut,
    stdout: d.decode(out.stdout),
    stderr: d.decode(out.stderr),
    durationMs: Math.round(performance.now() - started),
  };
}

/** Runs one scenario (must already be inside the namespace). */
export async function runScenario(
  config: ScenarioConfig,
): Promise<ScenarioResult> {
  const refuser = startRefuser();
  const creds = testCredentials(1, "agent");
  const flow = MockFlow.start({
    credentials: creds,
    rules: config.rules,
    webSocket: config.webSocket,
    lingerMs: config.lingerMs,
    acceptAnyToken: config.via === "direct",
  });
  const home = Deno.makeTempDirSync({ prefix: "agent-home-" });
  Deno.mkdirSync(`${home}/tmp`);
  const work = Deno.makeTempDirSync({ prefix: "agent-work-" });
  Deno.writeTextFileSync(`${work}/${MARKER}`, "marker\n");
  const proxy = config.via === "direct" ? null : await startProxy({
    upstream: flow.url,
    secretsFile: writeSecrets(creds),
    args: ["--log-level", "debug"],
  }).catch(async (err) => {
    await flow.close();
    await refuser.close();
    throw err;
  });
  const baseUrl = proxy ? proxy.url : flow.url;
  try {
    for (const [rel, text] of Object.entries(config.homeFiles ?? {})) {
      const path = `${home}/${rel}`;
      Deno.mkdirSync(path.replace(/\/[^/]+$/, ""), { recursive: true });
      Deno.writeTextFileSync(path, fill(text, baseUrl));
    }
    const extra = Object.fromEntries(
      Object.entries(config.env ?? {}).map(([k, v]) => [k, fill(v, baseUrl)]),
    );
    const env = agentEnv({ home, refuserUrl: refuser.url, extra });
    const run = await runClient(
      {
        ...config,
        args: config.args.map((a) => fill(a, baseUrl)),
      },
      env,
      work,
    );
    return {
      ...run,
      marker: MARKER,
      flow: flow.requests,
      refusals: flow.refusals,
      outside: refuser.refused,
      proxyLogs: proxy ? await proxy.settledLogs() : "",
    };
  } finally {
    await proxy?.[Symbol.asyncDispose]();
    await flow.close();
    await refuser.close();
    Deno.removeSync(home, { recursive: true });
    Deno.removeSync(work, { recursive: true });
  }
}

if (import.meta.main) {
  const result = await runScenario(JSON.parse(Deno.args[0]) as ScenarioConfig);
  await Deno.stdout.write(new TextEncoder().encode(JSON.stringify(result)));
}
