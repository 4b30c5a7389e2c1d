/**
 * A real clickhouse-server for tests: its own config in a temp dir, free
 * 127.0.0.1 ports, started and stopped on demand (so a test can have it down
 * first and up later), removed on dispose.
 *
 * clickhouse-server comes from Debian's package (`apt-get install -y
 * clickhouse-server`); when it is missing, {@linkcode createClickHouseServer}
 * throws, so the test fails rather than skips. `CLICKHOUSE_SERVER` overrides
 * the binary's path.
 */
import { join } from "node:path";

/** User with a password that tests authenticate as (the default user has none). */
export const CLICKHOUSE_TEST_USER = "flow_proxy_test";
/** Password of {@linkcode CLICKHOUSE_TEST_USER}. */
export const CLICKHOUSE_TEST_PASSWORD = "ch-test-password-9f2c";

const CANDIDATES = [
  "/usr/bin/clickhouse-server",
  "/usr/sbin/clickhouse-server",
  "/usr/local/bin/clickhouse-server",
];
const START_LIMIT_MS = 30_000;
const STOP_LIMIT_MS = 10_000;

/** A clickhouse-server instance owned by a test. */
export interface ClickHouseServer extends AsyncDisposable {
  /** HTTP interface URL (fixed before the first start). */
  readonly url: URL;
  /** True while the process runs. */
  readonly running: boolean;
  /** Starts the server and resolves once `/ping` answers; throws with the server's error log otherwise. */
  start(): Promise<void>;
  /** Stops the server (SIGTERM, SIGKILL if it lingers) and waits for it to exit. */
  stop(): Promise<void>;
  /** Runs `sql` as the test user and returns the response body; throws on an HTTP error. */
  query(sql: string): Promise<string>;
}

/** Path of clickhouse-server; throws an `Error` explaining how to install it when absent. */
export function findClickHouseServer(): string {
  const override = Deno.env.get("CLICKHOUSE_SERVER");
  for (const path of override ? [override] : CANDIDATES) {
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch {
      // try the next place
    }
  }
  throw new Error(
    "clickhouse-server is not installed: run `apt-get install -y clickhouse-server` " +
      "(or set CLICKHOUSE_SERVER to its path); the ClickHouse tests need a real server",
  );
}

/** A free TCP port on 127.0.0.1 (free when returned; the server binds it soon after). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Prepares a server (config, data dir, ports) without starting it. */
export async function createClickHouseServer(): Promise<ClickHouseServer> {
  const binary = findClickHouseServer();
  const dir = await Deno.makeTempDir({ prefix: "flow-proxy-clickhouse-" });
  const httpPort = freePort();
  const tcpPort = freePort();
  // keep_alive_timeout: the server's shutdown waits for idle kept-alive connections (fetch's pool).
  await Deno.writeTextFile(
    join(dir, "config.xml"),
    `<yandex>
  <logger><level>warning</level><log>${dir}/server.log</log><errorlog>${dir}/error.log</errorlog></logger>
  <http_port>${httpPort}</http_port>
  <tcp_port>${tcpPort}</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <keep_alive_timeout>1</keep_alive_timeout>
  <path>${dir}/data/</path>
  <tmp_path>${dir}/tmp/</tmp_path>
  <users_config>users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>5368709120</mark_cache_size>
</yandex>
`,
  );
  await Deno.writeTextFile(
    join(dir, "users.xml"),
    `<yandex>
  <profiles><default/></profiles>
  <users>
    <default><password></password><networks><ip>127.0.0.1</ip></networks>
      <profile>default</profile><quota>default</quota></default>
    <${CLICKHOUSE_TEST_USER}><password>${CLICKHOUSE_TEST_PASSWORD}</password><networks><ip>127.0.0.1</ip></networks>
      <profile>default</profile><quota>default</quota></${CLICKHOUSE_TEST_USER}>
  </users>
  <quotas><default/></quotas>
</yandex>
`,
  );
  return new LocalClickHouse(
    binary,
    dir,
    new URL(`http://127.0.0.1:${httpPort}/`),
  );
}

class LocalClickHouse implements ClickHouseServer {
  readonly url: URL;
  #binary: string;
  #dir: string;
  #child: Deno.ChildProcess | null = null;

  constructor(binary: string, dir: string, url: URL) {
    this.#binary = binary;
    this.#dir = dir;
    this.url = url;
  }

  get running(): boolean {
    return this.#child !== null;
  }

  async start(): Promise<void> {
    if (this.#child) return;
    const child = new Deno.Command(this.#binary, {
      args: [`--config-file=${join(this.#dir, "config.xml")}`],
      cwd: this.#dir,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    this.#child = child;
    let exited = false;
    const status = child.status.then((s) => {
      exited = true;
      return s;
    });
    const deadline = Date.now() + START_LIMIT_MS;
    while (!exited && Date.now() < deadline) {
      if (await this.#ping()) return;
      await Promise.race([status, delay(100)]);
    }
    const why = exited
      ? `exited with code ${(await status).code}`
      : `did not answer within ${START_LIMIT_MS} ms`;
    await this.stop();
    throw new Error(
      `clickhouse-server ${why}; its error log says:\n${await this
        .#errorLog()}`,
    );
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    this.#child = null;
    try {
      child.kill("SIGTERM");
    } catch {
      // already gone
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const lingering = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), STOP_LIMIT_MS);
    });
    const outcome = await Promise.race([child.status, lingering]);
    clearTimeout(timer);
    if (outcome === "timeout") {
      child.kill("SIGKILL");
      await child.status;
    }
  }

  async query(sql: string): Promise<string> {
    const response = await fetch(this.url, {
      method: "POST",
      headers: {
        "X-ClickHouse-User": CLICKHOUSE_TEST_USER,
        "X-ClickHouse-Key": CLICKHOUSE_TEST_PASSWORD,
      },
      body: sql,
    });
    const text = await response.text();
    if (!response.ok) {
      throw new Error(
        `ClickHouse query failed (HTTP ${response.status}): ${text.trim()}`,
      );
    }
    return text;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
    await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
  }

  async #ping(): Promise<boolean> {
    try {
      const response = await fetch(new URL("/ping", this.url));
      await response.body?.cancel();
      return response.ok;
    } catch {
      return false;
    }
  }

  async #errorLog(): Promise<string> {
    try {
      const text = await Deno.readTextFile(join(this.#dir, "error.log"));
      return text.split("\n").slice(-20).join("\n");
    } catch {
      return "(no error log)";
    }
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
