/**
 * HTTPS on the listener: a TLS front (`node:tls`) that terminates TLS on the
 * public port and hands each decrypted connection to the plain per-connection
 * server of `connection_limits.ts`, on a loopback port of this thread.
 *
 * Why not `Deno.listenTls`: Deno 2.9's TLS connections keep Nagle's algorithm
 * on and have no `setNoDelay`, and its HTTP server writes a response's head
 * and body as two TLS records once the body passes a few hundred bytes. The
 * second record then waits for the client's delayed ACK: 40–44 ms on every
 * such response, HTTP/1.1 and HTTP/2 alike (docs/benchmarks.md). The front's
 * sockets set `TCP_NODELAY`.
 *
 * The inner server still parses and answers every request natively, HTTP/2
 * included (it recognises the HTTP/2 preface on a plain connection), with the
 * header, keep-alive and connection limits. Handlers see the client's own
 * address: each inner connection is looked up by its loopback source port,
 * and a connection that did not come from the front (another local process
 * dialling the loopback port) is answered 421 and never reaches the handler.
 *
 * @module
 */
import net from "node:net";
import tls from "node:tls";
import {
  ALPN_PROTOCOLS,
  type LimitedServer,
  refusalReporter,
  serveWithLimits,
  type ServeWithLimitsOptions,
  type TlsCertificate,
} from "./connection_limits.ts";

/** Options of {@linkcode serveTlsWithLimits}. */
export interface TlsFrontOptions extends ServeWithLimitsOptions {
  tls: TlsCertificate;
}

/** The HTTPS server: a {@linkcode LimitedServer} and its inner port. */
export interface TlsFrontServer extends LimitedServer {
  /** The loopback address of the inner plain server. */
  readonly innerAddr: Deno.NetAddr;
}

const LOOPBACK = "127.0.0.1";

/** The body of the 421 a connection gets when it did not come through TLS. */
const NOT_FROM_FRONT = JSON.stringify({
  error: {
    type: "misdirected_request",
    message: "This port serves only connections made through the HTTPS port",
  },
});

/**
 * Throws when the runtime's TLS stack cannot use `pair`: PEM that holds no
 * certificate or key, or a key that is not the certificate's. `node:tls`
 * in Deno 2.9 takes any text and fails at the first handshake instead; a
 * client built with the pair runs rustls' checks without opening a socket.
 */
function assertUsable(pair: TlsCertificate): void {
  Deno.createHttpClient({ cert: pair.cert, key: pair.key }).close();
}

/**
 * Serves `handler` over HTTPS with the limits of `options`; null when the
 * runtime cannot serve one connection at a time (then nothing was opened).
 * Rejects when the public port cannot be opened or the pair is refused.
 */
