import assert from "node:assert/strict";
import {
  copyResponseHeaders,
  requestId,
  timeOrderedId,
  upstreamRequestHeaders,
} from "../../src/proxy/headers.ts";

const BEARER = "Bearer header.payload.signature";
const UUID =
  /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

Deno.test("upstreamRequestHeaders drops hop-by-hop headers, host and client credentials", async (t) => {
  const client = new Headers({
    "host": "127.0.0.1:8899",
    "connection": "keep-alive, X-Private-Hop",
    "keep-alive": "timeout=5",
    "proxy-connection": "keep-alive",
    "transfer-encoding": "chunked",
    "te": "trailers",
    "trailer": "x-checksum",
    "upgrade": "h2c",
    "proxy-authenticate": "Basic",
    "proxy-authorization": "Basic dXNlcjpwYXNz",
    "authorization": "Bearer sk-client-own-key",
    "x-api-key": "sk-ant-client-key",
    "x-private-hop": "dropped because Connection names it",
    "content-length": "12",
    "accept-encoding": "gzip, br",
    "content-type": "application/json",
    "anthropic-version": "2023-06-01",
    "x-custom": "kept",
    "user-agent": "test/1.0",
  });
  const out = new Headers(upstreamRequestHeaders(client, BEARER, "req-1"));

  const dropped = [
    "host",
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "proxy-authenticate",
    "proxy-authorization",
    "x-api-key",
    "x-private-hop",
    "content-length",
  ];
  for (const name of dropped) {
    await t.step(`${name} is not forwarded`, () => {
      assert.equal(out.get(name), null);
    });
  }

  await t.step(
    "the client's authorization is replaced by the Flow bearer",
    () => {
      assert.equal(out.get("authorization"), BEARER);
      assert.ok(
        ![...out.values()].some((v) => v.includes("sk-client-own-key")),
      );
      assert.ok(
        ![...out.values()].some((v) => v.includes("sk-ant-client-key")),
      );
      assert.ok(![...out.values()].some((v) => v.includes("dXNlcjpwYXNz")));
    },
  );

  await t.step("accept-encoding is identity", () => {
    assert.equal(out.get("accept-encoding"), "identity");
  });

  await t.step("x-request-id is the given id", () => {
    assert.equal(out.get("x-request-id"), "req-1");
  });

  await t.step(
    "end-to-end headers are kept, names and values not swapped",
    () => {
      assert.equal(out.get("content-type"), "application/json");
      assert.equal(out.get("anthropic-version"), "2023-06-01");
      assert.equal(out.get("x-custom"), "kept");
      assert.equal(out.get("user-agent"), "test/1.0");
    },
  );

  await t.step("exactly the expected set of names", () => {
    assert.deepEqual([...out.keys()].sort(), [
      "accept-encoding",
      "anthropic-version",
      "authorization",
      "content-type",
      "user-agent",
      "x-custom",
      "x-request-id",
    ]);
  });
});

Deno.test("upstreamRequestHeaders honours Connection tokens in any case and spacing", () => {
  const client = new Headers({
    "connection": "  Upgrade ,X-A,x-b  ",
    "x-a": "1",
    "x-b": "2",
    "x-c": "3",
  });
  const out = new Headers(upstreamRequestHeaders(client, BEARER, "id"));
  assert.equal(out.get("x-a"), null);
  assert.equal(out.get("x-b"), null);
  assert.equal(out.get("x-c"), "3");
});

Deno.test("upstreamRequestHeaders overrides a client's x-request-id with the chosen id", () => {
  const client = new Headers({ "x-request-id": "client-id" });
  assert.equal(
    new Headers(upstreamRequestHeaders(client, BEARER, "chosen")).get(
      "x-request-id",
    ),
    "chosen",
  );
});

Deno.test("upstreamRequestHeaders keeps repeated headers", () => {
  const client = new Headers();
  client.append("x-multi", "a");
  client.append("x-multi", "b");
  const out = new Headers(upstreamRequestHeaders(client, BEARER, "id"));
  assert.equal(out.get("x-multi"), "a, b");
});

