import assert from "node:assert/strict";
import type { Logger } from "@logtape/logtape";
import { Balancer, resetHealth } from "../../src/upstream/balancer.ts";
import { signFlowToken } from "../../src/upstream/jwt.ts";
import type { RequestRecord } from "../../src/request_log/record.ts";
import {
  createHandler,
  type HandlerOptions,
  type ProxyHandler,
  refuseMethod,
} from "../../src/proxy/handler.ts";
import { createSharedState } from "../../src/base/shared_state.ts";
import { MockUpstream } from "../support/mock_upstream.ts";

const UPSTREAM = "http://127.0.0.1:9/flow-llm-proxy";
const PROXY = "http://127.0.0.1:8899";
const INFO = {
  remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 50000 },
  completed: Promise.resolve(),
} as unknown as Deno.ServeHandlerInfo;
const UUID =
  /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One call of the injected fetch. */
interface Call {
  url: string;
  method: string;
  headers: Headers;
  body: Uint8Array | null;
  signal: AbortSignal;
}

type Responder = (call: Call, n: number) => Response | Promise<Response>;

interface LogLine {
  level: string;
  message: string;
}

function collectLogs(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const record = (level: string) => (message: unknown) => {
    lines.push({ level, message: String(message) });
  };
  const logger = {
    debug: record("debug"),
    info: record("info"),
    warn: record("warn"),
    warning: record("warning"),
    isEnabledFor: () => true,
    error: record("error"),
    fatal: record("fatal"),
    trace: record("trace"),
  } as unknown as Logger;
  return { logger, lines };
}

interface SetupOptions {
  respond?: Responder;
  names?: string[];
  tokens?: (string | null)[];
  healthy?: boolean;
  options?: Partial<HandlerOptions>;
}

interface Setup extends Disposable {
  handler: ProxyHandler;
  balancer: Balancer;
  calls: Call[];
  records: RequestRecord[];
  logs: LogLine[];
  /** The fixed time the balancer sees. */
  now: number;
}

function setup(o: SetupOptions = {}): Setup {
  const names = o.names ?? ["a", "b", "c"];
  const tokens = o.tokens ?? names.map((n) => `token-${n}`);
  const state = createSharedState();
  resetHealth(state);
  const now = 1_700_000_000_000;
  const { logger, lines } = collectLogs();
  const balancer = new Balancer(state, { names, tokens, generation: 1 }, {
    backoffBase: 10_000,
    backoffMax: 60_000,
    now: () => now,
    logger,
  });
  const calls: Call[] = [];
  const respond = o.respond ?? (() => Response.json({ ok: true }));
  const fakeFetch = async (
    input: RequestInfo | URL,
    init?: RequestInit,
  ): Promise<Response> => {
    const body = init?.body === undefined || init.body === null
      ? null
      : new Uint8Array(await new Response(init.body).arrayBuffer());
    const call: Call = {
      url: String(input),
      method: init?.method ?? "GET",
      headers: new Headers(init?.headers),
      body,
      signal: init!.signal!,
    };
    calls.push(call);
    return await respond(call, calls.length - 1);
  };
  const records: RequestRecord[] = [];
  const handler = createHandler({
    upstream: new URL(UPSTREAM),
    balancer: () => balancer,
    retryBodyLimit: 1024,
    maxBodySize: 4096,
    maxAttempts: 3,
    connectTimeout: 10_000,
    headersTimeout: 60_000,
    idleTimeout: 60_000,
    cooldownDefault: 30_000,
    logger,
    health: () => ({
      healthy: o.healthy ?? true,
      body: { status: o.healthy === false ? "unavailable" : "ok" },
    }),
    onRecord: (r) => records.push(structuredClone(r)),
    fetch: fakeFetch as typeof fetch,
    connectCheck: null,
    ...o.options,
  });
  return {
    handler,
    balancer,
    calls,
    records,
    logs: lines,
    now,
    [Symbol.dispose]() {
      handler.close();
    },
  };
}

function post(path: string, body: unknown, headers: HeadersInit = {}) {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  return new Request(PROXY + path, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: text,
  });
}

function get(url: string, headers: HeadersInit = {}) {
  return new Request(url.startsWith("http") ? url : PROXY + url, { headers });
}

/** A response body the test feeds one chunk at a time. */
function controlledStream() {
  let ctrl!: ReadableStreamDefaultController<Uint8Array>;
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      ctrl = c;
    },
  });
  return {
    stream,
    send: (text: string) => ctrl.enqueue(encoder.encode(text)),
    close: () => ctrl.close(),
    error: (err: unknown) => ctrl.error(err),
  };
}

function sse(body: ReadableStream<Uint8Array> | string): Response {
  return new Response(body, {
    headers: { "content-type": "text/event-stream" },
  });
}

/**
 * The deadline timer is unref'd (a server keeps the process alive in real
 * use); this ref'd timer does that while a test waits for a deadline.
 */
