import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  CHECK_SECRETS_HELP,
  checkSecretsCommand,
  type CheckSecretsJson,
  formatWeights,
} from "../../src/cli/check_secrets.ts";
import type { CommandIo } from "../../src/cli/command.ts";
import { validateSecrets } from "../../src/config/secrets.ts";

const SECRET = "s3cr3t-Qw9-CLI-UNIQUE-4410";
const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(
  args: string[],
  cwd: string,
  env: Record<string, string | undefined> = {},
): Promise<Run> {
  let stdout = "";
  let stderr = "";
  const io: CommandIo = {
    env,
    cwd,
    stdout: (text) => void (stdout += text),
    stderr: (text) => void (stderr += text),
  };
  const code = await checkSecretsCommand(args, io);
  return { code, stdout, stderr };
}

function entry(
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    clientId: "client-a",
    clientSecret: SECRET,
    tenant: "cit",
    ...overrides,
  };
}

async function writeSecrets(
  path: string,
  value: unknown,
  mode = 0o600,
): Promise<string> {
  await Deno.writeTextFile(
    path,
    typeof value === "string" ? value : JSON.stringify(value, null, 2),
  );
  await Deno.chmod(path, mode);
  return path;
}

function assertNoSecret(result: Run): void {
  assert.ok(
    !result.stdout.includes(SECRET),
    `secret in stdout: ${result.stdout}`,
  );
  assert.ok(
    !result.stderr.includes(SECRET),
    `secret in stderr: ${result.stderr}`,
  );
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "flow-proxy-check-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("checkSecretsCommand exits 0 for a valid file", async (t) => {
  await withTempDir(async (dir) => {
    await t.step("lists the credentials", async () => {
      await writeSecrets(join(dir, "secrets.json"), [
        entry({ name: "primary-1" }),
        entry({ name: "primary-2", clientId: "b" }),
        entry({ name: "backup", clientId: "c" }),
      ]);
      const result = await run([], dir);
      assert.equal(result.code, 0);
      assert.equal(result.stderr, "");
      assert.equal(
        result.stdout,
        "secrets.json: OK, 3 credentials: primary-1, primary-2, backup\n",
      );
      assertNoSecret(result);
    });

    await t.step("shows the rotation weights of repeated entries", async () => {
      const primary = entry({ name: "primary" });
      await writeSecrets(join(dir, "weighted.json"), [
        primary,
        primary,
        primary,
        entry({ name: "backup", clientId: "b" }),
      ]);
      const result = await run(["--secrets-file", "weighted.json"], dir);
      assert.equal(result.code, 0);
      assert.deepEqual(result.stdout.trimEnd().split("\n"), [
        "rotation weights: primary 75 %, backup 25 %",
        "weighted.json: OK, 4 credentials: primary ×3, backup",
      ]);
    });

    await t.step("prints warnings and still exits 0", async () => {
      await writeSecrets(join(dir, "warn.json"), [
        entry({ name: "a", extra: true }),
      ], 0o644);
      const result = await run(["--secrets-file", "warn.json"], dir);
      assert.equal(result.code, 0);
      assert.deepEqual(result.stdout.trimEnd().split("\n"), [
        "warning: warn.json: readable by group or others (mode 0644); only the owner should be able to read it",
        'hint: run "chmod 600 warn.json"',
        'warning: warn.json: entry 1 ("a"): unknown field "extra" is ignored',
        "warn.json: OK, 1 credential: a (2 warnings)",
      ]);
    });

    await t.step(
      "accepts the shipped template, with placeholder warnings",
      async () => {
        const path = await writeSecrets(
          join(dir, "from-template.json"),
          await Deno.readTextFile(join(REPO_ROOT, "secrets.json.template")),
        );
        const result = await run(["--secrets-file", path], dir);
        assert.equal(result.code, 0);
        assert.equal(
          result.stdout.match(/^warning: .*placeholder/gm)?.length,
          6,
        );
        assert.match(
          result.stdout,
          /OK, 2 credentials: primary, backup \(6 warnings\)\n$/,
        );
      },
    );
  });
});

