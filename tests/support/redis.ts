/**
 * A real `redis-server` (Debian's package) for tests, on a free loopback
 * port, with no persistence; stop it with `await using` or `stop()`. It can
 * be killed and started again on the same port to test outages.
 */
import { freePort } from "./proxy.ts";

/** Options of {@linkcode startRedis}. */
export interface RedisServerOptions {
  /** `requirepass`: clients must authenticate (as `default`). */
  password?: string;
  /** Port to listen on; default a free one. */
  port?: number;
}

/** A running test Redis. */
export interface RedisServer extends AsyncDisposable {
  port: number;
  /** `redis://[:password@]127.0.0.1:port` plus `/db` when given. */
  url(db?: number): string;
  /** Kills the server (SIGKILL) and waits for it to exit. */
  kill(): Promise<void>;
  /** Starts it again on the same port (after {@linkcode kill}). */
  restart(): Promise<void>;
  /** Process id of the running server (for CPU figures); 0 while killed. */
  readonly pid: number;
  /** Runs one command with redis-cli and returns its output. */
  cli(...args: string[]): Promise<string>;
  stop(): Promise<void>;
}

/** Path of redis-server; throws an `Error` explaining how to install it when absent. */
export function findRedisServer(): string {
  for (const path of ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]) {
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch {
      // try the next place
    }
  }
  throw new Error(
    "redis-server is not installed: run `apt-get install -y redis-server`; the Redis tests need a real server",
  );
}

/** Starts a redis-server and waits until it answers PING. */
export async function startRedis(
  options: RedisServerOptions = {},
): Promise<RedisServer> {
  const binary = findRedisServer();
  const port = options.port ?? freePort();
  let child: Deno.ChildProcess | null = null;

  async function cli(...args: string[]): Promise<string> {
    const auth = options.password
      ? ["--no-auth-warning", "-a", options.password]
      : [];
    const out = await new Deno.Command("redis-cli", {
      args: ["-h", "127.0.0.1", "-p", String(port), ...auth, ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    return new TextDecoder().decode(out.stdout).trim();
  }

  async function start(): Promise<void> {
    const args = [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--protected-mode",
      "no",
      ...(options.password ? ["--requirepass", options.password] : []),
    ];
    child = new Deno.Command(binary, {
      args,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if ((await cli("PING")) === "PONG") return;
      await new Promise((r) => setTimeout(r, 25));
    }
    await kill();
    throw new Error(`redis-server did not answer on port ${port} within 10 s`);
  }

  async function kill(): Promise<void> {
    const running = child;
    child = null;
    if (running === null) return;
    try {
      running.kill("SIGKILL");
    } catch {
      // already gone
    }
    await running.status;
  }

  await start();
  return {
    port,
    url(db?: number) {
      const auth = options.password
        ? `:${encodeURIComponent(options.password)}@`
        : "";
      return `redis://${auth}127.0.0.1:${port}${
        db === undefined ? "" : `/${db}`
      }`;
    },
    get pid() {
      return child?.pid ?? 0;
    },
    kill,
    restart: start,
    cli,
    stop: kill,
    [Symbol.asyncDispose]: kill,
  };
}
