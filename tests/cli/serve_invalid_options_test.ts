/**
 * `flow-proxy serve` with an invalid option value, through the real CLI:
 * exit 2 with one `error:` line naming the option, before anything listens.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  freePort,
  MAIN,
  REPO,
  testCredentials,
  writeSecrets,
} from "../support/proxy.ts";
import {
  expectedMessage,
  INVALID_CASES,
  type InvalidCase,
} from "../config/invalid_options_table.ts";

/** A refused value exits at once; this only bounds a test that would hang. */
const RUN_LIMIT_MS = 30_000;
/** Processes run side by side. */
const PARALLEL = 4;

interface Run {
  label: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
  source: string;
  c: InvalidCase;
}

async function runServe(run: Run, secrets: string, port: number) {
  // --no-db: a case that wrongly passed must not leave a database behind.
  const args = [
    "run",
    "-A",
    MAIN,
    "serve",
    "--no-db",
    "--secrets-file",
    secrets,
  ];
  // A case that is not about the port still gets a free one, never 8899.
  if (run.c.flag !== "port") args.push("--port", String(port));
  const out = await new Deno.Command(Deno.execPath(), {
    args: [...args, ...run.args],
    cwd: run.cwd,
    env: { NO_COLOR: "1", ...run.env },
    stdin: "null",
    signal: AbortSignal.timeout(RUN_LIMIT_MS),
  }).output();
  const d = new TextDecoder();
  return {
    code: out.code,
    stdout: d.decode(out.stdout),
    stderr: d.decode(out.stderr),
  };
}

Deno.test("serve exits 2 naming the option for each invalid value, before listening", async (t) => {
  const secrets = writeSecrets(testCredentials(1));
  const envDir = Deno.makeTempDirSync();
  const runs: Run[] = [];
  const seenFile = new Set<string>();
  for (const c of INVALID_CASES) {
    const name = `--${c.flag} ${JSON.stringify(c.value)}`;
    if (!c.switch) {
      runs.push({
        label: `${name} (flag)`,
        args: [`--${c.flag}`, c.value],
        env: {},
        cwd: REPO,
        source: `--${c.flag}`,
        c,
      });
    }
    if (c.env === null || c.value === "") continue;
    runs.push({
      label: `${c.env}=${JSON.stringify(c.value)}`,
      args: [],
      env: { [c.env]: c.value },
      cwd: REPO,
      source: c.env,
      c,
    });
    // One .env case per variable: the path through the file is the same.
    if (seenFile.has(c.env)) continue;
    seenFile.add(c.env);
    const file = join(envDir, `${c.flag}.env`);
    Deno.writeTextFileSync(file, `${c.env}=${JSON.stringify(c.value)}\n`);
    runs.push({
      label: `${c.env}=${JSON.stringify(c.value)} in an env file`,
      args: ["--env-file", file],
      env: {},
      cwd: REPO,
      source: `${c.env} (from ${file})`,
      c,
    });
  }

  try {
    const port = freePort();
    const results = new Array<Awaited<ReturnType<typeof runServe>>>(
      runs.length,
    );
    let next = 0;
    await Promise.all(
      Array.from({ length: PARALLEL }, async () => {
        while (next < runs.length) {
          const i = next++;
          results[i] = await runServe(runs[i], secrets, port);
        }
      }),
    );
    for (const [i, run] of runs.entries()) {
      await t.step(run.label, () => {
        const out = results[i];
        assert.equal(out.code, 2, out.stderr);
        const [first] = out.stderr.split("\n");
        assert.match(first, /^error: /);
        assert.match(
          first.slice("error: ".length),
          expectedMessage(run.c, run.source),
        );
        assert.match(out.stderr, /Usage: flow-proxy serve/);
        assert.doesNotMatch(out.stderr, /ready on/);
        assert.equal(out.stdout, "");
      });
    }
  } finally {
    Deno.removeSync(envDir, { recursive: true });
  }
});