Deno.test("checkSecretsCommand exits 1 for an invalid file", async (t) => {
  await withTempDir(async (dir) => {
    await t.step("every error, then a summary", async () => {
      await writeSecrets(join(dir, "secrets.json"), [
        entry({ name: "primary", clientSecret: "" }),
        entry({ name: "backup", tenant: "", note: "x" }),
      ]);
      const result = await run([], dir);
      assert.equal(result.code, 1);
      assert.deepEqual(result.stdout.trimEnd().split("\n"), [
        'error: secrets.json: entry 1 ("primary"): "clientSecret" must be a non-empty string',
        'error: secrets.json: entry 2 ("backup"): "tenant" must be a non-empty string',
        'warning: secrets.json: entry 2 ("backup"): unknown field "note" is ignored',
        "secrets.json: invalid, 2 errors, 1 warning",
      ]);
      assertNoSecret(result);
    });

    await t.step("invalid JSON", async () => {
      await writeSecrets(
        join(dir, "broken.json"),
        `[\n  {"clientSecret": "${SECRET}",}\n]`,
      );
      const result = await run(["--secrets-file", "broken.json"], dir);
      assert.equal(result.code, 1);
      assert.match(
        result.stdout,
        /^error: broken\.json: invalid JSON at line 2, column \d+: /,
      );
      assertNoSecret(result);
    });

    await t.step("a missing file, with the hint", async () => {
      const result = await run(["--secrets-file", "absent.json"], dir);
      assert.equal(result.code, 1);
      assert.deepEqual(result.stdout.trimEnd().split("\n"), [
        'error: Cannot read secrets file "absent.json": no such file',
        'hint: copy secrets.json.template to secrets.json, fill in your Flow credentials, then run "flow-proxy check-secrets"',
        "absent.json: invalid, 1 error",
      ]);
    });
  });
});

Deno.test("checkSecretsCommand --json prints one object without secrets", async (t) => {
  await withTempDir(async (dir) => {
    await t.step("valid", async () => {
      await writeSecrets(join(dir, "secrets.json"), [
        entry({
          name: "primary",
          agent: "simple_agent",
          appToAccess: "llm-api",
        }),
        entry({ tenant: "other", clientSecret: "your-client-secret" }),
      ]);
      const result = await run(["--json"], dir);
      assert.equal(result.code, 0);
      const json: CheckSecretsJson = JSON.parse(result.stdout);
      assert.deepEqual(Object.keys(json), [
        "file",
        "valid",
        "credentials",
        "errors",
        "warnings",
      ]);
      assert.equal(json.file, "secrets.json");
      assert.equal(json.valid, true);
      assert.deepEqual(json.credentials, [
        { index: 0, entry: 1, name: "primary", tenant: "cit" },
        { index: 1, entry: 2, name: "config-2", tenant: "other" },
      ]);
      assert.deepEqual(json.errors, []);
      assert.deepEqual(json.warnings, [{
        entry: 2,
        name: null,
        field: "clientSecret",
        message:
          'secrets.json: entry 2: "clientSecret" looks like a placeholder from secrets.json.template; put your Flow credential there',
      }]);
      assert.ok(!result.stdout.includes("your-client-secret"));
      assert.ok(!result.stdout.includes("client-a"), "clientId is not printed");
      assertNoSecret(result);
    });

    await t.step("invalid", async () => {
      await writeSecrets(join(dir, "bad.json"), [
        entry({ name: "x", clientId: 3 }),
        entry(),
      ]);
      const result = await run(["--json", "--secrets-file", "bad.json"], dir);
      assert.equal(result.code, 1);
      const json: CheckSecretsJson = JSON.parse(result.stdout);
      assert.equal(json.valid, false);
      assert.deepEqual(json.errors, [{
        entry: 1,
        name: "x",
        field: "clientId",
        message:
          'bad.json: entry 1 ("x"): "clientId" must be a non-empty string, got a number',
      }]);
      assert.deepEqual(json.credentials.map((c) => c.entry), [2]);
      assertNoSecret(result);
    });

    await t.step("a missing file", async () => {
      const result = await run(["--json", "--secrets-file", "none.json"], dir);
      assert.equal(result.code, 1);
      const json: CheckSecretsJson = JSON.parse(result.stdout);
      assert.equal(json.valid, false);
      assert.equal(json.errors.length, 1);
      assert.match(json.errors[0].hint ?? "", /copy secrets\.json\.template/);
    });
  });
});

