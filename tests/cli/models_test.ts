import assert from "node:assert/strict";
import { join } from "node:path";
import {
  CHECK_CONFIG_HELP,
  checkConfigCommand,
  type CheckConfigJson,
  MODELS_HELP,
  modelsCliCommand,
} from "../../src/cli/models.ts";
import type { Command, CommandIo } from "../../src/cli/command.ts";
import { runCli } from "../support/proxy.ts";

const BAD = `{
  "models": [{ "name": "gpt-5", "outputLimit": -1 }],
  "aliases": { "x": 5 }
}
`;
const GOOD = '{"aliases": {"sonnet": "anthropic.claude-4-6-sonnet"}}\n';
const WARNS = '{"aliases": {"x": "gpt-9"}}\n';

async function run(
  command: Command,
  args: string[],
  cwd: string,
  env: Record<string, string | undefined> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const io: CommandIo = {
    env,
    cwd,
    stdout: (text) => void (stdout += text),
    stderr: (text) => void (stderr += text),
  };
  const code = await command(args, io);
  return { code, stdout, stderr };
}

function withDir(fn: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = Deno.makeTempDirSync({ prefix: "flow-proxy-models-cli-" });
    try {
      await fn(dir);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  };
}

Deno.test(
  "models prints the built-in catalogue and mapping when there is no file",
  withDir(async (dir) => {
    const out = await run(modelsCliCommand, [], dir);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /^Models \(built in\)/);
    assert.match(out.stdout, /anthropic\.claude-4-7-opus/);
    assert.match(
      out.stdout,
      /claude-opus-4-8\s+messages\s+anthropic\.claude-4-7-opus/,
    );
  }),
);

Deno.test(
  "models --json shows a file's alias and the examples; its warnings go to stderr",
  withDir(async (dir) => {
    Deno.writeTextFileSync(join(dir, "m.json"), GOOD);
    const out = await run(
      modelsCliCommand,
      ["--config", "m.json", "--json"],
      dir,
    );
    assert.equal(out.code, 0, out.stderr);
    const json = JSON.parse(out.stdout);
    assert.equal(json.source, "m.json");
    assert.deepEqual(json.aliases, { sonnet: "anthropic.claude-4-6-sonnet" });
    assert.ok(Array.isArray(json.examples) && json.examples.length > 0);

    Deno.writeTextFileSync(join(dir, "w.json"), WARNS);
    const warned = await run(modelsCliCommand, ["--config", "w.json"], dir);
    assert.equal(warned.code, 0);
    assert.match(warned.stderr, /^warning: w\.json:1:\d+: aliases\.x/);
  }),
);

Deno.test(
  "models finds models.json beside the secrets file, and FLOW_PROXY_CONFIG over it",
  withDir(async (dir) => {
    Deno.mkdirSync(join(dir, "creds"));
    Deno.writeTextFileSync(join(dir, "creds", "secrets.json"), "[]");
    Deno.writeTextFileSync(join(dir, "creds", "models.json"), GOOD);
    Deno.writeTextFileSync(join(dir, "other.json"), "{}");
    const beside = await run(modelsCliCommand, [
      "--secrets-file",
      "creds/secrets.json",
      "--json",
    ], dir);
    assert.equal(
      JSON.parse(beside.stdout).source,
      join("creds", "models.json"),
    );
    const viaCredDir = await run(modelsCliCommand, ["--json"], dir, {
      CREDENTIALS_DIRECTORY: "creds",
    });
    assert.equal(
      JSON.parse(viaCredDir.stdout).source,
      join(dir, "creds", "models.json"),
    );
    const viaEnv = await run(modelsCliCommand, ["--json"], dir, {
      CREDENTIALS_DIRECTORY: "creds",
      FLOW_PROXY_CONFIG: "other.json",
    });
    assert.equal(JSON.parse(viaEnv.stdout).source, "other.json");
  }),
);

