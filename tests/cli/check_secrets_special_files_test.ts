/**
 * `flow-proxy check-secrets` on secrets files that are not what they seem,
 * through the real CLI: repeated keys and bad UTF-8 are warned about with
 * line:column; a FIFO, a device, a directory or an oversized file is an
 * error that names the file, returned at once (no hang, no unbounded read).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { MAIN } from "../support/proxy.ts";

/** Only bounds a run that would hang without the fix; it then fails. */
const RUN_LIMIT_MS = 20_000;

async function checkSecrets(
  args: string[],
  options: { cwd: string; env?: Record<string, string> },
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "check-secrets", ...args],
    cwd: options.cwd,
    env: { NO_COLOR: "1", ...options.env },
    clearEnv: true,
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

async function mkfifo(path: string): Promise<void> {
  const out = await new Deno.Command("mkfifo", { args: [path] }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
}

function writePrivate(path: string, data: string | Uint8Array): void {
  if (typeof data === "string") Deno.writeTextFileSync(path, data);
  else Deno.writeFileSync(path, data);
  Deno.chmodSync(path, 0o600);
}

Deno.test("check-secrets warns about a key repeated in an entry, with line:column", async (t) => {
  const dir = Deno.makeTempDirSync();
  try {
    writePrivate(
      join(dir, "secrets.json"),
      '[\n  {"name": "a", "clientId": "x1", "clientId": "x2",\n   "clientSecret": "s", "tenant": "t"}\n]\n',
    );
    await t.step("text", async () => {
      const out = await checkSecrets([], { cwd: dir });
      assert.equal(out.code, 0, out.stderr);
      assert.equal(
        out.stdout,
        'warning: secrets.json: entry 1 ("a"): "clientId" appears twice, at line 2, column 17 and line 2, column 35; the last one is used\n' +
          "secrets.json: OK, 1 credential: a (1 warning)\n",
      );
    });
    await t.step("--json names the entry and the field", async () => {
      const out = await checkSecrets(["--json"], { cwd: dir });
      assert.equal(out.code, 0, out.stderr);
      const report = JSON.parse(out.stdout);
      assert.equal(report.valid, true);
      assert.deepEqual(
        report.warnings.map((
          w: { entry: number; name: string; field: string },
        ) => [w.entry, w.name, w.field]),
        [[1, "a", "clientId"]],
      );
    });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("check-secrets reports bytes that are not UTF-8, with line:column", async (t) => {
  const dir = Deno.makeTempDirSync();
  const enc = new TextEncoder();
  const withByte = (before: string, after: string) =>
    new Uint8Array([...enc.encode(before), 0xff, ...enc.encode(after)]);
  try {
    await t.step("in a name: a warning, exit 0", async () => {
      writePrivate(
        join(dir, "name.json"),
        withByte(
          '[{"name": "a',
          '", "clientId": "c", "clientSecret": "s", "tenant": "t"}]',
        ),
      );
      const out = await checkSecrets(["--secrets-file", "name.json"], {
        cwd: dir,
      });
      assert.equal(out.code, 0, out.stderr);
      assert.match(
        out.stdout,
        /^warning: name\.json: bytes that are not valid UTF-8 at line 1, column 13; each is read as U\+FFFD\nhint: save the file as UTF-8\n/,
      );
    });
    await t.step("in a clientSecret: an error, exit 1", async () => {
      writePrivate(
        join(dir, "secret.json"),
        withByte(
          '[{"clientId": "c",\n "clientSecret": "s',
          '", "tenant": "t"}]',
        ),
      );
      const out = await checkSecrets(["--secrets-file", "secret.json"], {
        cwd: dir,
      });
      assert.equal(out.code, 1, out.stderr);
      assert.match(
        out.stdout,
        /^error: secret\.json: entry 1: "clientSecret" contains bytes that are not valid UTF-8 \(see the warning about the file\)\nwarning: secret\.json: bytes that are not valid UTF-8 at line 2, column 20;/,
      );
    });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("check-secrets refuses what is not a regular file at once, naming it", async (t) => {
  const dir = Deno.makeTempDirSync();
  try {
    const fifo = join(dir, "fifo.json");
    await mkfifo(fifo);
    const big = join(dir, "big.json");
    writePrivate(big, " ".repeat(2 * 1024 * 1024));
    const cases: [string, string, string][] = [
      ["a FIFO", fifo, "is a named pipe (FIFO), not a regular file"],
      ["/dev/zero", "/dev/zero", "is a character device, not a regular file"],
      ["a directory", dir, "is a directory"],
      ["an oversized file", big, "too large (2097152 bytes; at most 1048576)"],
    ];
    for (const [name, path, reason] of cases) {
      await t.step(name, async () => {
        const out = await checkSecrets(["--secrets-file", path], { cwd: dir });
        assert.equal(out.code, 1, out.stderr);
        assert.equal(
          out.stdout,
          `error: Cannot read secrets file "${path}": ${reason}\n${path}: invalid, 1 error\n`,
        );
      });
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("check-secrets reads $CREDENTIALS_DIRECTORY/secrets.json through the same checks", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const credentials = join(dir, "credentials");
    Deno.mkdirSync(credentials);
    await mkfifo(join(credentials, "secrets.json"));
    const out = await checkSecrets([], {
      cwd: dir,
      env: { CREDENTIALS_DIRECTORY: credentials },
    });
    assert.equal(out.code, 1, out.stderr);
    assert.match(
      out.stdout,
      new RegExp(
        `^error: Cannot read secrets file "${
          join(credentials, "secrets.json")
        }": is a named pipe \\(FIFO\\), not a regular file\n`,
      ),
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
