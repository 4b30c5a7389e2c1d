/**
 * serveWithLimits(): slow headers, idle keep-alive connections and too many
 * connections are closed; requests and streams in flight are not.
 */
import assert from "node:assert/strict";
import { readToClose } from "../support/raw_http.ts";
import {
  connectionServer,
  type LimitedServer,
  serveWithLimits,
  type ServeWithLimitsOptions,
} from "../../src/server/connection_limits.ts";

const encoder = new TextEncoder();
const CONNECTIONS = 20;

function start(
  limits: Partial<ServeWithLimitsOptions>,
  handler: Deno.ServeHandler<Deno.NetAddr> = () => new Response("ok"),
): LimitedServer {
  const server = serveWithLimits({
    hostname: "127.0.0.1",
    port: 0,
    reusePort: false,
    headerTimeout: 300,
    keepAliveTimeout: 600,
    maxConnections: 1000,
    onError: () => new Response("error", { status: 500 }),
    ...limits,
  }, handler);
  assert.ok(server, "this Deno serves one connection at a time");
  return server;
}

Deno.test("the runtime still has the per-connection server the limits are built on", () => {
  // A Deno upgrade that removes it turns every limit off (with a warning):
  // this test is there to make that a decision, not a surprise.
  assert.equal(typeof connectionServer(), "function");
});

Deno.test("serveWithLimits() closes slowloris connections after the header timeout", async () => {
  const server = start({ headerTimeout: 300 });
  const conns = await Promise.all(
    Array.from(
      { length: CONNECTIONS },
      () => Deno.connect({ hostname: "127.0.0.1", port: server.addr.port }),
    ),
  );
  let dripping = true;
  // One header byte every 50 ms: the headers would take far longer than 300 ms.
  const drip = Promise.all(conns.map(async (conn) => {
    const head = "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + "a".repeat(200);
    for (const ch of head) {
      if (!dripping) return;
      const wrote = await conn.write(encoder.encode(ch)).catch(() => null);
      if (wrote === null) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  }));
  try {
    const ends = await Promise.all(conns.map((c) => readToClose(c, 5000)));
    assert.deepEqual(ends, ends.map(() => ""), "every connection was closed");
    assert.equal(server.connections, 0);
    // The server still answers a normal client.
    const res = await fetch(`http://127.0.0.1:${server.addr.port}/`);
    assert.equal(await res.text(), "ok");
  } finally {
    dripping = false;
    await drip;
    for (const conn of conns) conn.close();
    await server.shutdown();
  }
});

Deno.test("serveWithLimits() closes idle keep-alive connections after the keep-alive timeout", async () => {
  const server = start({ headerTimeout: 5000, keepAliveTimeout: 400 });
  const conns = await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      const conn = await Deno.connect({
        hostname: "127.0.0.1",
        port: server.addr.port,
      });
      await conn.write(encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
      return conn;
    }),
  );
  try {
    const ends = await Promise.all(conns.map((c) => readToClose(c, 5000)));
    for (const end of ends) {
      assert.ok(end !== null, "closed before the test's own timeout");
      assert.match(end, /^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nok$/);
    }
    assert.equal(server.connections, 0);
  } finally {
    for (const conn of conns) conn.close();
    await server.shutdown();
  }
});

Deno.test("serveWithLimits() lets a response that outlasts the keep-alive timeout finish", async () => {
  const chunks = 8;
  const server = start({ keepAliveTimeout: 200 }, () => {
    let sent = 0;
    return new Response(
      new ReadableStream({
        async pull(controller) {
          await new Promise((r) => setTimeout(r, 100));
          controller.enqueue(encoder.encode(`chunk ${sent}\n`));
          if (++sent === chunks) controller.close();
        },
      }),
    );
  });
  try {
    const res = await fetch(`http://127.0.0.1:${server.addr.port}/`);
    const text = await res.text();
    assert.match(text, /chunk 7\n$/);
  } finally {
    await server.shutdown();
  }
});

Deno.test("serveWithLimits() waits for a slow request body instead of cutting it", async () => {
  const server = start(
    { headerTimeout: 200, keepAliveTimeout: 200 },
    async (req) => new Response(`got ${(await req.text()).length}`),
  );
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: server.addr.port,
  });
  try {
    await conn.write(encoder.encode(
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nConnection: close\r\n\r\n",
    ));
    // Body parts well apart: the whole body takes longer than both timeouts.
    for (const part of ["ab", "cd", "ef"]) {
      await new Promise((r) => setTimeout(r, 300));
      await conn.write(encoder.encode(part));
    }
    const answer = await readToClose(conn, 5000);
    assert.match(answer ?? "", /\r\n\r\ngot 6$/);
  } finally {
    conn.close();
    await server.shutdown();
  }
});

Deno.test("serveWithLimits() refuses connections beyond the cap and serves again below it", async () => {
  const cap = 5;
  const refused: number[] = [];
  const server = start({
    headerTimeout: 10_000,
    maxConnections: cap,
    onRefused: (open) => refused.push(open),
  });
  const port = server.addr.port;
  const held = await Promise.all(
    Array.from(
      { length: cap },
      () => Deno.connect({ hostname: "127.0.0.1", port }),
    ),
  );
  try {
    // Accepting is asynchronous: wait until the server holds all of them.
    for (let i = 0; i < 100 && server.connections < cap; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(server.connections, cap);
    const extra = await Deno.connect({ hostname: "127.0.0.1", port });
    await extra.write(encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
      .catch(() => 0);
    assert.equal(await readToClose(extra, 5000), "");
    extra.close();
    assert.deepEqual(refused, [cap]);
    held.pop()!.close();
    for (let i = 0; i < 100 && server.connections >= cap; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const res = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(await res.text(), "ok");
  } finally {
    for (const conn of held) conn.close();
    await server.shutdown();
  }
});

Deno.test("serveWithLimits() still closes an idle connection whose handler threw", async () => {
  const server = start({ headerTimeout: 5000, keepAliveTimeout: 300 }, () => {
    throw new Error("Handler failure (test)");
  });
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: server.addr.port,
  });
  try {
    await conn.write(encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    const end = await readToClose(conn, 5000);
    assert.ok(end !== null, "closed before the test's own timeout");
    assert.match(end, /^HTTP\/1\.1 500 /);
  } finally {
    conn.close();
    await server.shutdown();
  }
});