async function keepingAlive<T>(promise: Promise<T>): Promise<T> {
  const timer = setTimeout(() => {}, 30_000);
  try {
    return await promise;
  } finally {
    clearTimeout(timer);
  }
}

async function read(
  reader: ReadableStreamDefaultReader<Uint8Array>,
): Promise<string | null> {
  const { done, value } = await reader.read();
  return done ? null : decoder.decode(value);
}

Deno.test("createHandler answers CONNECT with 405 and an explanation", async () => {
  using s = setup();
  // `new Request` refuses CONNECT; Deno.serve hands the handler one like this.
  const req = {
    method: "CONNECT",
    url: "http://flow.ciandt.com:443/",
    headers: new Headers({ host: "flow.ciandt.com:443" }),
    signal: new AbortController().signal,
  } as unknown as Request;
  const res = await s.handler(req, INFO);
  assert.equal(res.status, 405);
  assert.equal(res.headers.get("content-type"), "application/json");
  assert.match(res.headers.get("x-request-id")!, UUID);
  assert.ok(res.headers.get("allow"));
  const body = await res.json();
  assert.equal(body.error.type, "method_not_allowed");
  assert.match(body.error.message, /CONNECT is not supported/);
  assert.equal(s.calls.length, 0);
});

Deno.test("createHandler serves /healthz from the health callback", async (t) => {
  await t.step("200 when healthy", async () => {
    using s = setup({ healthy: true });
    const res = await s.handler(get("/healthz"), INFO);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: "ok" });
    assert.equal(res.headers.get("cache-control"), "no-store");
    assert.match(res.headers.get("x-request-id")!, UUID);
    assert.equal(s.calls.length, 0);
  });
  await t.step("503 when not", async () => {
    using s = setup({ healthy: false });
    const res = await s.handler(get("/healthz"), INFO);
    assert.equal(res.status, 503);
    assert.deepEqual(await res.json(), { status: "unavailable" });
    assert.equal(s.calls.length, 0);
  });
  await t.step("HEAD too, and under the base path", async () => {
    using s = setup();
    const head = await s.handler(
      new Request(PROXY + "/healthz", { method: "HEAD" }),
      INFO,
    );
    assert.equal(head.status, 200);
    await head.body?.cancel();
    const based = await s.handler(get("/flow-llm-proxy/healthz"), INFO);
    assert.equal(based.status, 200);
    await based.body?.cancel();
    assert.equal(s.calls.length, 0);
  });
  await t.step("POST /healthz is proxied", async () => {
    using s = setup();
    const res = await s.handler(post("/healthz", {}), INFO);
    await res.body?.cancel();
    assert.equal(s.calls.length, 1);
  });
});

Deno.test("createHandler reserves paths only in reverse mode", async (t) => {
  await t.step("forward-mode /healthz goes to the upstream", async () => {
    using s = setup();
    const res = await s.handler(
      get("http://127.0.0.1:9/flow-llm-proxy/healthz"),
      INFO,
    );
    assert.equal(res.status, 200);
    await res.body?.cancel();
    assert.equal(s.calls.length, 1);
    assert.equal(s.calls[0].url, `${UPSTREAM}/healthz`);
  });
  await t.step("/metrics is served when metrics are on", async () => {
    using s = setup({ options: { metrics: () => "flow_proxy_up 1\n" } });
    const res = await s.handler(get("/metrics"), INFO);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type")!, /^text\/plain/);
    assert.equal(await res.text(), "flow_proxy_up 1\n");
    assert.match(res.headers.get("x-request-id")!, UUID);
    assert.equal(s.calls.length, 0);
    const fwd = await s.handler(get("http://127.0.0.1:9/metrics"), INFO);
    await fwd.body?.cancel();
    assert.equal(s.calls.length, 1, "forward-mode /metrics is proxied");
  });
  await t.step("/metrics is proxied when metrics are off", async () => {
    using s = setup();
    const res = await s.handler(get("/metrics"), INFO);
    await res.body?.cancel();
    assert.equal(s.calls.length, 1);
  });
  await t.step("the admin prefix without an admin API is 404", async () => {
    using s = setup();
    const res = await s.handler(get("/_flow-proxy/keys"), INFO);
    assert.equal(res.status, 404);
    assert.equal((await res.json()).error.type, "not_found");
    assert.match(res.headers.get("x-request-id")!, UUID);
    assert.equal(s.calls.length, 0);
  });
  await t.step("the admin prefix goes to the admin API", async () => {
    using s = setup({
      options: { admin: () => Response.json({ admin: true }) },
    });
    const res = await s.handler(
      get("/_flow-proxy/keys", { "x-request-id": "adm-1" }),
      INFO,
    );
    assert.deepEqual(await res.json(), { admin: true });
    assert.equal(res.headers.get("x-request-id"), "adm-1");
    assert.equal(s.calls.length, 0);
  });
});

