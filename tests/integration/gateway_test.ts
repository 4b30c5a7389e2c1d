/**
 * The core gateway end to end: the real entry point in a child process, real
 * sockets, and a mock Flow upstream that verifies every JWT.
 */
import assert from "node:assert/strict";
import { SignJWT } from "jose";
import { patternBytes, sha256 } from "../support/mock_upstream.ts";
import { startProxy, testCredentials, writeSecrets } from "../support/proxy.ts";
import { startStack } from "../support/stack.ts";
import { within } from "../support/within.ts";

const decoder = new TextDecoder();

async function readSse(res: Response): Promise<string> {
  return decoder.decode(new Uint8Array(await res.arrayBuffer()));
}

Deno.test("serve proxies OpenAI and Anthropic requests, JSON and SSE, with a verified JWT", async (t) => {
  await using stack = await startStack({
    credentials: 2,
    args: ["--num-workers", "2", "--log-level", "DEBUG"],
  });
  const { creds, upstream, proxy } = stack;

  await t.step(
    "OpenAI JSON: client credentials are replaced by the Flow JWT",
    async () => {
      const res = await fetch(`${proxy.url}/v1/chat/completions?trace=1`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          authorization: "Bearer sk-client-key-must-not-leak",
          "x-api-key": "anthropic-client-key-must-not-leak",
          "x-request-id": "req-openai-1",
        },
        body: JSON.stringify({
          model: "gpt-4o",
          messages: [{ role: "user", content: "hi" }],
        }),
      });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("x-request-id"), "req-openai-1");
      const body = await res.json();
      assert.equal(body.choices[0].message.content, "Hello from mock");
      const seen = upstream.requests.at(-1)!;
      assert.equal(seen.path, "/flow-llm-proxy/v1/chat/completions");
      assert.equal(seen.search, "?trace=1");
      assert.equal(seen.jwtError, null);
      assert.ok(creds.some((c) => c.clientId === seen.clientId));
      assert.equal(seen.headers.get("x-api-key"), null);
      assert.ok(!seen.headers.get("authorization")!.includes("sk-client-key"));
    },
  );

  await t.step("OpenAI SSE passes every event through", async () => {
    const res = await fetch(`${proxy.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-4o", stream: true, messages: [] }),
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type")!, /text\/event-stream/);
    const text = await readSse(res);
    assert.match(text, /"content":"Hello"/);
    assert.match(text, /data: \[DONE\]\n\n$/);
  });

  await t.step("Anthropic SSE passes every event through", async () => {
    const res = await fetch(`${proxy.url}/v1/messages`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "anthropic-version": "2023-06-01",
      },
      body: JSON.stringify({
        model: "anthropic.claude-4-5-sonnet",
        stream: true,
        max_tokens: 10,
        messages: [],
      }),
    });
    assert.equal(res.status, 200);
    const text = await readSse(res);
    assert.match(text, /event: message_start/);
    assert.match(text, /event: message_stop/);
    assert.equal(
      upstream.requests.at(-1)!.headers.get("anthropic-version"),
      "2023-06-01",
    );
  });

  await t.step("the base path is never doubled", async () => {
    const res = await fetch(`${proxy.url}/flow-llm-proxy/v1/models`);
    assert.equal(res.status, 200);
    await res.body?.cancel();
    assert.equal(upstream.requests.at(-1)!.path, "/flow-llm-proxy/v1/models");
  });

  await t.step("upstream errors pass through unchanged", async () => {
    upstream.behave = (r) =>
      r.path.endsWith("/v1/teapot")
        ? {
          kind: "status",
          status: 418,
          body: '{"error":"teapot"}',
          headers: { "x-upstream": "yes" },
        }
        : undefined;
    const res = await fetch(`${proxy.url}/v1/teapot`);
    assert.equal(res.status, 418);
    assert.equal(res.headers.get("x-upstream"), "yes");
    assert.equal(await res.text(), '{"error":"teapot"}');
    upstream.behave = () => undefined;
  });

  await t.step("all methods are forwarded", async () => {
    for (const method of ["PUT", "PATCH", "DELETE", "OPTIONS"]) {
      const res = await fetch(`${proxy.url}/v1/whatever`, { method });
      await res.body?.cancel();
      assert.equal(upstream.requests.at(-1)!.method, method);
    }
  });

  await t.step(
    "no clientSecret and no JWT in any log line, even at DEBUG",
    async () => {
      const logs = await proxy.settledLogs();
      assert.match(logs, /Using configuration 'cred-\d'/);
      for (const c of creds) {
        assert.ok(
          !logs.includes(c.clientSecret),
          "clientSecret leaked into the logs",
        );
        const jwt = await new SignJWT({
          clientId: c.clientId,
          clientSecret: c.clientSecret,
          tenant: c.tenant,
        })
          .setProtectedHeader({ alg: "HS256", typ: "JWT" })
          .sign(new TextEncoder().encode(c.clientSecret));
        assert.ok(!logs.includes(jwt), "JWT leaked into the logs");
      }
      assert.ok(!logs.includes("sk-client-key-must-not-leak"));
    },
  );
});

Deno.test("serve streams SSE events as the upstream writes them", async () => {
  const second = Promise.withResolvers<void>();
  const encoder = new TextEncoder();
  await using stack = await startStack({
    behave: () => ({
      kind: "respond",
      respond: () =>
        new Response(
          new ReadableStream({
            async start(ctrl) {
              ctrl.enqueue(encoder.encode('data: {"n":1}\n\n'));
              await second.promise;
              ctrl.enqueue(encoder.encode('data: {"n":2}\n\n'));
              ctrl.close();
            },
          }),
          { headers: { "content-type": "text/event-stream" } },
        ),
    }),
  });
  const { proxy } = stack;
  const res = await fetch(`${proxy.url}/v1/chat/completions`, {
    method: "POST",
    body: "{}",
  });
  const reader = res.body!.getReader();
  // The first event arrives while the upstream is still holding the second one back.
  const first = await reader.read();
  assert.equal(decoder.decode(first.value), 'data: {"n":1}\n\n');
  second.resolve();
  let rest = "";
  for (let r = await reader.read(); !r.done; r = await reader.read()) {
    rest += decoder.decode(r.value);
  }
  assert.equal(rest, 'data: {"n":2}\n\n');
});

Deno.test("serve streams a 5 MiB upload and a 2 MiB binary download byte-identical", async () => {
  await using stack = await startStack({
    behave: (r) =>
      r.path.endsWith("/download")
        ? { kind: "bytes", size: 2 * 1024 * 1024 }
        : undefined,
    args: ["--retry-body-limit", "1MiB"],
  });
  const { proxy } = stack;
  const upload = patternBytes(3, 5 * 1024 * 1024);
  const res = await fetch(`${proxy.url}/upload`, {
    method: "POST",
    headers: { "content-type": "application/octet-stream" },
    body: upload,
  });
  assert.equal(res.status, 200);
  const echoed = await res.json();
  assert.equal(echoed.length, upload.byteLength);
  assert.equal(echoed.sha256, await sha256(upload));

  const down = await fetch(`${proxy.url}/download`);
  const bytes = new Uint8Array(await down.arrayBuffer());
  assert.equal(bytes.byteLength, 2 * 1024 * 1024);
  assert.equal(
    await sha256(bytes),
    await sha256(patternBytes(0, 2 * 1024 * 1024)),
  );
  // Passed through untouched, the download is still logged once delivered.
  await proxy.waitForLog(/for GET \/download: 200 in [\d.]+ ms/);
});

Deno.test("serve cancels the upstream request when the client disconnects", async () => {
  await using stack = await startStack({
    behave: () => ({
      kind: "sse",
      events: ['data: {"n":1}\n\n'],
      stopAfter: 1,
      then: "stall",
    }),
  });
  const { upstream, proxy } = stack;
  const controller = new AbortController();
  const res = await fetch(`${proxy.url}/v1/chat/completions`, {
    method: "POST",
    body: "{}",
    signal: controller.signal,
  });
  const reader = res.body!.getReader();
  await reader.read();
  const cancelled = upstream.nextCancel();
  controller.abort();
  await reader.cancel().catch(() => {});
  await cancelled;
  assert.equal(upstream.cancelled, 1);
  await proxy.waitForLog("client_cancel");
});

Deno.test("serve aborts the upstream call when the client leaves before any answer", async () => {
  const arrived = Promise.withResolvers<void>();
  await using stack = await startStack({
    behave: () => {
      arrived.resolve();
      return { kind: "hang" };
    },
  });
  const { upstream, proxy } = stack;
  const controller = new AbortController();
  const response = fetch(`${proxy.url}/v1/chat/completions`, {
    method: "POST",
    body: '{"model":"m"}',
    signal: controller.signal,
  });
  const aborted = upstream.nextCancel();
  // Leave while the upstream call is pending: both the early case (before the
  // proxy watches the client) and the watched one must end the upstream call.
  await within(arrived.promise, {
    ms: 10_000,
    what: "the request reached the upstream",
  });
  assert.equal(upstream.requests.length, 1, "the upstream saw the request");
  controller.abort();
  await assert.rejects(response);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((resolve) =>
    timer = setTimeout(() => resolve("late"), 5000)
  );
  const outcome = await Promise.race([aborted, late]);
  clearTimeout(timer);
  assert.notEqual(outcome, "late", "the upstream call was not aborted");
  assert.equal(upstream.abortedHangs, 1);
  await proxy.waitForLog(/client_cancel/);
});

// A refused connection is an answer: the proxy must not wait out the 10 s
// connect timeout. The bound is half of it, generous for a loaded machine.
const REFUSED_BOUND_MS = 5_000;

Deno.test("serve answers 502 upstream_unreachable within 5 s, not after the connect timeout, when the upstream is down", async (t) => {
  const creds = testCredentials(2);
  const dead = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (dead.addr as Deno.NetAddr).port;
  dead.close();
  await using proxy = await startProxy({
    upstream: `http://127.0.0.1:${port}/flow-llm-proxy`,
    secretsFile: writeSecrets(creds),
  });
  await t.step("OpenAI shape", async () => {
    const started = performance.now();
    const res = await fetch(`${proxy.url}/v1/chat/completions`, {
      method: "POST",
      body: "{}",
    });
    const elapsed = performance.now() - started;
    assert.ok(elapsed < REFUSED_BOUND_MS, `answered after ${elapsed} ms`);
    assert.equal(res.status, 502);
    const body = await res.json();
    assert.equal(body.error.type, "upstream_unreachable");
    assert.equal(body.error.code, "upstream_unreachable");
    assert.ok(res.headers.get("x-request-id"));
  });
  await t.step("Anthropic shape for /v1/messages", async () => {
    const started = performance.now();
    const res = await fetch(`${proxy.url}/v1/messages`, {
      method: "POST",
      body: "{}",
    });
    const elapsed = performance.now() - started;
    assert.ok(elapsed < REFUSED_BOUND_MS, `answered after ${elapsed} ms`);
    assert.equal(res.status, 502);
    const body = await res.json();
    assert.equal(body.type, "error");
    assert.equal(body.error.type, "upstream_unreachable");
  });
});