Deno.test("requestId keeps a sane client id and replaces anything else with a UUID", async (t) => {
  const sane = [
    "abc",
    "0f8e7d6c-1234-4abc-9def-000000000000",
    "req_1.2:3@host/+=-",
    "x".repeat(128),
  ];
  for (const id of sane) {
    await t.step(`kept: ${id.slice(0, 40)}`, () => {
      assert.equal(requestId(new Headers({ "x-request-id": id })), id);
    });
  }
  const insane = [
    "x".repeat(129),
    "has space",
    "tab\tinside",
    "semi;colon",
    'quote"d',
    "<script>",
    "caf\u00e9",
    "",
  ];
  for (const id of insane) {
    await t.step(`replaced: ${JSON.stringify(id.slice(0, 40))}`, () => {
      const got = requestId(new Headers({ "x-request-id": id }));
      assert.match(got, UUID);
    });
  }
  await t.step("control characters", () => {
    // Headers refuses NUL/CR/LF; other C0 controls can still arrive.
    const h = new Headers();
    h.set("x-request-id", "a\u0001b");
    assert.match(requestId(h), UUID);
  });
  await t.step("missing → a fresh UUID each time", () => {
    const a = requestId(new Headers());
    const b = requestId(new Headers());
    assert.match(a, UUID);
    assert.match(b, UUID);
    assert.notEqual(a, b);
  });
});

Deno.test("copyResponseHeaders drops hop-by-hop headers and sets x-request-id", () => {
  const upstream = new Headers({
    "connection": "close, x-upstream-hop",
    "keep-alive": "timeout=5",
    "transfer-encoding": "chunked",
    "proxy-authenticate": "Basic",
    "upgrade": "websocket",
    "x-upstream-hop": "1",
    "content-type": "text/event-stream",
    "content-encoding": "gzip",
    "x-request-id": "upstream-id",
    "openai-processing-ms": "12",
  });
  const out = new Headers();
  copyResponseHeaders(upstream, out, { id: "ours" });
  for (
    const name of [
      "connection",
      "keep-alive",
      "transfer-encoding",
      "proxy-authenticate",
      "upgrade",
      "x-upstream-hop",
    ]
  ) {
    assert.equal(out.get(name), null, name);
  }
  assert.equal(out.get("content-type"), "text/event-stream");
  assert.equal(out.get("content-encoding"), "gzip");
  assert.equal(out.get("openai-processing-ms"), "12");
  assert.equal(out.get("x-request-id"), "ours");
});

Deno.test("copyResponseHeaders keeps every set-cookie", () => {
  const upstream = new Headers();
  upstream.append("set-cookie", "a=1");
  upstream.append("set-cookie", "b=2");
  const out = new Headers();
  copyResponseHeaders(upstream, out, { id: "id" });
  assert.deepEqual(out.getSetCookie(), ["a=1", "b=2"]);
});

Deno.test("copyResponseHeaders: the proxy's extra headers replace the upstream's", () => {
  const upstream = new Headers({
    "x-ratelimit-remaining": "999",
    "content-type": "application/json",
  });
  const out = new Headers();
  copyResponseHeaders(upstream, out, {
    id: "id",
    extra: [["x-ratelimit-remaining", "4"]],
  });
  assert.equal(out.get("x-ratelimit-remaining"), "4");
  assert.equal(out.get("content-type"), "application/json");
});

Deno.test("timeOrderedId() is a UUID v7 carrying the time, and ids made later sort after", () => {
  const at = Date.UTC(2026, 11, 2, 12, 0, 0, 123);
  const id = timeOrderedId(at);
  assert.match(id, UUID);
  assert.equal(parseInt(id.slice(0, 8) + id.slice(9, 13), 16), at);
  const ids = Array.from({ length: 50 }, (_, i) => timeOrderedId(at + i));
  assert.deepEqual([...ids].sort(), ids);
  assert.equal(
    new Set(Array.from({ length: 1000 }, () => timeOrderedId(at))).size,
    1000,
  );
});