Deno.test("createHandler answers 502 upstream_unreachable when the upstream cannot be reached", async (t) => {
  const refuse = () => Promise.reject(new TypeError("Connection refused"));

  await t.step(
    "OpenAI shape, every attempt on another credential",
    async () => {
      using s = setup({ respond: refuse });
      const res = await s.handler(
        post("/v1/chat/completions", { model: "gpt-4o" }),
        INFO,
      );
      assert.equal(res.status, 502);
      assert.match(res.headers.get("x-request-id")!, UUID);
      const body = await res.json();
      assert.equal(body.error.type, "upstream_unreachable");
      assert.equal(body.error.code, "upstream_unreachable");
      assert.match(body.error.message, /Connection refused/);
      assert.equal(s.calls.length, 3, "maxAttempts");
      assert.equal(
        new Set(s.calls.map((c) => c.headers.get("authorization"))).size,
        3,
      );
      assert.equal(s.balancer.usableCount(), 3, "no credential marked failed");
      assert.equal(s.records.length, 1);
      assert.equal(s.records[0].status, 502);
      assert.equal(s.records[0].error, "upstream_unreachable");
      assert.equal(s.records[0].attempts, 3);
    },
  );

  await t.step("Anthropic shape for /v1/messages", async () => {
    using s = setup({ respond: refuse });
    const res = await s.handler(
      post("/v1/messages", { model: "claude" }),
      INFO,
    );
    assert.equal(res.status, 502);
    const body = await res.json();
    assert.equal(body.type, "error");
    assert.equal(body.error.type, "upstream_unreachable");
    assert.equal(typeof body.error.message, "string");
  });

  await t.step("Anthropic shape under the base path too", async () => {
    using s = setup({ respond: refuse });
    const res = await s.handler(
      post("/flow-llm-proxy/v1/messages", { model: "claude" }),
      INFO,
    );
    assert.equal((await res.json()).type, "error");
  });

  await t.step("failover to a reachable attempt", async () => {
    using s = setup({
      respond: (_c, n) =>
        n === 0 ? refuse() : Response.json({ served: "second" }),
    });
    const res = await s.handler(post("/v1/chat/completions", {}), INFO);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { served: "second" });
    assert.equal(s.calls.length, 2);
  });
});

Deno.test("createHandler passes upstream errors through unchanged", async (t) => {
  for (const status of [400, 404, 422, 500]) {
    await t.step(`status ${status}`, async () => {
      const upstreamBody = `{"error":{"message":"upstream says ${status}"}}`;
      using s = setup({
        respond: () =>
          new Response(upstreamBody, {
            status,
            headers: { "content-type": "application/json", "x-upstream": "1" },
          }),
      });
      const res = await s.handler(post("/v1/chat/completions", {}), INFO);
      assert.equal(res.status, status);
      assert.equal(await res.text(), upstreamBody);
      assert.equal(res.headers.get("x-upstream"), "1");
      assert.match(res.headers.get("x-request-id")!, UUID);
      assert.equal(s.calls.length, 1, "no failover");
      assert.equal(s.balancer.usableCount(), 3);
    });
  }

  await t.step("the last 502 is passed through after failover", async () => {
    using s = setup({
      respond: (_c, n) =>
        new Response(`bad gateway ${n}`, {
          status: 502,
          headers: { "content-type": "text/plain" },
        }),
    });
    const res = await s.handler(post("/v1/chat/completions", {}), INFO);
    assert.equal(res.status, 502);
    assert.equal(await res.text(), "bad gateway 2");
    assert.equal(s.calls.length, 3);
  });
});

Deno.test("createHandler answers 413 for a body over maxBodySize", async (t) => {
  await t.step("declared content-length", async () => {
    using s = setup();
    const req = new Request(PROXY + "/v1/chat/completions", {
      method: "POST",
      headers: { "content-length": "5000", "content-type": "application/json" },
      body: "x".repeat(5000),
    });
    const res = await s.handler(req, INFO);
    assert.equal(res.status, 413);
    assert.equal((await res.json()).error.type, "payload_too_large");
    assert.match(res.headers.get("x-request-id")!, UUID);
    assert.equal(s.calls.length, 0);
    assert.equal(s.records[0].status, 413);
  });

  await t.step("chunked body found too large while kept", async () => {
    using s = setup({ options: { retryBodyLimit: 8192 } });
    const req = new Request(PROXY + "/upload", {
      method: "POST",
      body: ReadableStream.from([new Uint8Array(3000), new Uint8Array(3000)]),
    });
    const res = await s.handler(req, INFO);
    assert.equal(res.status, 413);
    await res.body?.cancel();
    assert.equal(s.calls.length, 0);
  });

  await t.step("chunked body found too large while streamed", async () => {
    using s = setup({ options: { retryBodyLimit: 100 } });
    const req = new Request(PROXY + "/upload", {
      method: "POST",
      body: ReadableStream.from(
        Array.from({ length: 5 }, () => new Uint8Array(1000)),
      ),
    });
    const res = await s.handler(req, INFO);
    assert.equal(res.status, 413);
    assert.equal((await res.json()).error.type, "payload_too_large");
    assert.equal(s.calls.length, 0, "the upstream never got a whole body");
  });

  await t.step("a body at the limit is accepted", async () => {
    using s = setup();
    const res = await s.handler(post("/upload", "y".repeat(4096)), INFO);
    assert.equal(res.status, 200);
    await res.body?.cancel();
    assert.equal(s.calls[0].body!.byteLength, 4096);
  });
});

