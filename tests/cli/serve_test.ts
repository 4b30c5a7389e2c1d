/**
 * `flow-proxy` and `flow-proxy serve` as a user runs them: exit codes and
 * one-line errors for bad input, the banner, readiness, the log file.
 */
import assert from "node:assert/strict";
import { MockUpstream } from "../support/mock_upstream.ts";
import {
  freePort,
  runCli,
  startProxy,
  testCredentials,
  writeSecrets,
} from "../support/proxy.ts";
import { VERSION } from "../../src/version.ts";

Deno.test("flow-proxy --version and --help", async (t) => {
  await t.step("--version prints the version from src/version.ts", async () => {
    const out = await runCli(["--version"]);
    assert.equal(out.code, 0);
    assert.equal(out.stdout, `flow-proxy ${VERSION}\n`);
  });
  await t.step("--help lists the commands", async () => {
    const out = await runCli(["--help"]);
    assert.equal(out.code, 0);
    assert.match(out.stdout, /serve/);
    assert.match(out.stdout, /check-secrets/);
  });
  await t.step("serve --help lists every flag with its variable", async () => {
    const out = await runCli(["serve", "--help"]);
    assert.equal(out.code, 0);
    for (
      const flag of [
        "--host",
        "--port",
        "--secrets-file",
        "--upstream",
        "--num-workers",
        "--no-threaded",
        "--log-level",
        "--log-file",
        "--env-file",
      ]
    ) {
      assert.ok(out.stdout.includes(flag), `${flag} missing from serve --help`);
    }
    assert.match(out.stdout, /FLOW_PROXY_PORT/);
  });
});

Deno.test("flow-proxy rejects bad input with one clear line and the right exit code", async (t) => {
  const secrets = writeSecrets(testCredentials(1));
  const cases: [string, string[], number, RegExp][] = [
    ["no command", [], 2, /error: No command given/],
    [
      "unknown command",
      ["frobnicate"],
      2,
      /error: Unknown command 'frobnicate'/,
    ],
    [
      "unknown flag",
      ["serve", "--bogus"],
      2,
      /error: Unknown option '--bogus'/,
    ],
    [
      "port out of range",
      ["serve", "--port", "70000"],
      2,
      /--port must be a port number from 1 to 65535, got "70000"/,
    ],
    ["port zero", ["serve", "--port", "0"], 2, /--port must be a port number/],
    [
      "workers not positive",
      ["serve", "--num-workers", "0"],
      2,
      /--num-workers must be a positive whole number/,
    ],
    [
      "workers not a number",
      ["serve", "--num-workers", "two"],
      2,
      /--num-workers must be a positive whole number/,
    ],
    [
      "unknown log level",
      ["serve", "--log-level", "LOUD"],
      2,
      /--log-level must be one of DEBUG, INFO, WARNING, ERROR/,
    ],
    [
      "upstream not http(s)",
      ["serve", "--upstream", "ftp://x"],
      2,
      /--upstream must be an http:\/\/ or https:\/\/ URL/,
    ],
    [
      "env var checked too",
      ["serve"],
      2,
      /FLOW_PROXY_PORT must be a port number/,
    ],
    [
      "missing secrets file",
      ["serve", "--secrets-file", "/nonexistent/secrets.json"],
      1,
      /Cannot read secrets file "\/nonexistent\/secrets.json".*\n.*secrets\.json\.template/,
    ],
  ];
  for (const [name, args, code, pattern] of cases) {
    await t.step(name, async () => {
      const env: Record<string, string> = name === "env var checked too"
        ? { FLOW_PROXY_PORT: "99999" }
        : {};
      const out = await runCli(
        args.length && args[0] === "serve" && !args.includes("--secrets-file")
          ? [...args, "--secrets-file", secrets]
          : args,
        { env },
      );
      assert.equal(out.code, code, out.stderr);
      assert.match(out.stderr, pattern);
      assert.match(out.stderr, /^error: /);
    });
  }
});

Deno.test("serve refuses a port already in use", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = (listener.addr as Deno.NetAddr).port;
    const out = await runCli([
      "serve",
      "--port",
      String(port),
      "--secrets-file",
      writeSecrets(testCredentials(1)),
    ]);
    assert.equal(out.code, 1);
    assert.match(
      out.stderr,
      new RegExp(`error: Port ${port} on 127.0.0.1 is already in use`),
    );
  } finally {
    listener.close();
  }
});

Deno.test("serve prints a banner, logs each worker, and writes the log file", async () => {
  const creds = testCredentials(3);
  await using upstream = MockUpstream.start({ credentials: creds });
  const secretsFile = writeSecrets(creds);
  const logFile = secretsFile.replace("secrets.json", "proxy.log");
  await using proxy = await startProxy({
    upstream: upstream.url,
    secretsFile,
    args: ["--num-workers", "2", "--log-file", logFile],
  });
  const logs = proxy.logs();
  assert.match(
    logs,
    /flow-proxy \d+\.\d+\.\d+\n {2}listening on {2}http:\/\/127\.0\.0\.1:\d+/,
  );
  assert.match(logs, /workers {7}2 Web Workers/);
  assert.match(
    logs,
    new RegExp(`upstream {6}${upstream.url.replaceAll(".", "\\.")}`),
  );
  assert.match(logs, /secrets {7}.*secrets\.json \(3 credentials\)/);
  assert.match(logs, /log level {5}INFO/);
  assert.match(logs, /\[worker-1\] Worker 1 listening/);
  assert.match(logs, /\[worker-2\] Worker 2 listening/);
  const res = await fetch(`${proxy.url}/v1/models`, {
    headers: { "x-request-id": "log-file-check" },
  });
  await res.body?.cancel();
  await proxy.waitForLog("log-file-check");
  const status = await proxy.stop();
  assert.equal(status.code, 0);
  const file = Deno.readTextFileSync(logFile);
  assert.match(
    file,
    /Using configuration 'cred-\d' for GET \/v1\/models: 200 in [\d.]+ ms \[log-file-check\]/,
  );
  for (const c of creds) assert.ok(!file.includes(c.clientSecret));
});

Deno.test("serve reads settings from .env under the real environment", async () => {
  const creds = testCredentials(1);
  await using upstream = MockUpstream.start({ credentials: creds });
  const secretsFile = writeSecrets(creds);
  const dir = secretsFile.replace("/secrets.json", "");
  const port = freePort();
  Deno.writeTextFileSync(
    `${dir}/.env`,
    `FLOW_PROXY_PORT=${port}\nFLOW_PROXY_LOG_LEVEL=debug\nFLOW_PROXY_UPSTREAM=http://127.0.0.1:1/nowhere\n`,
  );
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../../main.ts", import.meta.url).pathname,
      "serve",
      "--no-threaded",
    ],
    cwd: dir,
    env: { FLOW_PROXY_UPSTREAM: upstream.url, NO_COLOR: "1" },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  try {
    let ok = false;
    for (let i = 0; i < 100 && !ok; i++) {
      const res = await fetch(`http://127.0.0.1:${port}/v1/models`).catch(() =>
        null
      );
      ok = res?.status === 200;
      await res?.body?.cancel();
      if (!ok) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(
      ok,
      "the proxy did not listen on the port from .env, or ignored the environment's upstream",
    );
  } finally {
    child.kill("SIGTERM");
    const stderr = new TextDecoder().decode((await child.output()).stderr);
    assert.match(stderr, /log level {5}DEBUG/);
  }
});
