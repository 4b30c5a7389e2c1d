/**
 * One thread's connection to the Redis (or Valkey) that several flow-proxy
 * instances share, through ioredis (docs/architecture.md, "Libraries").
 *
 * Redis is a helper, never a dependency of a request: commands are not
 * queued while the connection is down (`enableOfflineQueue: false`) and
 * each has its own timeout (`--redis-timeout`), so a caller gets an error
 * at once or within that time and decides on local state. The connection is
 * retried with a doubling backoff (100 ms to 5 s). Going down is logged
 * once as a WARNING, coming back as INFO; the password is never shown.
 *
 * Only loaded with `--redis-url` (the server imports this folder with
 * `import()`; tests/server/module_graph_test.ts holds it).
 *
 * @module
 */
import { Redis } from "ioredis";
import { redisDatabase, redisWhere } from "../config/redis_url.ts";
import { describe } from "../base/describe.ts";

/** First wait before a reconnect, ms; doubles up to {@linkcode RECONNECT_MAX_MS}. */
export const RECONNECT_BASE_MS = 100;
/** Longest wait between two reconnects, ms. */
export const RECONNECT_MAX_MS = 5_000;

/** Where the link says that Redis went away and came back. */
export interface RedisLinkLogger {
  warn(message: string): void;
  info(message: string): void;
}

/** Options of {@linkcode openRedisLink}. */
export interface RedisLinkOptions {
  /** A URL `parseRedisUrl` accepted. */
  url: URL;
  /** Prefix of every key (`--redis-prefix`). */
  prefix: string;
  /** Timeout of one command, ms (`--redis-timeout`). */
  timeoutMs: number;
  /** `CLIENT SETNAME` of the connection, e.g. `flow-proxy-worker-1` (letters, digits, `-`). */
  name: string;
  logger: RedisLinkLogger;
  /** Called each time the connection goes up (true) or down (false). */
  onState?: (up: boolean) => void;
  /** TLS options for `rediss://` (a private CA); default: the system's trust. */
  tls?: { ca?: string };
}

/** A thread's Redis connection; see {@linkcode openRedisLink}. */
export interface RedisLink extends AsyncDisposable {
  /** The client; commands fail fast while {@linkcode up} is false. */
  readonly client: Redis;
  /** True while the connection is ready. */
  readonly up: boolean;
  /** Where it connects, as it may be shown (`redis://host:6379/0`, password masked). */
  readonly where: string;
  /** The key prefix, for scripts that build key names (ioredis prefixes `KEYS[]` itself). */
  readonly prefix: string;
  /**
   * A second connection for `SUBSCRIBE` (a subscribed connection can run no
   * other command); made on first use, closed with the link.
   */
  subscriber(): Redis;
  /** Closes both connections. */
  close(): Promise<void>;
}

/** The ioredis options for `options`, without connecting. */
function clientOptions(options: RedisLinkOptions, name: string) {
  const url = options.url;
  return {
    host: url.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: url.port === "" ? 6379 : Number(url.port),
    username: url.username === ""
      ? undefined
      : decodeURIComponent(url.username),
    password: url.password === ""
      ? undefined
      : decodeURIComponent(url.password),
    db: redisDatabase(url),
    keyPrefix: options.prefix,
    connectionName: name,
    tls: url.protocol === "rediss:"
      ? { servername: url.hostname, ...(options.tls ?? {}) }
      : undefined,
    lazyConnect: true,
    enableOfflineQueue: false,
    // Auto-pipelining costs each command about twice the CPU (a queue per
    // tick); callers that send several at once pipeline them explicitly.
    enableAutoPipelining: false,
    maxRetriesPerRequest: 0,
    commandTimeout: options.timeoutMs,
    connectTimeout: Math.max(1_000, options.timeoutMs * 5),
    retryStrategy: (times: number) =>
      Math.min(
        RECONNECT_BASE_MS * 2 ** Math.min(times - 1, 16),
        RECONNECT_MAX_MS,
      ),
    // A READONLY replica after a failover: reconnect to find the new primary.
    reconnectOnError: (err: Error) => err.message.startsWith("READONLY"),
  };
}

/**
 * Opens the link and waits at most about one connect timeout for the first
 * connection; when Redis is not there it resolves anyway, with
 * {@linkcode RedisLink.up} false, and keeps reconnecting (a gateway starts
 * on local state rather than not at all).
 */
export async function openRedisLink(
  options: RedisLinkOptions,
): Promise<RedisLink> {
  const where = redisWhere(options.url);
  const client = new Redis(clientOptions(options, options.name));
  let up = false;
  let warned = false;
  let sub: Redis | null = null;

  client.on("ready", () => {
    up = true;
    if (warned) options.logger.info(`Redis at ${where} is reachable again`);
    warned = false;
    options.onState?.(true);
  });
  function down(err?: unknown): void {
    const was = up;
    up = false;
    if (!warned) {
      warned = true;
      options.logger.warn(
        `Redis at ${where} is unreachable${
          err === undefined ? "" : ` (${safe(err)})`
        }: serving on this instance's own state until it is back`,
      );
    }
    if (was) options.onState?.(false);
  }
  client.on("error", (err) => down(err));
  client.on("close", () => down());
  // Without a listener ioredis prints its own errors; "error" above is it.

  try {
    await client.connect();
  } catch (err) {
    down(err);
    if (!up) options.onState?.(false);
  }

  async function close(): Promise<void> {
    client.removeAllListeners("close");
    const quits = [client, sub].filter((c): c is Redis => c !== null).map(
      (c) =>
        c.status === "ready"
          ? c.quit().then(() => undefined, () => c.disconnect())
          : Promise.resolve(c.disconnect()),
    );
    await Promise.all(quits);
  }

  return {
    client,
    get up() {
      return up;
    },
    where,
    prefix: options.prefix,
    subscriber() {
      if (sub === null) {
        sub = new Redis({
          ...clientOptions(options, `${options.name}-sub`),
          // A subscriber only waits; it needs its commands queued until it is connected.
          enableOfflineQueue: true,
          lazyConnect: false,
          commandTimeout: undefined,
        });
        sub.on("error", () => {/* the main connection reports */});
      }
      return sub;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** An ioredis error as it may be logged: its message, which never holds the password. */
function safe(err: unknown): string {
  return describe(err).replace(/\/\/[^@\s]*@/g, "//***@");
}