Deno.test("checkSecretsCommand resolves the secrets file", async (t) => {
  await withTempDir(async (dir) => {
    const only = (name: string) => [entry({ name })];
    await writeSecrets(join(dir, "secrets.json"), only("default"));
    await writeSecrets(join(dir, "from-flag.json"), only("flag"));
    await writeSecrets(join(dir, "from-env.json"), only("env"));
    await writeSecrets(join(dir, "from-dotenv.json"), only("dotenv"));
    await writeSecrets(
      join(dir, "from-other-env-file.json"),
      only("other-env-file"),
    );
    await Deno.writeTextFile(
      join(dir, "other.env"),
      "FLOW_PROXY_SECRETS_FILE=from-other-env-file.json\n",
    );
    const credentials = join(dir, "credentials");
    await Deno.mkdir(credentials);
    await writeSecrets(join(credentials, "secrets.json"), only("systemd"));

    const nameOf = async (args: string[], env: Record<string, string> = {}) => {
      const result = await run(["--json", ...args], dir, env);
      assert.equal(result.code, 0, result.stdout + result.stderr);
      const json: CheckSecretsJson = JSON.parse(result.stdout);
      return [json.file, json.credentials[0].name];
    };

    await t.step("default: secrets.json in the working directory", async () => {
      assert.deepEqual(await nameOf([]), ["secrets.json", "default"]);
    });
    await t.step(
      "$CREDENTIALS_DIRECTORY/secrets.json when it exists",
      async () => {
        assert.deepEqual(
          await nameOf([], { CREDENTIALS_DIRECTORY: credentials }),
          [
            join(credentials, "secrets.json"),
            "systemd",
          ],
        );
      },
    );
    await t.step(
      "$CREDENTIALS_DIRECTORY without secrets.json falls back",
      async () => {
        assert.deepEqual(
          await nameOf([], { CREDENTIALS_DIRECTORY: join(dir, "nothing") }),
          [
            "secrets.json",
            "default",
          ],
        );
      },
    );

    await Deno.writeTextFile(
      join(dir, ".env"),
      "FLOW_PROXY_SECRETS_FILE=from-dotenv.json\n",
    );
    await t.step(".env beats the default", async () => {
      assert.deepEqual(
        await nameOf([], { CREDENTIALS_DIRECTORY: credentials }),
        [
          "from-dotenv.json",
          "dotenv",
        ],
      );
    });
    await t.step("--env-file replaces .env", async () => {
      assert.deepEqual(await nameOf(["--env-file", "other.env"]), [
        "from-other-env-file.json",
        "other-env-file",
      ]);
    });
    await t.step("the environment beats .env", async () => {
      assert.deepEqual(
        await nameOf([], { FLOW_PROXY_SECRETS_FILE: "from-env.json" }),
        [
          "from-env.json",
          "env",
        ],
      );
    });
    await t.step(
      "an empty variable means the default (and hides .env), as for serve",
      async () => {
        assert.deepEqual(await nameOf([], { FLOW_PROXY_SECRETS_FILE: "" }), [
          "secrets.json",
          "default",
        ]);
      },
    );
    await t.step("the flag beats everything", async () => {
      assert.deepEqual(
        await nameOf(["--secrets-file", "from-flag.json"], {
          FLOW_PROXY_SECRETS_FILE: "from-env.json",
        }),
        ["from-flag.json", "flag"],
      );
    });
    await t.step(
      "relative paths resolve against the working directory",
      async () => {
        const result = await run(
          ["--secrets-file", "from-flag.json"],
          join(dir, "credentials"),
        );
        assert.equal(result.code, 1);
        const absolute = await run([
          "--secrets-file",
          join(dir, "from-flag.json"),
        ], join(dir, "credentials"));
        assert.equal(absolute.code, 0);
      },
    );
  });
});

