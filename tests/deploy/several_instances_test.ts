/**
 * The several-instances deployment without containers: three real
 * `flow-proxy serve` processes sharing one ClickHouse, behind a real nginx
 * running deploy/compose/nginx.conf (only names and ports rewritten). nginx
 * spreads the traffic and passes a stream's events as they come;
 * `flow-proxy usage --clickhouse-url` then shows the total of all three,
 * while each instance's own file holds its share only.
 */
import assert from "node:assert/strict";
import { MockUpstream } from "../support/mock_upstream.ts";
import {
  type ProxyProcess,
  runCli,
  startProxy,
  testCredentials,
  writeSecrets,
} from "../support/proxy.ts";
import {
  CLICKHOUSE_TEST_PASSWORD,
  CLICKHOUSE_TEST_USER,
  createClickHouseServer,
  freePort,
} from "../support/clickhouse.ts";
import { nginxArgs, writeLocalNginx } from "./local_nginx.ts";

const REQUESTS = 30;
const AUTH = {
  FLOW_PROXY_CLICKHOUSE_USER: CLICKHOUSE_TEST_USER,
  FLOW_PROXY_CLICKHOUSE_PASSWORD: CLICKHOUSE_TEST_PASSWORD,
};

/** Requests an instance counted in `flow_proxy_requests_total`, all labels summed. */
async function servedBy(proxy: ProxyProcess): Promise<number> {
  const text = await (await fetch(`${proxy.url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("flow_proxy_requests_total{")) {
      sum += Number(line.slice(line.lastIndexOf(" ") + 1));
    }
  }
  return sum;
}

/** Polls `read` until `done` holds (at most `limitMs`); returns the last value. */
async function until<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  limitMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + limitMs;
  let value = await read();
  while (!done(value) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    value = await read();
  }
  return value;
}

async function usageJson(
  args: string[],
): Promise<{ total: { requests: number } }> {
  const out = await runCli(["usage", "--json", ...args], { env: AUTH });
  assert.equal(out.code, 0, out.stderr);
  return JSON.parse(out.stdout);
}

/** Reads the first SSE event of a stream that then stalls; fails after 10 s without it. */
async function firstEventThrough(url: string): Promise<void> {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new Error("no event through nginx within 10 s")),
    10_000,
  );
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-4o", stream: true, messages: [] }),
      signal: controller.signal,
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /text\/event-stream/);
    const reader = res.body!.getReader();
    let text = "";
    const decoder = new TextDecoder();
    while (!text.includes("\n\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    assert.equal(text, 'data: {"first":true}\n\n');
    await reader.cancel();
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("3 instances behind nginx share one ClickHouse: usage --clickhouse-url shows all of their requests", async () => {
  await using clickhouse = await createClickHouseServer();
  await clickhouse.start();
  const creds = testCredentials(3);
  await using upstream = MockUpstream.start({
    credentials: creds,
    // A stream that sends one event and then nothing: the client must get
    // that event while the stream is still open, through both hops.
    behave: (r) =>
      r.path.endsWith("/v1/stall")
        ? {
          kind: "sse",
          events: ['data: {"first":true}\n\n'],
          stopAfter: 1,
          then: "stall",
        }
        : undefined,
  });
  const proxies: ProxyProcess[] = [];
  const dbs: string[] = [];
  const prefix = await Deno.makeTempDir({ prefix: "flow-proxy-3x-nginx-" });
  let nginx: Deno.ChildProcess | null = null;
  try {
    for (let i = 0; i < 3; i++) {
      const secretsFile = writeSecrets(creds);
      const db = secretsFile.replace("secrets.json", "flow-proxy.db");
      dbs.push(db);
      proxies.push(
        await startProxy({
          upstream: upstream.url,
          secretsFile,
          args: [
            "--num-workers",
            "1",
            "--db",
            db,
            "--clickhouse-url",
            clickhouse.url.href,
          ],
          env: AUTH,
        }),
      );
    }
    const port = freePort();
    const conf = await writeLocalNginx({
      prefix,
      port,
      upstreams: proxies.map((p) => p.port),
    });
    nginx = new Deno.Command("nginx", {
      args: [...nginxArgs(prefix, conf), "-g", "daemon off;"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const front = `http://127.0.0.1:${port}`;
    const up = await until(
      () =>
        fetch(`${front}/healthz`).then(async (r) => {
          await r.body?.cancel();
          return r.status;
        }).catch(() => 0),
      (status) => status === 200,
      10_000,
    );
    assert.equal(up, 200, "nginx did not answer within 10 s");

    const before = await Promise.all(proxies.map(servedBy));
    for (let i = 0; i < REQUESTS; i++) {
      const res = await fetch(`${front}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "gpt-4o", messages: [] }),
      });
      const text = await res.text();
      assert.equal(res.status, 200, text);
    }
    const after = await Promise.all(proxies.map(servedBy));
    const shares = after.map((n, i) => n - before[i]);
    assert.equal(shares.reduce((a, b) => a + b, 0), REQUESTS);
    // Round robin: each instance took about a third.
    for (const share of shares) {
      assert.ok(share >= 8, `shares ${shares.join("/")}`);
    }

    const all = await until(
      () => usageJson(["--clickhouse-url", clickhouse.url.href]),
      (u) => u.total.requests >= REQUESTS,
    );
    assert.equal(all.total.requests, REQUESTS);

    // One instance's own file: its share only, not the company's.
    const local = await until(
      () => usageJson(["--no-clickhouse", "--db", dbs[0]]),
      (u) => u.total.requests >= shares[0],
    );
    assert.equal(local.total.requests, shares[0]);

    await firstEventThrough(`${front}/v1/stall`);
  } finally {
    if (nginx !== null) {
      nginx.kill("SIGTERM");
      await nginx.status;
    }
    for (const proxy of proxies) await proxy[Symbol.asyncDispose]();
    await Deno.remove(prefix, { recursive: true });
  }
});
