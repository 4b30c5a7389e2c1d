import assert from "node:assert/strict";
import type { Logger } from "@logtape/logtape";
import { Balancer, resetHealth } from "../../src/upstream/balancer.ts";
import { signFlowToken } from "../../src/upstream/jwt.ts";
import { createHandler } from "../../src/proxy/handler.ts";
import { createSharedState } from "../../src/base/shared_state.ts";
import { TEST_HANDLER_SETTINGS } from "../support/handler_settings.ts";

const INFO = {
  remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 50000 },
  completed: Promise.resolve(),
} as unknown as Deno.ServeHandlerInfo;

interface Call {
  method: string;
  body: BodyInit | null | undefined;
}

function setup(
  respond: (call: Call) => Response | Promise<Response>,
  tokens: string[] = ["token-a", "token-b", "token-c"],
) {
  const state = createSharedState();
  resetHealth(state);
  const warnings: string[] = [];
  const logger = {
    debug() {},
    info() {},
    warn: (m: unknown) => warnings.push(String(m)),
    warning: (m: unknown) => warnings.push(String(m)),
    error() {},
    isEnabledFor: () => true,
  } as unknown as Logger;
  const balancer = new Balancer(state, {
    names: tokens.map((_, i) => `c${i + 1}`),
    tokens,
    generation: 1,
  }, { backoffBase: 10_000, backoffMax: 60_000, logger });
  const calls: Call[] = [];
  const handler = createHandler({
    ...TEST_HANDLER_SETTINGS,
    maxAttempts: 3,
    balancer: () => balancer,
    logger,
    health: () => ({ healthy: true, body: {} }),
    fetch: ((_input: RequestInfo | URL, init?: RequestInit) => {
      const call = { method: init?.method ?? "GET", body: init?.body };
      calls.push(call);
      return Promise.resolve().then(() => respond(call));
    }) as typeof fetch,
    connectCheck: null,
  });
  return {
    handler,
    calls,
    warnings,
    [Symbol.dispose]: () => handler.close(),
  };
}

function post(path: string, body: unknown, method = "POST"): Request {
  return new Request(`http://127.0.0.1:8899${path}`, {
    method,
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

/** Deno 2.9's error for a connection the upstream closed after reading the request. */
function closedAfterBody(): TypeError {
  return new TypeError("fetch failed", {
    cause: new Error(
      "error sending request from 127.0.0.1:55886 for http://127.0.0.1:36833/flow-llm-proxy/v1/chat/completions (127.0.0.1:36833): client error (SendRequest): connection closed before message completed",
    ),
  });
}

Deno.test("createHandler answers 502 once, without failover, when the upstream may have read the request", async () => {
  using s = setup(() => Promise.reject(closedAfterBody()));
  const res = await s.handler(post("/v1/chat/completions", {}), INFO);
  assert.equal(res.status, 502);
  const text = await res.text();
  assert.equal(s.calls.length, 1, "not sent to another credential");
  assert.equal(
    JSON.parse(text).error.message,
    "Cannot reach the upstream: the connection closed before the response was complete",
  );
  assert.doesNotMatch(text, /127\.0\.0\.1|http:|36833|55886/);
  const id = res.headers.get("x-request-id")!;
  assert.ok(
    s.warnings.some((w) =>
      w.includes(id) && w.includes("127.0.0.1:36833") &&
      w.includes("not retried")
    ),
    s.warnings.join("\n"),
  );
});

Deno.test("createHandler hands fetch a stream for a non-idempotent body, bytes for an idempotent one", async () => {
  using s = setup(() => Response.json({ ok: true }));
  await (await s.handler(post("/v1/chat/completions", { a: 1 }), INFO)).text();
  await (await s.handler(post("/v1/files/x", { a: 1 }, "PUT"), INFO)).text();
  const sent = s.calls[0].body;
  assert.ok(sent instanceof ReadableStream, "POST: Deno does not resend it");
  assert.equal(await new Response(sent).text(), '{"a":1}');
  assert.ok(s.calls[1].body instanceof Uint8Array, "PUT: may be resent");
});

Deno.test("createHandler masks the tokens in the headers and body the upstream sends back", async () => {
  const token = await signFlowToken(
    {
      name: "a",
      clientId: "client-a",
      clientSecret: "secret-a-0123456789",
      tenant: "t",
    } as Parameters<typeof signFlowToken>[0],
  );
  using s = setup(
    () =>
      Response.json({ echo: `Bearer ${token}` }, {
        headers: { "x-echo": token },
      }),
    [token],
  );
  const res = await s.handler(post("/v1/chat/completions", {}), INFO);
  const body = await res.text();
  const header = res.headers.get("x-echo")!;
  for (const part of [token, ...token.split(".").slice(1)]) {
    assert.ok(!body.includes(part) && !header.includes(part), part);
  }
  assert.match(JSON.parse(body).echo, /^Bearer \[redacted\]\*+$/);
  assert.equal(header.length, token.length);
});