Deno.test("checkSecretsCommand exits 2 on usage errors", async (t) => {
  await withTempDir(async (dir) => {
    const cases: Array<[string[], string]> = [
      [["--bogus"], "error: Unknown option '--bogus'"],
      [["extra.json"], "error: Unexpected argument 'extra.json'"],
      [["--secrets-file"], "error: Option '--secrets-file' needs a value"],
      [["--secrets-file="], "error: --secrets-file must not be empty"],
      [["--json=yes"], "error: Option '--json' does not take a value"],
      [
        ["--env-file", "missing.env"],
        `error: Cannot read env file "${
          join(dir, "missing.env")
        }": no such file`,
      ],
    ];
    for (const [args, first] of cases) {
      await t.step(args.join(" "), async () => {
        const result = await run(args, dir);
        assert.equal(result.code, 2);
        assert.equal(result.stdout, "");
        const lines = result.stderr.trimEnd().split("\n");
        assert.equal(lines[0], first);
        assert.match(lines[1], /^Usage: flow-proxy check-secrets /);
      });
    }
  });
});

Deno.test("checkSecretsCommand --help prints help and exits 0", async () => {
  for (const flag of ["--help", "-h"]) {
    const result = await run([flag], "/nonexistent");
    assert.equal(result.code, 0);
    assert.equal(result.stdout, CHECK_SECRETS_HELP);
    assert.match(result.stdout, /--secrets-file/);
    assert.match(result.stdout, /--json/);
  }
});

Deno.test("formatWeights groups identical credential sets", async (t) => {
  const credentials = (value: unknown) =>
    validateSecrets(JSON.stringify(value), "s").credentials;
  await t.step("none repeated: no line", () => {
    assert.equal(
      formatWeights(
        credentials([
          entry({ name: "a" }),
          entry({ name: "b", clientId: "b" }),
        ]),
      ),
      null,
    );
  });
  await t.step("repeated under different names", () => {
    assert.equal(
      formatWeights(credentials([
        entry({ name: "p1" }),
        entry({ name: "p2" }),
        entry({ name: "b", clientId: "b" }),
      ])),
      "rotation weights: p1/p2 66.7 %, b 33.3 %",
    );
  });
});

Deno.test("flow-proxy check-secrets runs from main.ts", async () => {
  await withTempDir(async (dir) => {
    const good = await writeSecrets(join(dir, "good.json"), [
      entry({ name: "primary" }),
    ]);
    const bad = await writeSecrets(join(dir, "bad.json"), [
      entry({ name: "primary", tenant: "" }),
    ]);
    const invoke = async (args: string[]) => {
      const output = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "main.ts", "check-secrets", ...args],
        cwd: REPO_ROOT,
        env: { NO_COLOR: "1", FLOW_PROXY_SECRETS_FILE: "" },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const decoder = new TextDecoder();
      return {
        code: output.code,
        stdout: decoder.decode(output.stdout),
        stderr: decoder.decode(output.stderr),
      };
    };

    const ok = await invoke(["--secrets-file", good]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, `${good}: OK, 1 credential: primary\n`);
    assertNoSecret(ok);

    const invalid = await invoke(["--secrets-file", bad, "--json"]);
    assert.equal(invalid.code, 1, invalid.stderr);
    assert.equal(JSON.parse(invalid.stdout).valid, false);
    assertNoSecret(invalid);

    const usage = await invoke(["--nope"]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /Unknown option '--nope'/);
  });
});