Deno.test("serve spreads 300 requests over 4 workers and 30 connections exactly evenly", async () => {
  await using stack = await startStack({
    credentials: 3,
    args: ["--num-workers", "4", "--no-db"],
  });
  const { upstream, proxy } = stack;
  const clients = Array.from(
    { length: 30 },
    () => Deno.createHttpClient({ poolMaxIdlePerHost: 1 }),
  );
  try {
    await Promise.all(clients.map(async (client) => {
      for (let i = 0; i < 10; i++) {
        const res = await fetch(`${proxy.url}/v1/models`, { client });
        assert.equal(res.status, 200);
        await res.body?.cancel();
      }
    }));
  } finally {
    for (const c of clients) c.close();
  }
  const counts = new Map<string, number>();
  for (const r of upstream.requests) {
    counts.set(r.clientId!, (counts.get(r.clientId!) ?? 0) + 1);
  }
  assert.deepEqual([...counts.values()].sort(), [100, 100, 100]);
  // Every worker served some of them: the counter really is shared.
  const workers = new Set(
    (await proxy.settledLogs()).match(/\[worker-\d\] Using configuration/g),
  );
  assert.ok(workers.size >= 2, `only ${workers.size} worker(s) served`);
});

Deno.test("serve works as a forward proxy for the upstream's host only, and refuses CONNECT", async (t) => {
  await using stack = await startStack();
  const { upstream, proxy } = stack;

  await t.step("curl -x reaches the same path on the upstream", async () => {
    const out = await new Deno.Command("curl", {
      args: [
        "-s",
        "-x",
        proxy.url,
        `http://127.0.0.1:${upstream.port}/flow-llm-proxy/v1/models?x=1`,
      ],
    }).output();
    assert.equal(out.code, 0);
    const body = JSON.parse(decoder.decode(out.stdout));
    assert.equal(body.object, "list");
    assert.equal(upstream.requests.at(-1)!.path, "/flow-llm-proxy/v1/models");
    assert.equal(upstream.requests.at(-1)!.search, "?x=1");
  });

  await t.step(
    "a request naming another host never reaches that host",
    async () => {
      const other = Deno.serve({
        hostname: "127.0.0.1",
        port: 0,
        onListen() {},
      }, () => new Response("other host"));
      try {
        const out = await new Deno.Command("curl", {
          args: [
            "-s",
            "-x",
            proxy.url,
            `http://127.0.0.1:${other.addr.port}/v1/models`,
          ],
        }).output();
        assert.ok(!decoder.decode(out.stdout).includes("other host"));
        assert.equal(
          upstream.requests.at(-1)!.path,
          "/flow-llm-proxy/v1/models",
        );
      } finally {
        await other.shutdown();
      }
    },
  );

  await t.step("CONNECT gets 405 with an explanation", async () => {
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: proxy.port,
    });
    try {
      await conn.write(
        new TextEncoder().encode(
          "CONNECT flow.ciandt.com:443 HTTP/1.1\r\nHost: flow.ciandt.com:443\r\n\r\n",
        ),
      );
      const buf = new Uint8Array(4096);
      const n = await conn.read(buf);
      const text = decoder.decode(buf.subarray(0, n ?? 0));
      assert.match(text, /^HTTP\/1\.1 405/);
      assert.match(text, /method_not_allowed/);
      assert.match(text, /TLS tunnel/);
    } finally {
      conn.close();
    }
  });
});