Deno.test(
  "models exits 1 with every problem of an invalid file",
  withDir(async (dir) => {
    Deno.writeTextFileSync(join(dir, "bad.json"), BAD);
    const out = await run(modelsCliCommand, ["--config", "bad.json"], dir);
    assert.equal(out.code, 1);
    assert.equal(out.stdout, "");
    assert.match(
      out.stderr,
      /^error: bad\.json:2:\d+: models\[0\]\.outputLimit/m,
    );
    assert.match(out.stderr, /^error: bad\.json:3:\d+: aliases\.x/m);
  }),
);

Deno.test("check-config exits 0, 1 or 2 as the file is valid, invalid or the usage wrong", async (t) => {
  const dir = Deno.makeTempDirSync({ prefix: "flow-proxy-check-config-" });
  try {
    Deno.writeTextFileSync(join(dir, "bad.json"), BAD);
    Deno.writeTextFileSync(join(dir, "w.json"), WARNS);
    await t.step("no file: the built-in catalogue, exit 0", async () => {
      const out = await run(checkConfigCommand, [], dir);
      assert.equal(out.code, 0);
      assert.match(
        out.stdout,
        /no models file: the built-in catalogue is used/,
      );
    });
    await t.step("warnings only: exit 0 with the warnings and OK", async () => {
      const out = await run(checkConfigCommand, ["--config", "w.json"], dir);
      assert.equal(out.code, 0);
      assert.match(out.stdout, /^warning: w\.json:1:\d+: aliases\.x/m);
      assert.match(out.stdout, /^w\.json: OK \(\d+ models, 1 warning\)$/m);
    });
    await t.step("invalid: exit 1, every error", async () => {
      const out = await run(checkConfigCommand, ["--config", "bad.json"], dir);
      assert.equal(out.code, 1);
      assert.match(out.stdout, /^bad\.json: 2 errors, 0 warnings$/m);
    });
    await t.step("--json", async () => {
      const out = await run(checkConfigCommand, [
        "--config",
        "bad.json",
        "--json",
      ], dir);
      assert.equal(out.code, 1);
      const json: CheckConfigJson = JSON.parse(out.stdout);
      assert.equal(json.valid, false);
      assert.equal(json.errors.length, 2);
      assert.deepEqual(
        json.errors.map((e) => [e.path, e.line]),
        [["models[0].outputLimit", 2], ["aliases.x", 3]],
      );
    });
    await t.step("a missing file is an error, exit 1", async () => {
      const out = await run(checkConfigCommand, ["--config", "nope.json"], dir);
      assert.equal(out.code, 1);
      assert.match(out.stdout, /nope\.json.*no such file/);
    });
    await t.step("usage errors: exit 2", async () => {
      for (const args of [["--config", ""], ["--bogus"], ["extra"]]) {
        const out = await run(checkConfigCommand, args, dir);
        assert.equal(out.code, 2, args.join(" "));
        assert.match(out.stderr, /^error: .*\nUsage: flow-proxy check-config/);
      }
    });
    await t.step("--help", async () => {
      assert.equal(
        (await run(checkConfigCommand, ["--help"], dir)).stdout,
        CHECK_CONFIG_HELP,
      );
      assert.equal(
        (await run(modelsCliCommand, ["-h"], dir)).stdout,
        MODELS_HELP,
      );
    });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("the real CLI runs models and check-config", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "flow-proxy-models-real-" });
  try {
    Deno.writeTextFileSync(join(dir, "bad.json"), BAD);
    Deno.writeTextFileSync(join(dir, "m.json"), GOOD);
    const models = await runCli(["models", "--config", "m.json"], { cwd: dir });
    assert.equal(models.code, 0, models.stderr);
    assert.match(
      models.stdout,
      /alias\s+sonnet\s+anthropic\.claude-4-6-sonnet/,
    );
    const bad = await runCli(["check-config", "--config", "bad.json"], {
      cwd: dir,
    });
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /bad\.json:2:\d+: models\[0\]\.outputLimit/);
    const usage = await runCli(["models", "--nope"], { cwd: dir });
    assert.equal(usage.code, 2);
    const help = await runCli(["--help"]);
    assert.match(help.stdout, /check-config\s+Validate the models file/);
    assert.match(help.stdout, /models\s+Show the models catalogue/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