Deno.test("createHandler tells a client that left mid-upload from a broken upload", async (t) => {
  const failing = () =>
    new ReadableStream<Uint8Array>({
      pull(ctrl) {
        ctrl.error(new Error("connection reset"));
      },
    });

  await t.step("the client is still there: 400 bad_request", async () => {
    using s = setup();
    const req = new Request(PROXY + "/v1/chat/completions", {
      method: "POST",
      body: failing(),
    });
    const res = await s.handler(req, INFO);
    assert.equal(res.status, 400);
    const body = await res.json();
    assert.equal(body.error.type, "bad_request");
    assert.match(body.error.message, /Cannot read the request body/);
    assert.equal(s.calls.length, 0);
    assert.equal(s.records[0].error, "bad_request");
  });

  await t.step("the client left: 499, recorded as client_cancel", async () => {
    using s = setup();
    const client = new AbortController();
    const req = new Request(PROXY + "/v1/chat/completions", {
      method: "POST",
      body: failing(),
      signal: client.signal,
    });
    client.abort();
    const res = await s.handler(req, INFO);
    assert.equal(res.status, 499);
    assert.equal(s.calls.length, 0);
    assert.equal(s.records[0].error, "client_cancel");
    assert.equal(s.records[0].status, 0);
  });
});

Deno.test("createHandler reads a body of declared length without req.body", async () => {
  // Reading req.body would wrap the bytes Deno already holds in a stream.
  using s = setup();
  const text = JSON.stringify({ model: "m", n: 1 });
  const req = post("/v1/chat/completions", text, {
    "content-length": String(text.length),
  });
  let touched = 0;
  const original = req.body;
  Object.defineProperty(req, "body", {
    get() {
      touched++;
      return original;
    },
  });
  const res = await s.handler(req, INFO);
  assert.equal(res.status, 200);
  await res.body?.cancel();
  assert.equal(touched, 0);
  assert.equal(new TextDecoder().decode(s.calls[0].body!), text);
  assert.equal(s.records[0].model, "m");
});

Deno.test("createHandler replays a 401 on the next credential with the same body", async (t) => {
  for (const status of [401, 403]) {
    await t.step(`upstream ${status}`, async () => {
      using s = setup({
        respond: (_c, n) =>
          n === 0
            ? Response.json({ error: "nope" }, { status })
            : Response.json({ ok: "second" }),
      });
      const sent = JSON.stringify({
        model: "gpt-4o",
        messages: [{ role: "user", content: "héllo ✓" }],
      });
      const res = await s.handler(post("/v1/chat/completions", sent), INFO);
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { ok: "second" });
      assert.equal(s.calls.length, 2);
      assert.deepEqual(s.calls[0].body, encoder.encode(sent));
      assert.deepEqual(s.calls[1].body, encoder.encode(sent));
      assert.equal(s.calls[0].headers.get("authorization"), "Bearer token-a");
      assert.equal(s.calls[1].headers.get("authorization"), "Bearer token-b");
      assert.equal(
        s.calls[0].headers.get("x-request-id"),
        s.calls[1].headers.get("x-request-id"),
      );
      const h = s.balancer.health();
      assert.equal(h[0].state, "failed");
      assert.equal(h[1].state, "ok");
      const messages = s.logs.map((l) => l.message);
      assert.ok(
        messages.some((m) =>
          m.startsWith("Configuration 'a' marked as failed") &&
          m.endsWith("Remaining: 2/3")
        ),
        messages.join("\n"),
      );
      assert.ok(
        messages.some((m) =>
          m.startsWith("Failover successful - using config 'b'")
        ),
      );
      assert.equal(s.records[0].credential, "b");
      assert.equal(s.records[0].attempts, 2);
      assert.equal(s.records[0].status, 200);
      // Each attempt, for the dashboard's request detail.
      assert.deepEqual(
        s.records[0].attemptLog?.map((a) => [a.credential, a.status, a.error]),
        [["a", status, "auth_refused"], ["b", 200, null]],
      );
      assert.ok(s.records[0].attemptLog!.every((a) => a.durationMs >= 0));
    });
  }
  await t.step("one attempt: no attempt log", async () => {
    using s = setup({ respond: () => Response.json({ ok: true }) });
    const res = await s.handler(
      post("/v1/chat/completions", JSON.stringify({ model: "gpt-4o" })),
      INFO,
    );
    await res.body?.cancel();
    assert.equal(s.records[0].attempts, 1);
    assert.equal(s.records[0].attemptLog, undefined);
  });

  await t.step("a body too large to keep is not replayed", async () => {
    using s = setup({
      options: { retryBodyLimit: 10 },
      respond: () => Response.json({ error: "nope" }, { status: 401 }),
    });
    const res = await s.handler(
      new Request(PROXY + "/upload", {
        method: "POST",
        body: ReadableStream.from([encoder.encode("x".repeat(50))]),
      }),
      INFO,
    );
    assert.equal(res.status, 401, "the upstream's 401 is passed through");
    await res.body?.cancel();
    assert.equal(s.calls.length, 1);
    assert.equal(s.calls[0].body!.byteLength, 50);
  });

  await t.step(
    "every credential refused: the last 401 is passed through",
    async () => {
      using s = setup({
        names: ["a", "b"],
        respond: (_c, n) => Response.json({ n }, { status: 401 }),
      });
      const res = await s.handler(post("/v1/chat/completions", {}), INFO);
      assert.equal(res.status, 401);
      assert.deepEqual(await res.json(), { n: 1 });
      assert.equal(s.balancer.usableCount(), 0);
    },
  );
});

