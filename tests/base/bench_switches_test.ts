/**
 * FLOW_PROXY_BENCH_OFF: the benchmark's way to switch one default feature
 * off. Read once per isolate at load, so each case runs in its own process.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const REPO = fileURLToPath(new URL("../../", import.meta.url));

const PROBE = `
import { BENCH_FEATURES, benchOff } from "./src/base/bench_switches.ts";
import { requestId } from "./src/proxy/headers.ts";
const off = BENCH_FEATURES.filter((f) => benchOff(f));
const ids = [requestId(new Headers()), requestId(new Headers())];
Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify({ off, ids })));
`;

async function probe(
  value: string | null,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: Record<string, string> = { ...Deno.env.toObject() };
  delete env.FLOW_PROXY_BENCH_OFF;
  if (value !== null) env.FLOW_PROXY_BENCH_OFF = value;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", PROBE],
    cwd: REPO,
    env,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

Deno.test("without FLOW_PROXY_BENCH_OFF every feature is on and ids are fresh UUIDs (v7)", async () => {
  const out = await probe(null);
  assert.equal(out.code, 0, out.stderr);
  const { off, ids } = JSON.parse(out.stdout);
  assert.deepEqual(off, []);
  assert.notEqual(ids[0], ids[1]);
  assert.match(ids[0], /^[0-9a-f]{8}-[0-9a-f]{4}-7/);
});

Deno.test("FLOW_PROXY_BENCH_OFF switches off exactly the features it names", async () => {
  const out = await probe("log, id");
  assert.equal(out.code, 0, out.stderr);
  const { off, ids } = JSON.parse(out.stdout);
  assert.deepEqual(off, ["log", "id"]);
  // With id generation off, every request shares one fixed id.
  assert.equal(ids[0], ids[1]);
});

Deno.test("an unknown name in FLOW_PROXY_BENCH_OFF is refused, naming it", async () => {
  const out = await probe("log,bogus");
  assert.notEqual(out.code, 0);
  assert.match(
    out.stderr,
    /Invalid FLOW_PROXY_BENCH_OFF "log,bogus": "bogus" is not one of log, record, sqlite/,
  );
});

Deno.test("serve warns at start when FLOW_PROXY_BENCH_OFF switches features off", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bench-off-serve-" });
  try {
    const secrets = `${dir}/secrets.json`;
    await Deno.writeTextFile(
      secrets,
      JSON.stringify([{
        clientId: "id",
        clientSecret: "secret-1",
        tenant: "t",
      }]),
    );
    await Deno.chmod(secrets, 0o600);
    await Deno.writeTextFile(`${dir}/empty.env`, "");
    const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (probe.addr as Deno.NetAddr).port;
    probe.close();
    const env: Record<string, string> = { ...Deno.env.toObject() };
    for (const name of Object.keys(env)) {
      if (name.startsWith("FLOW_PROXY_")) delete env[name];
    }
    env.FLOW_PROXY_BENCH_OFF = "log,access";
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "main.ts",
        "serve",
        "--port",
        String(port),
        "--num-workers",
        "1",
        "--secrets-file",
        secrets,
        "--no-db",
        "--env-file",
        `${dir}/empty.env`,
        "--upstream",
        "http://127.0.0.1:9/flow-llm-proxy",
      ],
      cwd: REPO,
      env,
      clearEnv: true,
      stdout: "null",
      stderr: "piped",
    }).spawn();
    let text = "";
    const decoder = new TextDecoder();
    const reader = child.stderr.getReader();
    const deadline = Date.now() + 30_000;
    while (
      !text.includes("FLOW_PROXY_BENCH_OFF is set") && Date.now() < deadline
    ) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    child.kill("SIGTERM");
    // Drain what is left, so the process can exit and the stream close.
    while (!(await reader.read()).done) { /* discard */ }
    await child.status;
    assert.match(
      text,
      /WARNING \[main\] FLOW_PROXY_BENCH_OFF is set: log, access switched off for a benchmark/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
