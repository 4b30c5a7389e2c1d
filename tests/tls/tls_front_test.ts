/**
 * The TLS front of the HTTPS listener (src/server/tls_front.ts): handlers
 * see the client's own address, the inner loopback port serves nothing to
 * anyone else, a bad pair keeps the one in use, the cap refuses, and a
 * shutdown lets a response being written finish.
 */
import assert from "node:assert/strict";
import { serveTlsWithLimits } from "../../src/server/tls_front.ts";
import type { TlsCertificate } from "../../src/server/connection_limits.ts";
import { hasOpenssl, makeCa, makeLeaf, type TestCa } from "./test_ca.ts";

const ignore = !hasOpenssl();

function pairOf(ca: TestCa, name: string): TlsCertificate {
  const leaf = makeLeaf(ca, name);
  return {
    cert: Deno.readTextFileSync(leaf.certFile),
    key: Deno.readTextFileSync(leaf.keyFile),
  };
}

function options(tls: TlsCertificate, maxConnections = 16) {
  return {
    hostname: "127.0.0.1",
    port: 0,
    reusePort: false,
    tls,
    headerTimeout: 5_000,
    keepAliveTimeout: 5_000,
    maxConnections,
    onError: () => new Response("handler error", { status: 500 }),
  };
}

/** Sends one HTTP/1.1 request on `conn` and reads the answer to its end. */
async function exchange(conn: Deno.Conn, path = "/"): Promise<string> {
  await conn.write(
    new TextEncoder().encode(
      `GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`,
    ),
  );
  return await new Response(conn.readable).text();
}

Deno.test({
  name: "the TLS front gives the handler the client's own address",
  ignore,
  async fn() {
    const ca = makeCa();
    const seen: Deno.NetAddr[] = [];
    const server = await serveTlsWithLimits(
      options(pairOf(ca, "front")),
      (_req, info) => {
        seen.push(info.remoteAddr);
        return new Response(`${info.remoteAddr.port}`);
      },
    );
    assert.ok(server, "the runtime serves one connection at a time");
    try {
      const conn = await Deno.connectTls({
        hostname: "127.0.0.1",
        port: server.addr.port,
        caCerts: [ca.caPem],
      });
      const clientPort = (conn.localAddr as Deno.NetAddr).port;
      const answer = await exchange(conn);
      assert.match(answer, /^HTTP\/1\.1 200/);
      assert.equal(answer.split("\r\n\r\n")[1], String(clientPort));
      assert.equal(seen.length, 1);
      assert.equal(seen[0].hostname, "127.0.0.1");
      assert.equal(seen[0].port, clientPort);
      assert.notEqual(seen[0].port, server.innerAddr.port);
    } finally {
      await server.shutdown();
      Deno.removeSync(ca.dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "a plain connection to the front's inner port is answered 421 and never reaches the handler",
  ignore,
  async fn() {
    const ca = makeCa();
    let calls = 0;
    const server = await serveTlsWithLimits(
      options(pairOf(ca, "front")),
      () => {
        calls++;
        return new Response("secret");
      },
    );
    assert.ok(server);
    try {
      assert.equal(server.innerAddr.hostname, "127.0.0.1");
      const conn = await Deno.connect({
        hostname: "127.0.0.1",
        port: server.innerAddr.port,
      });
      const answer = await exchange(conn);
      assert.match(answer, /^HTTP\/1\.1 421/);
      assert.match(answer, /misdirected_request/);
      assert.doesNotMatch(answer, /secret/);
      assert.equal(calls, 0);
    } finally {
      await server.shutdown();
      Deno.removeSync(ca.dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "replaceTls() refuses a key that is not the certificate's and keeps serving the pair in use",
  ignore,
  async fn() {
    const ca = makeCa();
    const one = pairOf(ca, "one");
    const two = pairOf(ca, "two");
    const server = await serveTlsWithLimits(
      options(one),
      () => new Response("ok"),
    );
    assert.ok(server);
    try {
      assert.throws(() => server.replaceTls({ cert: two.cert, key: one.key }));
      const conn = await Deno.connectTls({
        hostname: "127.0.0.1",
        port: server.addr.port,
        caCerts: [ca.caPem],
      });
      assert.match(await exchange(conn), /^HTTP\/1\.1 200[\s\S]*ok$/);
    } finally {
      await server.shutdown();
      Deno.removeSync(ca.dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "the front refuses connections beyond --max-connections and reports it",
  ignore,
  async fn() {
    const ca = makeCa();
    const refusals: number[] = [];
    const server = await serveTlsWithLimits(
      {
        ...options(pairOf(ca, "front"), 1),
        onRefused: (n) => refusals.push(n),
      },
      () => new Response("ok"),
    );
    assert.ok(server);
    const first = await Deno.connect({
      hostname: "127.0.0.1",
      port: server.addr.port,
    });
    try {
      // The first holds the only slot (its handshake has not even begun).
      while (server.connections < 1) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const second = await Deno.connect({
        hostname: "127.0.0.1",
        port: server.addr.port,
      });
      const read = await second.read(new Uint8Array(16)).catch(() => null);
      second.close();
      assert.equal(read, null, "the second connection is closed unanswered");
      assert.deepEqual(refusals, [1]);
    } finally {
      first.close();
      await server.shutdown();
      Deno.removeSync(ca.dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "shutdown() lets a response being written through the front finish",
  ignore,
  async fn() {
    const ca = makeCa();
    const started = Promise.withResolvers<void>();
    const release = Promise.withResolvers<void>();
    const body = "x".repeat(64 * 1024);
    const server = await serveTlsWithLimits(
      options(pairOf(ca, "front")),
      () => {
        started.resolve();
        const stream = new ReadableStream<Uint8Array>({
          async start(controller) {
            controller.enqueue(new TextEncoder().encode("first,"));
            await release.promise;
            controller.enqueue(new TextEncoder().encode(body));
            controller.close();
          },
        });
        return new Response(stream);
      },
    );
    assert.ok(server);
    try {
      const conn = await Deno.connectTls({
        hostname: "127.0.0.1",
        port: server.addr.port,
        caCerts: [ca.caPem],
      });
      const answer = exchange(conn);
      await started.promise;
      const stopped = server.shutdown();
      release.resolve();
      const text = await answer;
      await stopped;
      assert.match(text, /^HTTP\/1\.1 200/);
      assert.ok(text.includes(`first,`), "the first chunk arrived");
      assert.ok(
        text.includes(body),
        "the rest arrived after the shutdown began",
      );
    } finally {
      await server.shutdown();
      Deno.removeSync(ca.dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "a connection that never starts its TLS handshake is closed at the header timeout",
  ignore,
  async fn() {
    const ca = makeCa();
    const server = await serveTlsWithLimits(
      { ...options(pairOf(ca, "front")), headerTimeout: 200 },
      () => new Response("ok"),
    );
    assert.ok(server);
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: server.addr.port,
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      // Bounded wait: a server that never closes it fails the test here.
      const outcome = await Promise.race([
        conn.read(new Uint8Array(16)).then(
          (n) => n === null ? "closed" : "data",
          () => "closed",
        ),
        new Promise<string>((resolve) => {
          timer = setTimeout(() => resolve("still open after 10 s"), 10_000);
        }),
      ]);
      assert.equal(outcome, "closed");
      for (let i = 0; i < 100 && server.connections > 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assert.equal(server.connections, 0, "the front forgot the connection");
    } finally {
      clearTimeout(timer);
      conn.close();
      await server.shutdown();
      Deno.removeSync(ca.dir, { recursive: true });
    }
  },
});