Deno.test("createHandler cools a credential on 429 and fails over", async (t) => {
  await t.step("Retry-After seconds", async () => {
    using s = setup({
      respond: (_c, n) =>
        n === 0
          ? new Response("slow down", {
            status: 429,
            headers: { "retry-after": "7" },
          })
          : Response.json({ ok: true }),
    });
    const res = await s.handler(post("/v1/chat/completions", {}), INFO);
    assert.equal(res.status, 200);
    await res.body?.cancel();
    const h = s.balancer.health()[0];
    assert.equal(h.state, "cooling");
    assert.equal(h.retryInSeconds, 7);
    assert.equal(s.calls.length, 2);
  });

  await t.step("no Retry-After: the default cool-down", async () => {
    using s = setup({
      respond: (_c, n) =>
        n === 0 ? new Response("", { status: 429 }) : Response.json({}),
    });
    const res = await s.handler(post("/v1/chat/completions", {}), INFO);
    await res.body?.cancel();
    assert.equal(s.balancer.health()[0].retryInSeconds, 30);
  });

  await t.step(
    "one credential: the 429 reaches the client as it was",
    async () => {
      using s = setup({
        names: ["only"],
        respond: () =>
          new Response('{"error":"rate"}', {
            status: 429,
            headers: { "retry-after": "3", "content-type": "application/json" },
          }),
      });
      const res = await s.handler(post("/v1/chat/completions", {}), INFO);
      assert.equal(res.status, 429);
      assert.equal(res.headers.get("retry-after"), "3");
      assert.equal(await res.text(), '{"error":"rate"}');
      assert.equal(s.balancer.health()[0].state, "cooling");
    },
  );
});

Deno.test("createHandler fails over on 502/503/504 without marking the credential failed", async (t) => {
  for (const status of [502, 503, 504]) {
    await t.step(`upstream ${status}`, async () => {
      using s = setup({
        respond: (_c, n) =>
          n === 0
            ? new Response("gateway", { status })
            : Response.json({ ok: true }),
      });
      const res = await s.handler(post("/v1/chat/completions", {}), INFO);
      assert.equal(res.status, 200);
      await res.body?.cancel();
      assert.equal(s.calls.length, 2);
      assert.deepEqual(
        s.balancer.health().map((h) => h.state),
        ["ok", "ok", "ok"],
      );
      assert.ok(
        s.logs.some((l) => l.message.includes(`upstream answered ${status}`)),
      );
    });
  }
});

Deno.test("createHandler answers 503 with Retry-After when no credential is usable", async (t) => {
  for (
    const [path, anthropic] of [["/v1/chat/completions", false], [
      "/v1/messages",
      true,
    ]] as const
  ) {
    await t.step(path, async () => {
      using s = setup();
      for (let i = 0; i < 3; i++) {
        s.balancer.failed(
          { index: i, name: s.balancer.name(i), probe: false, generation: 1 },
          "test",
        );
      }
      const res = await s.handler(post(path, {}), INFO);
      assert.equal(res.status, 503);
      assert.equal(res.headers.get("retry-after"), "10");
      assert.match(res.headers.get("x-request-id")!, UUID);
      const body = await res.json();
      assert.equal(body.error.type, "no_credentials_available");
      if (anthropic) assert.equal(body.type, "error");
      else assert.equal(body.error.code, "no_credentials_available");
      assert.equal(s.calls.length, 0);
      assert.equal(s.records[0].credential, null);
    });
  }
});

Deno.test("createHandler marks a credential without a token failed and uses the next", async () => {
  using s = setup({ tokens: [null, "token-b", "token-c"] });
  const res = await s.handler(post("/v1/chat/completions", {}), INFO);
  assert.equal(res.status, 200);
  await res.body?.cancel();
  assert.equal(s.calls.length, 1);
  assert.equal(s.calls[0].headers.get("authorization"), "Bearer token-b");
  assert.equal(s.balancer.health()[0].state, "failed");
});

