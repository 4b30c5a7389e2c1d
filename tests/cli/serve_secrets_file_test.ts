/**
 * `flow-proxy serve` reads the secrets file through the same bounded reader
 * at start and on SIGHUP: a FIFO or device is refused at once, repeated keys
 * and bad UTF-8 are logged at WARNING, and a bad file on reload keeps the
 * credentials in use with an ERROR line.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { MockUpstream } from "../support/mock_upstream.ts";
import {
  freePort,
  MAIN,
  startProxy,
  testCredentials,
  writeSecrets,
} from "../support/proxy.ts";

/** Only bounds a run that would hang without the fix; it then fails. */
const RUN_LIMIT_MS = 20_000;

async function mkfifo(path: string): Promise<void> {
  const out = await new Deno.Command("mkfifo", { args: [path] }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
}

async function serve(
  args: string[],
  options: { cwd: string; env?: Record<string, string> },
): Promise<{ code: number; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      MAIN,
      "serve",
      "--no-db",
      "--port",
      String(freePort()),
      ...args,
    ],
    cwd: options.cwd,
    env: { NO_COLOR: "1", ...options.env },
    stdin: "null",
    signal: AbortSignal.timeout(RUN_LIMIT_MS),
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

/** Repeats `clientId` in each entry, the later (real) one last. */
function withRepeatedKey(entries: Record<string, string>[]): string {
  return "[\n" +
    entries.map((e) => `  {"clientId": "stale", ${JSON.stringify(e).slice(1)}`)
      .join(",\n") +
    "\n]\n";
}

Deno.test("serve refuses a secrets file that is not a regular file, at once", async (t) => {
  const dir = Deno.makeTempDirSync();
  try {
    await t.step("$CREDENTIALS_DIRECTORY/secrets.json is a FIFO", async () => {
      const credentials = join(dir, "credentials");
      Deno.mkdirSync(credentials);
      await mkfifo(join(credentials, "secrets.json"));
      const out = await serve([], {
        cwd: dir,
        env: { CREDENTIALS_DIRECTORY: credentials },
      });
      assert.equal(out.code, 1, out.stderr);
      assert.match(
        out.stderr,
        new RegExp(
          `^error: Cannot read secrets file "${
            join(credentials, "secrets.json")
          }": is a named pipe \\(FIFO\\), not a regular file\n`,
        ),
      );
    });
    await t.step("--secrets-file /dev/zero", async () => {
      const out = await serve(["--secrets-file", "/dev/zero"], { cwd: dir });
      assert.equal(out.code, 1, out.stderr);
      assert.match(
        out.stderr,
        /^error: Cannot read secrets file "\/dev\/zero": is a character device, not a regular file\n/,
      );
    });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("serve logs repeated keys and bad UTF-8 at WARNING, at start and on SIGHUP; a bad file on reload keeps the old credentials", async (t) => {
  const oldCreds = testCredentials(1, "old");
  const newCreds = testCredentials(1, "new");
  await using upstream = MockUpstream.start({
    credentials: [...oldCreds, ...newCreds],
  });
  const secretsFile = writeSecrets(oldCreds);
  const enc = new TextEncoder();
  // The name carries a byte that is not UTF-8; the rest is the real entry.
  const oldText = withRepeatedKey(oldCreds).replace(
    '"name":"old-1"',
    '"name":"old-1\u0000"',
  );
  const [before, after] = oldText.split("\u0000");
  Deno.writeFileSync(
    secretsFile,
    new Uint8Array([...enc.encode(before), 0xff, ...enc.encode(after)]),
  );
  await using proxy = await startProxy({
    upstream: upstream.url,
    secretsFile,
    args: ["--num-workers", "1", "--no-watch-secrets", "--no-db"],
  });

  await t.step("start: one WARNING line per problem", async () => {
    await proxy.waitForLog(
      /WARNING .*secrets\.json: bytes that are not valid UTF-8 at line 2, column \d+; each is read as U\+FFFD/,
    );
    await proxy.waitForLog(
      /WARNING .*secrets\.json: entry 1 \("old-1\uFFFD"\): "clientId" appears twice, at line 2, column 4 and line 2, column \d+; the last one is used/,
    );
    const res = await fetch(`${proxy.url}/v1/models`);
    await res.body?.cancel();
    assert.equal(res.status, 200);
    assert.match(upstream.requests.at(-1)!.clientId!, /-old-/);
  });

  const replaceWith = async (make: () => Promise<void> | void) => {
    Deno.removeSync(secretsFile);
    await make();
    proxy.child.kill("SIGHUP");
  };
  const stillOld = async () => {
    const res = await fetch(`${proxy.url}/v1/models`);
    await res.body?.cancel();
    assert.equal(res.status, 200);
    assert.match(upstream.requests.at(-1)!.clientId!, /-old-/);
  };

  await t.step("SIGHUP with a FIFO: ERROR, old credentials kept", async () => {
    await replaceWith(() => mkfifo(secretsFile));
    await proxy.waitForLog(
      /ERROR .*Reload of .*secrets\.json \(SIGHUP\) rejected, keeping the 1 credentials in use: Cannot read secrets file ".*secrets\.json": is a named pipe \(FIFO\), not a regular file/,
    );
    await stillOld();
  });

  await t.step(
    "SIGHUP with an oversized file: ERROR, old credentials kept",
    async () => {
      await replaceWith(() =>
        Deno.writeTextFileSync(secretsFile, " ".repeat(2 * 1024 * 1024))
      );
      await proxy.waitForLog(
        /ERROR .*rejected, keeping the 1 credentials in use: Cannot read secrets file ".*secrets\.json": too large \(2097152 bytes; at most 1048576\)/,
      );
      await stillOld();
    },
  );

  await t.step(
    "SIGHUP with a repeated key: WARNING, then reloaded",
    async () => {
      await replaceWith(() => {
        Deno.writeTextFileSync(secretsFile, withRepeatedKey(newCreds));
        Deno.chmodSync(secretsFile, 0o600);
      });
      await proxy.waitForLog("(SIGHUP): 1 credentials: new-1");
      assert.match(
        proxy.logs(),
        /WARNING .*secrets\.json: entry 1 \("new-1"\): "clientId" appears twice, at line 2, column 4 and line 2, column \d+; the last one is used/,
      );
      const res = await fetch(`${proxy.url}/v1/models`);
      await res.body?.cancel();
      assert.match(upstream.requests.at(-1)!.clientId!, /-new-/);
    },
  );
});
