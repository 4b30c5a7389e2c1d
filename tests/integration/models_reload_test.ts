/**
 * The models file in a running proxy: refused at start when invalid, warned
 * about, reloaded on SIGHUP and on change into every worker without a failed
 * request, and a bad reload keeps the configuration in use.
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

const BAD_MODELS = `{
  "models": [{ "name": "gpt-5", "outputLimit": -1 }],
  "aliases": { "x": 5 }
}
`;

function count(text: string, pattern: RegExp): number {
  return [...text.matchAll(new RegExp(pattern, "g"))].length;
}

Deno.test("serve refuses an invalid models file before listening, with every problem", async () => {
  const secretsFile = writeSecrets(testCredentials(1));
  const dir = secretsFile.replace("/secrets.json", "");
  Deno.writeTextFileSync(`${dir}/bad.json`, BAD_MODELS);
  try {
    const out = await runCli([
      "serve",
      "--port",
      String(freePort()),
      "--no-db",
      "--secrets-file",
      secretsFile,
      "--config",
      "bad.json",
    ], { cwd: dir });
    assert.equal(out.code, 1, out.stderr);
    assert.match(out.stderr, /error: Models file "bad\.json" is invalid/);
    assert.match(out.stderr, /bad\.json:2:\d+: models\[0\]\.outputLimit/);
    assert.match(out.stderr, /bad\.json:3:\d+: aliases\.x/);
    assert.doesNotMatch(out.stderr, /ready on/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("serve reloads the models file on SIGHUP into every worker with no failed request; a bad one keeps the old", async (t) => {
  const creds = testCredentials(2);
  await using upstream = MockUpstream.start({ credentials: creds });
  const secretsFile = writeSecrets(creds);
  const dir = secretsFile.replace("/secrets.json", "");
  const modelsFile = `${dir}/models.json`;
  // Found beside the secrets file without --config; one warning (unknown target).
  Deno.writeTextFileSync(modelsFile, '{"aliases": {"x": "gpt-9"}}\n');
  await using proxy = await startProxy({
    upstream: upstream.url,
    secretsFile,
    args: [
      "--num-workers",
      "2",
      "--no-watch-secrets",
      "--no-db",
      "--log-level",
      "debug",
    ],
  });
  try {
    await t.step("the default file is used and its warning logged", () => {
      assert.match(proxy.logs(), /WARN.*models\.json:1:\d+: aliases\.x/);
      assert.match(
        proxy.logs(),
        /Models file ".*models\.json": \d+ models, 1 alias, 0 patterns/,
      );
    });

    await t.step("reload while 4 clients send 200 requests", async () => {
      let sent = 0;
      const statuses: number[] = [];
      const client = async () => {
        while (sent < 200) {
          sent++;
          if (sent === 60) {
            Deno.writeTextFileSync(
              modelsFile,
              '{"aliases": {"a": "gpt-5", "b": "gpt-4o"}}\n',
            );
            proxy.child.kill("SIGHUP");
          }
          const res = await fetch(`${proxy.url}/v1/chat/completions`, {
            method: "POST",
            body: '{"model":"m"}',
          });
          statuses.push(res.status);
          await res.body?.cancel();
        }
      };
      await Promise.all([client(), client(), client(), client()]);
      await proxy.waitForLog(
        /Reloaded models file ".*" \(SIGHUP\): .*2 aliases/,
      );
      assert.deepEqual(statuses.filter((s) => s !== 200), []);
      await proxy.waitForLog(
        /(Models configuration in force on this thread[^]*){2}/,
      );
      assert.equal(
        count(proxy.logs(), /Models configuration in force on this thread/),
        2,
        "each of the 2 workers took the new file",
      );
    });

    await t.step(
      "a bad file: one ERROR per problem, a summary, the old stays",
      async () => {
        Deno.writeTextFileSync(modelsFile, BAD_MODELS);
        proxy.child.kill("SIGHUP");
        await proxy.waitForLog(
          /Reload of models file ".*models\.json" \(SIGHUP\) rejected, keeping the configuration in use: 2 errors/,
        );
        const logs = proxy.logs();
        assert.match(
          logs,
          /ERROR.*Models file ".*": .*models\.json:2:\d+: models\[0\]\.outputLimit/,
        );
        assert.match(
          logs,
          /ERROR.*Models file ".*": .*models\.json:3:\d+: aliases\.x/,
        );
        assert.equal(
          count(logs, /Models configuration in force on this thread/),
          2,
          "no worker was handed the bad file",
        );
        const res = await fetch(`${proxy.url}/v1/models`);
        assert.equal(res.status, 200);
        await res.body?.cancel();
      },
    );
  } finally {
    await proxy.stop();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("serve reloads the models file when it changes on disk", async () => {
  const creds = testCredentials(1);
  await using upstream = MockUpstream.start({ credentials: creds });
  const secretsFile = writeSecrets(creds);
  const dir = secretsFile.replace("/secrets.json", "");
  Deno.writeTextFileSync(`${dir}/m.json`, "{}\n");
  await using proxy = await startProxy({
    upstream: upstream.url,
    secretsFile,
    args: ["--config", "m.json", "--no-db"],
  });
  try {
    Deno.writeTextFileSync(`${dir}/m.json`, '{"aliases": {"s": "gpt-5"}}\n');
    await proxy.waitForLog(
      /Reloaded models file "m\.json" \(file change\): .*1 alias/,
    );
  } finally {
    await proxy.stop();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("serve --no-threaded reloads the models file on SIGHUP on the main thread", async () => {
  const creds = testCredentials(1);
  await using upstream = MockUpstream.start({ credentials: creds });
  const secretsFile = writeSecrets(creds);
  const dir = secretsFile.replace("/secrets.json", "");
  Deno.writeTextFileSync(`${dir}/m.json`, "{}\n");
  await using proxy = await startProxy({
    upstream: upstream.url,
    secretsFile,
    args: [
      "--config",
      "m.json",
      "--no-threaded",
      "--no-db",
      "--no-watch-secrets",
      "--log-level",
      "debug",
    ],
  });
  try {
    Deno.writeTextFileSync(`${dir}/m.json`, '{"aliases": {"s": "gpt-5"}}\n');
    proxy.child.kill("SIGHUP");
    await proxy.waitForLog(/Reloaded models file "m\.json" \(SIGHUP\)/);
    await proxy.waitForLog(
      "Models configuration in force on this thread: m.json",
    );
    const res = await fetch(`${proxy.url}/v1/models`);
    assert.equal(res.status, 200);
    await res.body?.cancel();
  } finally {
    await proxy.stop();
    Deno.removeSync(dir, { recursive: true });
  }
});