Deno.test("createHandler sets x-request-id on every response", async (t) => {
  await t.step("a sane client id is kept and sent upstream", async () => {
    using s = setup();
    const res = await s.handler(
      post("/v1/chat/completions", {}, { "x-request-id": "client-id-42" }),
      INFO,
    );
    await res.body?.cancel();
    assert.equal(res.headers.get("x-request-id"), "client-id-42");
    assert.equal(s.calls[0].headers.get("x-request-id"), "client-id-42");
    assert.equal(s.records[0].id, "client-id-42");
  });
  await t.step(
    "an insane one is replaced by a UUID, the same both ways",
    async () => {
      using s = setup({
        respond: () =>
          Response.json({}, { headers: { "x-request-id": "upstream-own" } }),
      });
      const res = await s.handler(
        post("/v1/chat/completions", {}, {
          "x-request-id": "bad id\twith space",
        }),
        INFO,
      );
      await res.body?.cancel();
      const id = res.headers.get("x-request-id")!;
      assert.match(id, UUID);
      assert.equal(s.calls[0].headers.get("x-request-id"), id);
    },
  );
  await t.step("on proxy errors too", async () => {
    using s = setup({ respond: () => Promise.reject(new Error("down")) });
    const res = await s.handler(
      post("/v1/chat/completions", {}, { "x-request-id": "err-1" }),
      INFO,
    );
    await res.body?.cancel();
    assert.equal(res.headers.get("x-request-id"), "err-1");
  });
});

Deno.test("createHandler sends the upstream no client credential", async () => {
  using s = setup();
  const res = await s.handler(
    new Request(PROXY + "/v1/models?limit=5&after=x%20y", {
      headers: {
        "authorization": "Bearer sk-client-own",
        "x-api-key": "sk-ant-client",
        "proxy-authorization": "Basic Zm9vOmJhcg==",
        "connection": "keep-alive, x-hop",
        "x-hop": "1",
        "accept-encoding": "gzip",
        "x-keep": "yes",
      },
    }),
    INFO,
  );
  assert.equal(res.status, 200);
  await res.body?.cancel();
  const call = s.calls[0];
  assert.equal(call.url, `${UPSTREAM}/v1/models?limit=5&after=x%20y`);
  assert.equal(call.method, "GET");
  assert.equal(call.headers.get("authorization"), "Bearer token-a");
  assert.equal(call.headers.get("x-api-key"), null);
  assert.equal(call.headers.get("proxy-authorization"), null);
  assert.equal(call.headers.get("x-hop"), null);
  assert.equal(call.headers.get("accept-encoding"), "identity");
  assert.equal(call.headers.get("x-keep"), "yes");
  assert.equal(call.body, null);
  const all = [...call.headers.values()].join(" ");
  assert.ok(!all.includes("sk-client-own") && !all.includes("sk-ant-client"));
});

