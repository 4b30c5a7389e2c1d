/**
 * The TLS front of the HTTPS listener (src/server/tls_front.ts): handlers
 * see the client's own address, the inner loopback port serves nothing to
 * anyone else, a bad pair keeps the one in use, the cap refuses, a client
 * that never shakes hands is closed, and a shutdown lets a response being
 * written finish.
 */
import assert from "node:assert/strict";
import {
  serveTlsWithLimits,
  type TlsFrontOptions,
  type TlsFrontServer,
} from "../../src/server/tls_front.ts";
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

/** A running front with the pair `front` of its own CA. */
interface Front {
  server: TlsFrontServer;
  ca: TestCa;
  pair: TlsCertificate;
}

/** Runs `body` against a front serving `handler`, then stops and cleans up. */
async function withFront(
  handler: Deno.ServeHandler<Deno.NetAddr>,
  body: (front: Front) => Promise<void>,
  overrides: Partial<TlsFrontOptions> = {},
): Promise<void> {
  const ca = makeCa();
  const pair = pairOf(ca, "front");
  const server = await serveTlsWithLimits({
    hostname: "127.0.0.1",
    port: 0,
    reusePort: false,
    tls: pair,
    headerTimeout: 5_000,
    keepAliveTimeout: 5_000,
    maxConnections: 16,
    onError: () => new Response("handler error", { status: 500 }),
    ...overrides,
  }, handler);
  assert.ok(server, "the runtime serves one connection at a time");
  try {
    await body({ server, ca, pair });
  } finally {
    await server.shutdown();
    Deno.removeSync(ca.dir, { recursive: true });
  }
}

function connectTls(front: Front): Promise<Deno.TlsConn> {
  return Deno.connectTls({
    hostname: "127.0.0.1",
    port: front.server.addr.port,
    caCerts: [front.ca.caPem],
  });
}

function connectPlain(port: number): Promise<Deno.TcpConn> {
  return Deno.connect({ hostname: "127.0.0.1", port });
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
    const seen: Deno.NetAddr[] = [];
    await withFront((_req, info) => {
      seen.push(info.remoteAddr);
      return new Response(`${info.remoteAddr.port}`);
    }, async (front) => {
      const conn = await connectTls(front);
      const clientPort = (conn.localAddr as Deno.NetAddr).port;
      const answer = await exchange(conn);
      assert.match(answer, /^HTTP\/1\.1 200/);
      assert.equal(answer.split("\r\n\r\n")[1], String(clientPort));
      assert.equal(seen.length, 1);
      assert.equal(seen[0].hostname, "127.0.0.1");
      assert.equal(seen[0].port, clientPort);
      assert.notEqual(seen[0].port, front.server.innerAddr.port);
    });
  },
});

Deno.test({
  name:
    "a plain connection to the front's inner port is answered 421 and never reaches the handler",
  ignore,
  async fn() {
    let calls = 0;
    await withFront(() => {
      calls++;
      return new Response("secret");
    }, async (front) => {
      assert.equal(front.server.innerAddr.hostname, "127.0.0.1");
      const answer = await exchange(
        await connectPlain(front.server.innerAddr.port),
      );
      assert.match(answer, /^HTTP\/1\.1 421/);
      assert.match(answer, /misdirected_request/);
      assert.doesNotMatch(answer, /secret/);
      assert.equal(calls, 0);
    });
  },
});

Deno.test({
  name:
    "replaceTls() refuses a key that is not the certificate's and keeps serving the pair in use",
  ignore,
  async fn() {
    await withFront(() => new Response("ok"), async (front) => {
      const other = pairOf(front.ca, "other");
      assert.throws(() =>
        front.server.replaceTls({ cert: other.cert, key: front.pair.key })
      );
      assert.match(
        await exchange(await connectTls(front)),
        /^HTTP\/1\.1 200[\s\S]*ok$/,
      );
    });
  },
});

Deno.test({
  name: "the front refuses connections beyond --max-connections and reports it",
  ignore,
  async fn() {
    const refusals: number[] = [];
    await withFront(() => new Response("ok"), async (front) => {
      const first = await connectPlain(front.server.addr.port);
      try {
        // The first holds the only slot (its handshake has not even begun).
        while (front.server.connections < 1) {
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        const second = await connectPlain(front.server.addr.port);
        const read = await second.read(new Uint8Array(16)).catch(() => null);
        second.close();
        assert.equal(read, null, "the second connection is closed unanswered");
        assert.deepEqual(refusals, [1]);
      } finally {
        first.close();
      }
    }, { maxConnections: 1, onRefused: (n) => refusals.push(n) });
  },
});

Deno.test({
  name:
    "a connection that never starts its TLS handshake is closed at the header timeout",
  ignore,
  async fn() {
    await withFront(() => new Response("ok"), async (front) => {
      const conn = await connectPlain(front.server.addr.port);
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
        for (let i = 0; i < 100 && front.server.connections > 0; i++) {
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        assert.equal(front.server.connections, 0, "the front forgot it");
      } finally {
        clearTimeout(timer);
        conn.close();
      }
    }, { headerTimeout: 200 });
  },
});

Deno.test({
  name: "shutdown() lets a response being written through the front finish",
  ignore,
  async fn() {
    const started = Promise.withResolvers<void>();
    const release = Promise.withResolvers<void>();
    const body = "x".repeat(64 * 1024);
    await withFront(() => {
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
    }, async (front) => {
      const answer = exchange(await connectTls(front));
      await started.promise;
      const stopped = front.server.shutdown();
      release.resolve();
      const text = await answer;
      await stopped;
      assert.match(text, /^HTTP\/1\.1 200/);
      assert.ok(text.includes("first,"), "the first chunk arrived");
      assert.ok(text.includes(body), "the rest arrived after shutdown began");
    });
  },
});
