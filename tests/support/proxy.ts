/**
 * Runs the real entry point (`deno run -A main.ts serve …`) as a child
 * process, the way a user starts it, and waits until it is healthy.
 */
import { fileURLToPath as fromFileUrl } from "node:url";

/** The repository root. */
export const REPO = fromFileUrl(new URL("../../", import.meta.url));
/** main.ts of the repository. */
export const MAIN = fromFileUrl(new URL("../../main.ts", import.meta.url));

/** A port that was free a moment ago. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Writes `secrets.json` (mode 0600) in a new temp dir and returns its path. */
export function writeSecrets(
  entries: Record<string, unknown>[],
  dir = Deno.makeTempDirSync({ prefix: "flow-proxy-test-" }),
): string {
  const path = `${dir}/secrets.json`;
  Deno.writeTextFileSync(path, JSON.stringify(entries, null, 2));
  Deno.chmodSync(path, 0o600);
  return path;
}

/** Options of {@linkcode startProxy}. */
export interface StartProxyOptions {
  upstream: string;
  secretsFile: string;
  /** Extra flags for `serve`. */
  args?: string[];
  env?: Record<string, string>;
  /** Working directory (defaults to the secrets file's directory). */
  cwd?: string;
  /** Wait for `/healthz` 200 (default true). */
  waitHealthy?: boolean;
}

/** A running proxy process. */
export interface ProxyProcess {
  url: string;
  port: number;
  child: Deno.ChildProcess;
  /** Everything written to stderr so far. */
  logs(): string;
  /**
   * Stderr once the proxy has written its pending lines (serving threads
   * gather lines for a few ms): waits until nothing new came for 100 ms.
   */
  settledLogs(): Promise<string>;
  /** Everything written to stdout so far. */
  output(): string;
  /** Resolves when `text` appears in stderr (bounded by `timeoutMs`). */
  waitForLog(text: string | RegExp, timeoutMs?: number): Promise<void>;
  /** Sends a signal and waits for the exit status. */
  stop(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Starts `flow-proxy serve` on a free port against `upstream`. */
export async function startProxy(
  options: StartProxyOptions,
): Promise<ProxyProcess> {
  const port = freePort();
  const cwd = options.cwd ?? options.secretsFile.replace(/\/[^/]+$/, "");
  const args = [
    "run",
    "-A",
    MAIN,
    "serve",
    "--port",
    String(port),
    "--upstream",
    options.upstream,
    "--secrets-file",
    options.secretsFile,
    ...(options.args ?? []),
  ];
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    env: { NO_COLOR: "1", ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stderrText = "";
  let stdoutText = "";
  const listeners = new Set<() => void>();
  const pump = async (
    stream: ReadableStream<Uint8Array>,
    append: (s: string) => void,
  ) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      append(decoder.decode(chunk, { stream: true }));
      for (const l of listeners) l();
    }
  };
  const pumps = Promise.all([
    pump(child.stderr, (s) => stderrText += s),
    pump(child.stdout, (s) => stdoutText += s),
  ]);
  let exited: Deno.CommandStatus | null = null;
  const status = child.status.then((s) => {
    exited = s;
    for (const l of listeners) l();
    return s;
  });

  function waitForLog(
    text: string | RegExp,
    timeoutMs = 15_000,
  ): Promise<void> {
    const found = () =>
      typeof text === "string"
        ? stderrText.includes(text)
        : text.test(stderrText);
    if (found()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        listeners.delete(check);
        reject(
          new Error(`Timed out waiting for log ${text}; logs:\n${stderrText}`),
        );
      }, timeoutMs);
      function check() {
        if (found()) {
          clearTimeout(timer);
          listeners.delete(check);
          resolve();
        } else if (exited) {
          clearTimeout(timer);
          listeners.delete(check);
          reject(
            new Error(
              `Proxy exited (${exited.code}) before log ${text}; logs:\n${stderrText}`,
            ),
          );
        }
      }
      listeners.add(check);
    });
  }

  const url = `http://127.0.0.1:${port}`;
  let stopped = false;
  async function stop(
    signal: Deno.Signal = "SIGTERM",
  ): Promise<Deno.CommandStatus> {
    if (!stopped) {
      stopped = true;
      if (exited === null) {
        try {
          child.kill(signal);
        } catch {
          // Already gone.
        }
      }
    }
    const s = await status;
    await pumps;
    return s;
  }

  const proc: ProxyProcess = {
    url,
    port,
    child,
    logs: () => stderrText,
    async settledLogs() {
      let seen = -1;
      for (let i = 0; i < 50 && seen !== stderrText.length; i++) {
        seen = stderrText.length;
        await new Promise((r) => setTimeout(r, 100));
      }
      return stderrText;
    },
    output: () => stdoutText,
    waitForLog,
    stop,
    async [Symbol.asyncDispose]() {
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch {
          // Already gone.
        }
      }, 10_000);
      await stop();
      clearTimeout(timer);
    },
  };
  if (options.waitHealthy !== false) {
    try {
      await waitForLog(" ready on http://");
      await waitHealthy(url);
    } catch (err) {
      await proc[Symbol.asyncDispose]();
      throw err;
    }
  }
  return proc;
}

/** Polls `/healthz` until 200 (bounded: 100 tries). */
export async function waitHealthy(url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const res = await fetch(`${url}/healthz`).catch(() => null);
    const ok = res?.status === 200;
    await res?.body?.cancel();
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url}/healthz never answered 200`);
}

/** Runs main.ts with `args` to completion. */
export async function runCli(
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; clearEnv?: boolean } =
    {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    cwd: options.cwd ?? REPO,
    env: { NO_COLOR: "1", ...options.env },
    clearEnv: options.clearEnv,
    stdin: "null",
  }).output();
  const d = new TextDecoder();
  return {
    code: out.code,
    stdout: d.decode(out.stdout),
    stderr: d.decode(out.stderr),
  };
}

/** Test credentials with distinctive secrets (searched for in logs). */
export function testCredentials(n: number, prefix = "cred"): {
  name: string;
  clientId: string;
  clientSecret: string;
  tenant: string;
}[] {
  return Array.from({ length: n }, (_, i) => ({
    name: `${prefix}-${i + 1}`,
    clientId: `client-${prefix}-${i + 1}`,
    clientSecret: `s3cr3t-${prefix}-${i + 1}-${crypto.randomUUID()}`,
    tenant: "test-tenant",
  }));
}