Deno.test("createHandler hands a full record to onRecord", async () => {
  const answer = JSON.stringify({ id: "chatcmpl-1", choices: [] });
  using s = setup({
    respond: () =>
      new Response(answer, { headers: { "content-type": "application/json" } }),
  });
  const sent = JSON.stringify({ model: "anthropic.claude-4-5-sonnet", n: 1 });
  const res = await s.handler(
    post("/flow-llm-proxy/v1/chat/completions?x=1", sent),
    INFO,
  );
  assert.equal(s.records.length, 0, "not before the body is sent");
  assert.equal(await res.text(), answer);
  assert.equal(s.records.length, 1);
  const r = s.records[0];
  assert.equal(r.id, res.headers.get("x-request-id"));
  assert.equal(r.credential, "a");
  assert.equal(r.method, "POST");
  assert.equal(r.path, "/v1/chat/completions");
  assert.equal(r.model, "anthropic.claude-4-5-sonnet");
  assert.equal(r.status, 200);
  assert.equal(r.bytesIn, encoder.encode(sent).byteLength);
  assert.equal(r.bytesOut, encoder.encode(answer).byteLength);
  assert.equal(r.attempts, 1);
  assert.equal(r.stream, false);
  assert.equal(r.error, null);
  assert.ok(r.durationMs > 0, `durationMs ${r.durationMs}`);
  assert.equal(s.calls[0].url, `${UPSTREAM}/v1/chat/completions?x=1`);
  const line = s.logs.find((l) => l.message.startsWith("Using configuration"));
  assert.ok(line);
  assert.equal(line.level, "info");
  assert.match(
    line.message,
    /^Using configuration 'a' for POST \/v1\/chat\/completions: 200 in [\d.]+ ms \[/,
  );
});

Deno.test("createHandler streams SSE chunk by chunk", async () => {
  const upstream = controlledStream();
  using s = setup({ respond: () => sse(upstream.stream) });
  const res = await s.handler(
    post("/v1/chat/completions", { model: "gpt-4o", stream: true }),
    INFO,
  );
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/event-stream");
  const reader = res.body!.getReader();
  const events = ['data: {"n":1}\n\n', 'data: {"n":2}\n\n', "data: [DONE]\n\n"];
  for (const event of events) {
    // The next event is written only after the previous one was read: the
    // proxy cannot be holding events back.
    const pending = read(reader);
    upstream.send(event);
    assert.equal(await pending, event);
  }
  upstream.close();
  assert.equal(await read(reader), null);
  assert.equal(s.records.length, 1);
  assert.equal(s.records[0].stream, true);
  assert.equal(s.records[0].error, null);
  assert.equal(
    s.records[0].bytesOut,
    encoder.encode(events.join("")).byteLength,
  );
});

Deno.test("createHandler ends an SSE stream with event: error when the upstream fails mid-stream", async (t) => {
  for (
    const [path, anthropic] of [["/v1/chat/completions", false], [
      "/v1/messages",
      true,
    ]] as const
  ) {
    await t.step(path, async () => {
      const upstream = controlledStream();
      using s = setup({ respond: () => sse(upstream.stream) });
      const res = await s.handler(post(path, { stream: true }), INFO);
      const reader = res.body!.getReader();
      const first = read(reader);
      upstream.send('data: {"n":1}\n\n');
      assert.equal(await first, 'data: {"n":1}\n\n');
      const last = read(reader);
      upstream.error(new Error("connection reset"));
      const text = await last;
      assert.ok(text !== null);
      const match = text.match(/^event: error\ndata: (.*)\n\n$/);
      assert.ok(match, JSON.stringify(text));
      const data = JSON.parse(match[1]);
      assert.equal(data.error.type, "upstream_unreachable");
      assert.match(data.error.message, /connection reset/);
      if (anthropic) assert.equal(data.type, "error");
      assert.equal(await read(reader), null, "the stream then ends");
      assert.equal(s.records[0].error, "stream_error");
      assert.equal(s.records[0].status, 200);
    });
  }

  await t.step("a non-SSE body errors the client stream instead", async () => {
    const upstream = controlledStream();
    using s = setup({ respond: () => new Response(upstream.stream) });
    const res = await s.handler(post("/v1/files", {}), INFO);
    const reader = res.body!.getReader();
    const first = read(reader);
    upstream.send("part");
    assert.equal(await first, "part");
    const next = reader.read();
    upstream.error(new Error("reset"));
    await assert.rejects(next, /failed mid-response/);
  });
});

Deno.test("createHandler ends a stalled SSE stream at the idle timeout", async () => {
  const upstream = controlledStream();
  using s = setup({
    options: { idleTimeout: 60 },
    respond: (call) => {
      // A stalled upstream stops when its request is aborted.
      call.signal.addEventListener(
        "abort",
        () => upstream.error(call.signal.reason),
        { once: true },
      );
      return sse(upstream.stream);
    },
  });
  const res = await s.handler(post("/v1/chat/completions", {}), INFO);
  const reader = res.body!.getReader();
  const first = read(reader);
  upstream.send("data: 1\n\n");
  assert.equal(await first, "data: 1\n\n");
  const text = await keepingAlive(read(reader));
  const match = text?.match(/^event: error\ndata: (.*)\n\n$/);
  assert.ok(match, JSON.stringify(text));
  assert.equal(JSON.parse(match[1]).error.type, "upstream_timeout");
  assert.equal(await read(reader), null);
  assert.equal(s.records[0].error, "upstream_timeout");
  assert.equal(s.handler.watching, 0);
});

Deno.test("createHandler cancels the upstream when the client leaves", async () => {
  const upstream = controlledStream();
  using s = setup({ respond: () => sse(upstream.stream) });
  const res = await s.handler(post("/v1/chat/completions", {}), INFO);
  const reader = res.body!.getReader();
  const first = read(reader);
  upstream.send("data: 1\n\n");
  await first;
  assert.equal(s.calls[0].signal.aborted, false);
  await reader.cancel();
  assert.equal(s.calls[0].signal.aborted, true);
  assert.equal(s.records[0].error, "client_cancel");
  assert.equal(s.handler.watching, 0);
});

Deno.test("createHandler answers 504 when the upstream sends no headers in time", async () => {
  using s = setup({
    options: { headersTimeout: 60 },
    respond: (call) =>
      new Promise<Response>((_resolve, reject) => {
        call.signal.addEventListener(
          "abort",
          () => reject(call.signal.reason),
          {
            once: true,
          },
        );
      }),
  });
  const res = await keepingAlive(s.handler(post("/v1/messages", {}), INFO));
  assert.equal(res.status, 504);
  const body = await res.json();
  assert.equal(body.type, "error");
  assert.equal(body.error.type, "upstream_timeout");
  assert.equal(s.calls.length, 1, "a timeout is not failed over");
  assert.equal(s.handler.watching, 0);
});

Deno.test("createHandler gives up on an upstream whose port is dead after the connect timeout", async () => {
  let checks = 0;
  using s = setup({
    names: ["only"],
    options: {
      connectTimeout: 40,
      connectCheck: () => {
        checks++;
        return Promise.resolve(false);
      },
    },
    respond: (call) =>
      new Promise<Response>((_resolve, reject) => {
        call.signal.addEventListener(
          "abort",
          () => reject(call.signal.reason),
          {
            once: true,
          },
        );
      }),
  });
  const res = await keepingAlive(
    s.handler(post("/v1/chat/completions", {}), INFO),
  );
  assert.equal(res.status, 502);
  const body = await res.json();
  assert.equal(body.error.type, "upstream_unreachable");
  assert.match(
    body.error.message,
    /Cannot connect to the upstream within 40 ms/,
  );
  assert.equal(checks, 1);
});

Deno.test("createHandler forwards HEAD outside the API paths and answers it without a body", async () => {
  using s = setup({ respond: () => new Response("body", { status: 200 }) });
  const res = await s.handler(
    new Request(PROXY + "/files/report", { method: "HEAD" }),
    INFO,
  );
  assert.equal(res.status, 200);
  assert.equal(res.body, null);
  assert.equal(s.calls[0].method, "HEAD");
  assert.equal(s.records[0].status, 200);
});

Deno.test("createHandler validates its options", () => {
  const base = {
    upstream: new URL(UPSTREAM),
    balancer: () => {
      throw new Error("unused");
    },
    retryBodyLimit: 1,
    maxBodySize: 1,
    maxAttempts: 1,
    connectTimeout: 1,
    headersTimeout: 1,
    idleTimeout: 1,
    cooldownDefault: 1,
    logger: collectLogs().logger,
    health: () => ({ healthy: true, body: {} }),
    connectCheck: null,
  };
  assert.throws(() => createHandler({ ...base, maxAttempts: 0 }), RangeError);
  assert.throws(() => createHandler({ ...base, maxBodySize: 0 }), RangeError);
  assert.throws(
    () => createHandler({ ...base, upstream: new URL("ftp://x/") }),
    TypeError,
  );
});

Deno.test("createHandler against the mock upstream signs a JWT Flow accepts", async () => {
  const creds = [
    { clientId: "id-a", clientSecret: "secret-a-0123456789", tenant: "t" },
    { clientId: "id-b", clientSecret: "secret-b-0123456789", tenant: "t" },
  ];
  await using mock = MockUpstream.start({ credentials: creds });
  const tokens = await Promise.all(
    creds.map((c, index) => signFlowToken({ ...c, index, name: `n${index}` })),
  );
  const state = createSharedState();
  const { logger } = collectLogs();
  const balancer = new Balancer(state, {
    names: ["n0", "n1"],
    tokens,
    generation: 1,
  }, { backoffBase: 1000, backoffMax: 1000 });
  const handler = createHandler({
    upstream: new URL(mock.url),
    balancer: () => balancer,
    retryBodyLimit: 1024,
    maxBodySize: 4096,
    maxAttempts: 2,
    connectTimeout: 5000,
    headersTimeout: 10_000,
    idleTimeout: 10_000,
    cooldownDefault: 1000,
    logger,
    health: () => ({ healthy: true, body: {} }),
    connectCheck: null,
  });
  try {
    for (let i = 0; i < 2; i++) {
      const res = await handler(
        post("/v1/chat/completions", { model: "gpt-4o" }, {
          authorization: "Bearer client-key",
        }),
        INFO,
      );
      assert.equal(res.status, 200);
      assert.equal((await res.json()).model, "gpt-4o");
    }
    assert.deepEqual(mock.requests.map((r) => r.clientId), ["id-a", "id-b"]);
    assert.deepEqual(mock.requests.map((r) => r.jwtError), [null, null]);
    assert.equal(mock.requests[0].path, "/flow-llm-proxy/v1/chat/completions");

    const fwd = await handler(
      new Request(`${mock.url}/v1/models`),
      INFO,
    );
    assert.equal(fwd.status, 200);
    assert.equal((await fwd.json()).object, "list");
    assert.equal(mock.requests[2].path, "/flow-llm-proxy/v1/models");
  } finally {
    handler.close();
  }
});

Deno.test("refuseMethod() refuses CONNECT, what fetch cannot send and miscased methods", () => {
  assert.equal(refuseMethod("CONNECT")?.type, "method_not_allowed");
  assert.equal(refuseMethod("connect")?.type, "method_not_allowed");
  assert.deepEqual(refuseMethod("TRACK"), {
    type: "method_not_allowed",
    message: "Method TRACK is not supported",
  });
  assert.deepEqual(refuseMethod("post"), {
    type: "bad_request",
    message: "Method names are case-sensitive: send POST, not post",
  });
  assert.equal(refuseMethod("PROPFIND"), null, "extension methods pass");
});