export async function serveTlsWithLimits(
  options: TlsFrontOptions,
  handler: Deno.ServeHandler<Deno.NetAddr>,
): Promise<TlsFrontServer | null> {
  assertUsable(options.tls);
  /** Client address of each inner connection, by its loopback source port. */
  const peers = new Map<number, Deno.NetAddr>();
  const inner = serveWithLimits({
    ...options,
    hostname: LOOPBACK,
    port: 0,
    reusePort: false,
    // The front counts and refuses; the inner cap is only a backstop.
    onRefused: undefined,
  }, (req, info) => {
    const peer = peers.get(info.remoteAddr.port);
    if (peer === undefined || info.remoteAddr.hostname !== LOOPBACK) {
      return new Response(NOT_FROM_FRONT, {
        status: 421,
        headers: { "content-type": "application/json" },
      });
    }
    return handler(req, {
      remoteAddr: peer,
      get completed() {
        return info.completed;
      },
    });
  });
  if (inner === null) return null;
  const plain: LimitedServer = inner;
  const innerPort = inner.addr.port;
  const open = new Set<net.Socket>();
  const refused = refusalReporter(options.onRefused);
  /** TLS connections piped to an inner connection. */
  const piped = new Set<tls.TLSSocket>();
  let stopping = false;

  const front = tls.createServer({
    cert: options.tls.cert,
    key: options.tls.key,
    ALPNProtocols: ALPN_PROTOCOLS,
    allowHalfOpen: true,
    noDelay: true,
    // A connection that never completes its handshake is closed like one
    // that never completes its request headers.
    handshakeTimeout: options.headerTimeout,
  });

  front.on("connection", (socket: net.Socket) => {
    if (stopping || open.size >= options.maxConnections) {
      socket.destroy();
      if (!stopping) refused(open.size);
      return;
    }
    socket.setNoDelay(true);
    open.add(socket);
    socket.once("close", () => open.delete(socket));
  });
  front.on("tlsClientError", (_err: Error, socket: tls.TLSSocket) => {
    // A failed handshake (plain HTTP on the port, an untrusted certificate)
    // is the client's business; the connection just ends.
    socket.destroy();
  });
  front.on("secureConnection", (socket: tls.TLSSocket) => {
    const peer: Deno.NetAddr = {
      transport: "tcp",
      hostname: socket.remoteAddress ?? "",
      port: socket.remotePort ?? 0,
    };
    const upstream = net.connect({
      host: LOOPBACK,
      port: innerPort,
      noDelay: true,
      allowHalfOpen: true,
    });
    let sourcePort = 0;
    const destroy = () => {
      socket.destroy();
      upstream.destroy();
    };
    socket.on("error", destroy);
    upstream.on("error", destroy);
    // The client left: the inner connection ends, and its request with it.
    socket.on("close", () => {
      piped.delete(socket);
      upstream.destroy();
    });
    // The inner connection closed: what it sent is still written, then the
    // TLS connection closes (a half-closed client gets its answer first).
    upstream.on("close", () => {
      if (sourcePort !== 0) peers.delete(sourcePort);
      socket.end(() => socket.destroy());
    });
    piped.add(socket);
    upstream.once("connect", () => {
      sourcePort = upstream.localPort ?? 0;
      peers.set(sourcePort, peer);
      // Only now: the inner server must know the peer before a byte arrives.
      socket.pipe(upstream);
      upstream.pipe(socket);
    });
  });

  const listening = Promise.withResolvers<void>();
  front.once("error", listening.reject);
  front.listen({
    host: options.hostname,
    port: options.port,
    reusePort: options.reusePort,
  }, () => listening.resolve());
  try {
    await listening.promise;
  } catch (err) {
    await plain.shutdown();
    throw err;
  }
  front.off("error", listening.reject);
  front.on("error", (err: Error) => options.onAcceptError?.(err));
  const address = front.address() as net.AddressInfo;
  const frontClosed = Promise.withResolvers<void>();
  front.once("close", () => frontClosed.resolve());

  /** Resolves when every socket of `sockets` has closed. */
  async function drained(sockets: Set<net.Socket>): Promise<void> {
    while (sockets.size > 0) {
      await Promise.all(
        [...sockets].map((s) =>
          // In the set means not closed yet (a destroyed socket still
          // emits "close" once its handle is gone).
          new Promise<void>((resolve) => s.once("close", () => resolve()))
        ),
      );
    }
  }

  async function shutdown(): Promise<void> {
    if (stopping) return;
    stopping = true;
    front.close();
    // Graceful: a response being written is finished, then each inner
    // connection ends, and its end ends the TLS connection in front of it.
    await plain.shutdown();
    await drained(piped);
    // Connections still in their handshake have no request to finish.
    for (const socket of open) socket.destroy();
    await drained(open);
  }

  const finished = Promise.all([frontClosed.promise, plain.finished]).then(
    () => drained(open),
  );

  return {
    addr: { transport: "tcp", hostname: options.hostname, port: address.port },
    innerAddr: plain.addr,
    finished,
    shutdown,
    replaceTls(pair: TlsCertificate) {
      if (stopping) return;
      // Throws on a bad pair, and the one in use stays.
      assertUsable(pair);
      front.setSecureContext(pair);
    },
    get connections() {
      return open.size;
    },
  };
}
