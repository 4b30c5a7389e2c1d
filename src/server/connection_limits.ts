/**
 * `Deno.serve` with the limits it lacks: a deadline for a new connection's
 * first request headers, an idle keep-alive timeout, and a cap on open
 * connections.
 *
 * Deno 2.9's HTTP/1 server has none of these (a connection that sends a
 * header byte a second, or nothing at all, stays open for good), and the
 * server it returns exposes no connections. So this module accepts
 * connections itself and hands each one to the runtime's own HTTP server for
 * a single connection (`serveHttpOnConnection`, the function `Deno.serve`
 * is built on, reached through `Deno[Deno.internal]`): requests are still
 * parsed and answered natively, and closing a connection is that server's
 * graceful shutdown, which drops an idle or half-received request and lets a
 * response being written finish first.
 *
 * HTTPS is served by `tls_front.ts`, which terminates TLS in front of a
 * plain server of this module on a loopback port.
 *
 * When the runtime does not have that function, {@linkcode serveWithLimits}
 * returns null and the caller serves with plain `Deno.serve`.
 */

/** The limits; milliseconds and a count. */
export interface ConnectionLimits {
  /** A new connection must complete its first request headers within this. */
  headerTimeout: number;
  /** A connection with no request in flight is closed after this long. */
  keepAliveTimeout: number;
  /** Connections open at once on this thread; more are closed at accept. */
  maxConnections: number;
}

/** Options of {@linkcode serveWithLimits}. */
export interface ServeWithLimitsOptions extends ConnectionLimits {
  hostname: string;
  port: number;
  reusePort: boolean;
  onError: (error: unknown) => Response | Promise<Response>;
  /** Called (at most every 10 s) when a connection is refused for the cap. */
  onRefused?: (open: number) => void;
  /** Called when accepting fails for a reason other than shutdown. */
  onAcceptError?: (error: unknown) => void;
}

/** A PEM certificate chain and its private key. */
export interface TlsCertificate {
  cert: string;
  key: string;
}

/** Protocols offered by ALPN on a TLS listener, preferred first. */
export const ALPN_PROTOCOLS = ["h2", "http/1.1"];

/** What the runtime returns for one connection. */
interface ConnectionServer {
  finished: Promise<void>;
  shutdown(): Promise<void>;
}

type ServeHttpOnConnection = (
  conn: Deno.Conn,
  signal: AbortSignal | undefined,
  handler: Deno.ServeHandler<Deno.NetAddr>,
  onError: (error: unknown) => Response | Promise<Response>,
  onListen: () => void,
) => ConnectionServer;

interface Connection {
  server: ConnectionServer | null;
  /** Requests whose handler has not settled yet. */
  active: number;
  /** Whether a request has arrived: then the idle timeout applies. */
  served: boolean;
  /** When the connection opened or its last request settled. */
  since: number;
  closing: boolean;
}

/** A server with limits; the subset of `Deno.HttpServer` the runtime uses. */
export interface LimitedServer {
  addr: Deno.NetAddr;
  finished: Promise<void>;
  /** Stops accepting, closes idle connections, waits for the others. */
  shutdown(): Promise<void>;
  /** Connections open right now. */
  readonly connections: number;
  /**
   * New connections get `tls` from now on; open ones keep theirs. Throws
   * (and keeps the certificate in use) on a pair that cannot be used, and
   * on a server without TLS.
   */
  replaceTls(tls: TlsCertificate): void;
}

/** How often connections are checked against the timeouts. */
const SWEEP_MS = 250;
const REFUSED_LOG_MS = 10_000;
const ACCEPT_RETRY_MS = 100;

/**
 * A function that calls `onRefused` with the open count at most every 10 s,
 * however often connections are refused for the cap.
 */
export function refusalReporter(
  onRefused: ((open: number) => void) | undefined,
): (open: number) => void {
  let last = -Infinity;
  return (open) => {
    const now = performance.now();
    if (onRefused === undefined || now - last < REFUSED_LOG_MS) return;
    last = now;
    onRefused(open);
  };
}

