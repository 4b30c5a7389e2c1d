/**
 * Runs a command in a network namespace that has nothing but loopback
 * (`unshare -n`, then `ip link set lo up`), so a real agent CLI can reach
 * only what the same namespace serves on 127.0.0.1. Also builds the client
 * environment: HOME in a fresh temp dir, telemetry and auto-update off, and
 * every proxy variable pointed at the recording refuser.
 */

/** What a jailed command did. */
export interface JailResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of {@linkcode runInNetworkJail}. */
export interface JailOptions {
  /** Kill the namespace's command after this long (default 300 s). */
  timeoutMs?: number;
  /** Environment for the command (added to this process's). */
  env?: Record<string, string>;
  cwd?: string;
}

function onPath(name: string): boolean {
  for (
    const dir of (Deno.env.get("PATH") ?? "").split(":").concat([
      "/usr/sbin",
      "/sbin",
    ])
  ) {
    try {
      if (Deno.statSync(`${dir}/${name}`).isFile) return true;
    } catch {
      // Not in this directory.
    }
  }
  return false;
}

/** Throws a clear error when the namespace cannot be made here (no `unshare`, no `ip`, not root). */
export function assertJailAvailable(): void {
  for (const [tool, pkg] of [["unshare", "util-linux"], ["ip", "iproute2"]]) {
    if (!onPath(tool)) {
      throw new Error(
        `Cannot run the agent tests: "${tool}" is not installed (Debian package ${pkg})`,
      );
    }
  }
  if (Deno.uid() !== 0) {
    throw new Error(
      `Cannot run the agent tests: "unshare -n" needs root, running as uid ${Deno.uid()}`,
    );
  }
}

/** Runs `command` inside a fresh loopback-only network namespace. */
export async function runInNetworkJail(
  command: string[],
  options: JailOptions = {},
): Promise<JailResult> {
  assertJailAvailable();
  const child = new Deno.Command("unshare", {
    args: [
      "-n",
      "sh",
      "-c",
      'ip link set lo up && exec "$@"',
      "sh",
      ...command,
    ],
    env: { PATH: `${Deno.env.get("PATH")}:/usr/sbin:/sbin`, ...options.env },
    cwd: options.cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }, options.timeoutMs ?? 300_000);
  const out = await child.output();
  clearTimeout(timer);
  const d = new TextDecoder();
  return {
    code: out.code,
    stdout: d.decode(out.stdout),
    stderr: d.decode(out.stderr),
  };
}

/** Options of {@linkcode agentEnv}. */
export interface AgentEnvOptions {
  /** The client's HOME (a fresh temp dir). */
  home: string;
  /** URL of the recording refuser, e.g. `http://127.0.0.1:4567`. */
  refuserUrl: string;
  /** Variables of the test itself (base URL, key). */
  extra?: Record<string, string>;
}

/** The whole environment of a jailed client: nothing of this process's but PATH. */
export function agentEnv(options: AgentEnvOptions): Record<string, string> {
  const proxy = options.refuserUrl;
  return {
    PATH: Deno.env.get("PATH") ?? "/usr/local/bin:/usr/bin:/bin",
    HOME: options.home,
    USER: "root",
    TERM: "dumb",
    NO_COLOR: "1",
    CI: "1",
    TMPDIR: `${options.home}/tmp`,
    XDG_CONFIG_HOME: `${options.home}/.config`,
    XDG_CACHE_HOME: `${options.home}/.cache`,
    HTTPS_PROXY: proxy,
    HTTP_PROXY: proxy,
    ALL_PROXY: proxy,
    https_proxy: proxy,
    http_proxy: proxy,
    all_proxy: proxy,
    NO_PROXY: "127.0.0.1,localhost",
    no_proxy: "127.0.0.1,localhost",
    // Claude Code: no telemetry, no updater, no error reports, no other traffic.
    DISABLE_TELEMETRY: "1",
    DISABLE_AUTOUPDATER: "1",
    DISABLE_ERROR_REPORTING: "1",
    DISABLE_BUG_COMMAND: "1",
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
    CLAUDE_CODE_DISABLE_FEEDBACK_SURVEY: "1",
    // Codex: its home under the temp HOME.
    CODEX_HOME: `${options.home}/.codex`,
    ...options.extra,
  };
}
