/**
 * Process life: graceful shutdown with streams in flight, a second signal,
 * secrets reload under load, and a crashed worker being restarted.
 */
import assert from "node:assert/strict";
import { getLog, setupLogging } from "../../src/base/logging.ts";
import { resolveSettings } from "../../src/config/settings.ts";
import { SIGNAL_WINDOW_MS } from "../../src/cli/serve.ts";
import { Supervisor } from "../../src/server/supervisor.ts";
import { MockUpstream, openAiEvents } from "../support/mock_upstream.ts";
import {
  freePort,
  startProxy,
  testCredentials,
  waitHealthy,
  writeSecrets,
} from "../support/proxy.ts";
import { startStack } from "../support/stack.ts";
import { within } from "../support/within.ts";

Deno.test("SIGTERM lets streams in flight finish, refuses new connections, and exits 0", async () => {
  const events = openAiEvents(
    "gpt-4o",
    Array.from({ length: 8 }, (_, i) => `w${i}`),
  );
  await using stack = await startStack({
    behave: () => ({ kind: "sse", events, delayMs: 100 }),
    args: ["--num-workers", "2", "--shutdown-timeout", "10s"],
  });
  const { proxy } = stack;
  const streams = await Promise.all(
    Array.from(
      { length: 3 },
      () =>
        fetch(`${proxy.url}/v1/chat/completions`, {
          method: "POST",
          body: "{}",
        }),
    ),
  );
  const bodies = streams.map((res) => res.text());
  proxy.child.kill("SIGTERM");
  await proxy.waitForLog("SIGTERM received");
  for (const body of await Promise.all(bodies)) {
    assert.match(body, /"content":"w7"/);
    assert.match(body, /data: \[DONE\]\n\n$/);
  }
  // One signal only: wait for the exit it causes.
  const status = await proxy.child.status;
  assert.equal(status.code, 0);
  await proxy.stop();
  assert.match(proxy.logs(), /All in-flight requests finished/);
  await assert.rejects(fetch(`${proxy.url}/healthz`));
});

Deno.test("a second SIGTERM exits at once", async () => {
  const arrived = Promise.withResolvers<void>();
  await using stack = await startStack({
    behave: () => {
      arrived.resolve();
      return { kind: "hang" };
    },
    args: ["--shutdown-timeout", "60s"],
  });
  const { proxy } = stack;
  const pending = fetch(`${proxy.url}/v1/models`).then((r) => r.text()).catch(
    () => "cut",
  );
  await proxy.waitForLog("Worker 1 listening");
  // Let the request reach the upstream before the first signal.
  await within(arrived.promise, {
    ms: 10_000,
    what: "the request reached the upstream",
  });
  proxy.child.kill("SIGTERM");
  await proxy.waitForLog("SIGTERM received");
  // A signal within the window is the same one (see signal_window_test.ts).
  await new Promise((r) => setTimeout(r, SIGNAL_WINDOW_MS + 200));
  proxy.child.kill("SIGTERM");
  const status = await proxy.stop();
  assert.equal(status.code, 143);
  assert.match(proxy.logs(), /Second SIGTERM: exiting now/);
  await pending;
});

Deno.test("SIGHUP swaps credentials under load with zero failed requests; an invalid file changes nothing", async (t) => {
  const oldCreds = testCredentials(2, "old");
  const newCreds = testCredentials(2, "new");
  await using upstream = MockUpstream.start({
    credentials: [...oldCreds, ...newCreds],
  });
  const secretsFile = writeSecrets(oldCreds);
  await using proxy = await startProxy({
    upstream: upstream.url,
    secretsFile,
    args: ["--num-workers", "2", "--no-watch-secrets"],
  });

  await t.step("reload while 4 clients send 200 requests", async () => {
    let sent = 0;
    const statuses: number[] = [];
    const client = async () => {
      while (sent < 200) {
        sent++;
        if (sent === 60) {
          writeSecrets(newCreds, secretsFile.replace("/secrets.json", ""));
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
    await proxy.waitForLog("Reloaded");
    assert.equal(statuses.length, 200);
    assert.deepEqual(statuses.filter((s) => s !== 200), []);
    const ids = upstream.requests.map((r) => r.clientId);
    assert.ok(
      ids.every((id) => id !== null),
      "every request carried a valid JWT",
    );
    assert.ok(
      ids.slice(-20).every((id) => id!.includes("-new-")),
      "the new credentials are used after the reload",
    );
  });

  await t.step(
    "an invalid file is rejected with a clear line and the old credentials stay",
    async () => {
      Deno.writeTextFileSync(secretsFile, '[{"clientId": "x"}]');
      proxy.child.kill("SIGHUP");
      await proxy.waitForLog(
        /Reload of .*secrets\.json \(SIGHUP\) rejected, keeping the 2 credentials in use: .*"clientSecret"/,
      );
      const before = upstream.requests.length;
      for (let i = 0; i < 4; i++) {
        const res = await fetch(`${proxy.url}/v1/models`);
        assert.equal(res.status, 200);
        await res.body?.cancel();
      }
      assert.ok(
        upstream.requests.slice(before).every((r) =>
          r.clientId!.includes("-new-")
        ),
      );
    },
  );
});

Deno.test("the secrets file is reloaded when it changes on disk", async () => {
  const oldCreds = testCredentials(1, "old");
  const newCreds = testCredentials(1, "new");
  await using upstream = MockUpstream.start({
    credentials: [...oldCreds, ...newCreds],
  });
  const secretsFile = writeSecrets(oldCreds);
  await using proxy = await startProxy({ upstream: upstream.url, secretsFile });
  writeSecrets(newCreds, secretsFile.replace("/secrets.json", ""));
  await proxy.waitForLog("(file change): 1 credentials: new-1");
  const res = await fetch(`${proxy.url}/v1/models`);
  await res.body?.cancel();
  assert.match(upstream.requests.at(-1)!.clientId!, /-new-/);
});

Deno.test("Supervisor restarts a crashed worker while the others keep serving", async () => {
  const creds = testCredentials(2);
  await using upstream = MockUpstream.start({ credentials: creds });
  const lines: string[] = [];
  setupLogging({
    level: "INFO",
    thread: "test",
    write: (text) => lines.push(text),
  });
  const port = freePort();
  const parsed = resolveSettings([
    "--port",
    String(port),
    "--num-workers",
    "2",
    "--upstream",
    upstream.url,
    "--no-db",
  ], { env: {} });
  assert.ok(!parsed.help);
  const supervisor = new Supervisor({
    settings: parsed.settings,
    credentials: creds.map((c, index) => ({ ...c, index })),
    logger: getLog("test"),
  });
  await supervisor.start();
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitHealthy(url);
    supervisor.crashWorker(1);
    for (let i = 0; i < 200 && supervisor.restarts === 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(supervisor.restarts, 1);
    await waitHealthy(url);
    const health = await (await fetch(`${url}/healthz`)).json();
    assert.deepEqual(health.workers, { ready: 2, expected: 2 });
    const res = await fetch(`${url}/v1/models`);
    assert.equal(res.status, 200);
    await res.body?.cancel();
    assert.ok(
      lines.some((l) =>
        /Worker 1 crashed \(.*test hook.*\); restarting it/.test(l)
      ),
      lines.join(""),
    );
  } finally {
    await supervisor.shutdown();
  }
});