/** The runtime's per-connection server, or null when it has none. */
export function connectionServer(): ServeHttpOnConnection | null {
  const internal = (Deno as unknown as Record<symbol, unknown>)[
    (Deno as unknown as { internal: symbol }).internal
  ] as Record<string, unknown> | undefined;
  const serve = internal?.serveHttpOnConnection;
  return typeof serve === "function" ? serve as ServeHttpOnConnection : null;
}

/**
 * Serves `handler` with the limits of `options`; null when the runtime cannot
 * serve one connection at a time (then nothing was opened).
 */
export function serveWithLimits(
  options: ServeWithLimitsOptions,
  handler: Deno.ServeHandler<Deno.NetAddr>,
): LimitedServer | null {
  const found = connectionServer();
  if (found === null) return null;
  const serveConnection: ServeHttpOnConnection = found;
  const listener = Deno.listen({
    hostname: options.hostname,
    port: options.port,
    reusePort: options.reusePort,
  });
  const open = new Set<Connection>();
  const refused = refusalReporter(options.onRefused);
  let stopping = false;

  function close(connection: Connection): void {
    if (connection.closing || connection.server === null) return;
    connection.closing = true;
    // Graceful: a response being written is finished first.
    connection.server.shutdown().catch(() => {});
  }

  const sweep = setInterval(() => {
    const now = performance.now();
    for (const connection of open) {
      if (connection.active > 0) continue;
      const limit = connection.served
        ? options.keepAliveTimeout
        : options.headerTimeout;
      if (now - connection.since >= limit) close(connection);
    }
  }, SWEEP_MS);

  function accept(conn: Deno.Conn): void {
    if (open.size >= options.maxConnections) {
      conn.close();
      refused(open.size);
      return;
    }
    const connection: Connection = {
      server: null,
      active: 0,
      served: false,
      since: performance.now(),
      closing: false,
    };
    const settle = () => {
      if (--connection.active === 0) connection.since = performance.now();
    };
    open.add(connection);
    connection.server = serveConnection(
      conn,
      undefined,
      (req, info) => {
        connection.active++;
        connection.served = true;
        let response: Promise<Response>;
        try {
          response = Promise.resolve(handler(req, info));
        } catch (err) {
          // Still answered (by onError), and the count must come down.
          response = Promise.reject(err);
        }
        response.then(settle, settle);
        return response;
      },
      options.onError,
      () => {},
    );
    connection.server.finished
      // A reset by the client ends a connection too; it is not an error here.
      .catch(() => {})
      .finally(() => open.delete(connection));
  }

  async function acceptFrom(from: Deno.Listener): Promise<void> {
    while (!stopping) {
      let conn: Deno.Conn;
      try {
        conn = await from.accept();
      } catch (err) {
        if (stopping || err instanceof Deno.errors.BadResource) return;
        // Out of file descriptors, say: keep the server, try again shortly.
        options.onAcceptError?.(err);
        await new Promise((resolve) => setTimeout(resolve, ACCEPT_RETRY_MS));
        continue;
      }
      accept(conn);
    }
  }
  const acceptingDone = acceptFrom(listener);

  async function shutdown(): Promise<void> {
    if (stopping) return;
    stopping = true;
    clearInterval(sweep);
    listener.close();
    await acceptingDone;
    const servers = [...open].map((connection) => {
      close(connection);
      return connection.server!.finished.catch(() => {});
    });
    await Promise.all(servers);
  }

  const finished = acceptingDone.then(async () => {
    clearInterval(sweep);
    await Promise.all(
      [...open].map((c) => c.server!.finished.catch(() => {})),
    );
  });

  return {
    addr: listener.addr as Deno.NetAddr,
    finished,
    shutdown,
    replaceTls() {
      throw new Error("This listener serves plain HTTP: it has no certificate");
    },
    get connections() {
      return open.size;
    },
  };
}
