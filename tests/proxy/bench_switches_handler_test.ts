/**
 * FLOW_PROXY_BENCH_OFF in the handler (bench/run.ts --features): each switch
 * takes away its feature and nothing else; unset, every feature is on. The
 * switches are read once per isolate, so each case is its own process.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const REPO = fileURLToPath(new URL("../../", import.meta.url));

const PROBE = `
import { Balancer, resetHealth } from "./src/upstream/balancer.ts";
import { createHandler } from "./src/proxy/handler.ts";
import { createSharedState } from "./src/base/shared_state.ts";
const state = createSharedState();
resetHealth(state);
const lines = [];
const logger = {
  debug() {}, trace() {}, error() {}, fatal() {},
  info: (m) => lines.push("info " + m),
  warn: (m) => lines.push("warn " + m),
  isEnabledFor: () => true,
};
const balancer = new Balancer(state, { names: ["a"], tokens: ["t"], generation: 1 }, {
  backoffBase: 10_000, backoffMax: 60_000, logger,
});
let watchingDuringFetch = -1;
const records = [];
const handler = createHandler({
  upstream: new URL("http://127.0.0.1:9/flow-llm-proxy"),
  balancer: () => balancer,
  retryBodyLimit: 1024, maxBodySize: 4096, maxAttempts: 1,
  connectTimeout: 10_000, headersTimeout: 60_000, idleTimeout: 60_000,
  cooldownDefault: 30_000,
  logger,
  health: () => ({ healthy: true, body: {} }),
  onRecord: (r) => records.push(structuredClone(r)),
  connectCheck: null,
  fetch: async () => {
    watchingDuringFetch = handler.watching;
    // Declared length, as Flow's JSON answers have: read whole, tapped whole.
    const body = JSON.stringify({ usage: { prompt_tokens: 42, completion_tokens: 24 } });
    return new Response(body, { headers: { "content-type": "application/json", "content-length": String(body.length) } });
  },
});
const info = { remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 1 }, completed: Promise.resolve() };
const ids = [];
for (let i = 0; i < 2; i++) {
  const res = await handler(new Request("http://127.0.0.1:8899/v1/chat/completions", {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "gpt-4o", messages: [] }),
  }), info);
  await res.arrayBuffer();
  ids.push(res.headers.get("x-request-id"));
}
handler.close();
Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify({
  lines: lines.filter((l) => l.startsWith("info Using")).length,
  tokensIn: records[0].tokensIn,
  records: records.length,
  watchingDuringFetch,
  sameId: ids[0] === ids[1],
})));
`;

async function probe(off: string | null): Promise<Record<string, unknown>> {
  const env = { ...Deno.env.toObject() };
  delete env.FLOW_PROXY_BENCH_OFF;
  if (off !== null) env.FLOW_PROXY_BENCH_OFF = off;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=js", PROBE],
    cwd: REPO,
    env,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

Deno.test("without FLOW_PROXY_BENCH_OFF the handler logs, taps usage, watches deadlines and makes ids", async () => {
  assert.deepEqual(await probe(null), {
    lines: 2,
    tokensIn: 42,
    records: 2,
    watchingDuringFetch: 1,
    sameId: false,
  });
});

Deno.test("FLOW_PROXY_BENCH_OFF=log,usage,deadline,id takes exactly those away", async () => {
  assert.deepEqual(await probe("log,usage,deadline,id"), {
    lines: 0,
    tokensIn: null,
    records: 2,
    watchingDuringFetch: 0,
    sameId: true,
  });
  // One at a time: the others stay on.
  assert.deepEqual(await probe("log"), {
    lines: 0,
    tokensIn: 42,
    records: 2,
    watchingDuringFetch: 1,
    sameId: false,
  });
});
