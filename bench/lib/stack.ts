/**
 * The pieces every benchmark script starts: tools (wrk, nginx), the fake
 * upstream (nginx + bench/upstream.ts), a secrets file, and the command line
 * of flow-proxy itself.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { nginxArgs, upstreamConfig, writeConfig } from "./nginx.ts";
import { BASE_PATH, CHAT_PATH } from "./payloads.ts";
import {
  freePort,
  type ProcessSet,
  type Spawned,
  waitForHttp,
} from "./procs.ts";
import { write } from "./report.ts";
import { useClientKey } from "./client_key.ts";
import { readCompilePlan } from "../../scripts/compile_all.ts";

/** The repository root, with a trailing slash. */
export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** The `--v8-flags` of the compile task in deno.json (what the binary runs with). */
export function shippedV8Flags(): string[] {
  return readCompilePlan().flags.filter((f) => f.startsWith("--v8-flags"));
}

/** Paths of the external tools. */
export interface Tools {
  wrk: string;
  nginx: string;
}

/** Writes a progress line. */
export function log(message: string): void {
  write(`[bench] ${message}\n`);
}

/** stdout + stderr of a command, trimmed; "" when it cannot run. */
export async function commandText(
  cmd: string,
  args: string[],
): Promise<string> {
  try {
    const out = await new Deno.Command(cmd, {
      args,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    return (dec.decode(out.stdout) + dec.decode(out.stderr)).trim();
  } catch {
    return "";
  }
}

/** Path of an executable on PATH or in the sbin directories, or null. */
export function findBinary(name: string): string | null {
  const dirs = (Deno.env.get("PATH") ?? "").split(":").concat([
    "/usr/sbin",
    "/usr/local/sbin",
    "/sbin",
  ]);
  for (const dir of dirs) {
    if (!dir) continue;
    try {
      const info = Deno.statSync(`${dir}/${name}`);
      if (info.isFile && ((info.mode ?? 0o111) & 0o111)) {
        return `${dir}/${name}`;
      }
    } catch {
      // Not here.
    }
  }
  return null;
}

async function aptInstall(packages: string[]): Promise<void> {
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  const install = () =>
    new Deno.Command("apt-get", {
      args: ["install", "-y", "-q", ...packages],
      env,
      stdout: "null",
      stderr: "piped",
    }).output();
  let out = await install();
  if (!out.success) {
    // A fresh container has no package lists yet.
    await new Deno.Command("apt-get", {
      args: ["update", "-q"],
      env,
      stdout: "null",
      stderr: "null",
    }).output();
    out = await install();
  }
  if (!out.success) {
    throw new Error(
      `Cannot install ${packages.join(" ")} with apt-get: ${
        new TextDecoder().decode(out.stderr).trim()
      }`,
    );
  }
}

/** Finds wrk and nginx, installing them with apt-get as root when `install` allows. */
export async function findTools(install: boolean): Promise<Tools> {
  let wrk = findBinary("wrk");
  let nginx = findBinary("nginx");
  const missing = () =>
    [wrk === null ? "wrk" : "", nginx === null ? "nginx" : ""].filter(Boolean);
  if (
    missing().length > 0 && install && Deno.uid() === 0 &&
    findBinary("apt-get") !== null
  ) {
    log(`installing ${missing().join(" ")} with apt-get`);
    await aptInstall(missing());
    wrk = findBinary("wrk");
    nginx = findBinary("nginx");
  }
  const absent = missing();
  if (absent.length > 0) {
    throw new Error(
      `Cannot find ${absent.join(" and ")}: install ${
        absent.length > 1 ? "them" : "it"
      } (Debian/Ubuntu: apt-get install ${
        absent.join(" ")
      }), or run the benchmark as root without --no-install`,
    );
  }
  return { wrk: wrk!, nginx: nginx! };
}

/** Writes three credential sets shaped like real ones (no template placeholders), mode 0600. */
export function writeSecretsFile(dir: string): string {
  const random = (n: number) => {
    const bytes = crypto.getRandomValues(new Uint8Array(n));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  };
  const entries = ["primary-1", "primary-2", "backup"].map((name) => ({
    name,
    clientId: crypto.randomUUID(),
    clientSecret: random(24),
    tenant: "cit",
    agent: "flow-proxy-bench",
    appToAccess: "llm-api",
  }));
  const path = `${dir}/secrets.json`;
  Deno.writeTextFileSync(path, JSON.stringify(entries, null, 2));
  Deno.chmodSync(path, 0o600);
  return path;
}

/** This process's environment without flow-proxy's own variables, for children. */
export function childEnv(): Record<string, string> {
  const env = Deno.env.toObject();
  for (const name of Object.keys(env)) {
    if (name.startsWith("FLOW_PROXY_")) delete env[name];
  }
  delete env.CREDENTIALS_DIRECTORY;
  delete env.STATE_DIRECTORY;
  return env;
}

/** The running fake upstream. */
export interface Upstream {
  /** Base URL, `http://127.0.0.1:<port>/flow-llm-proxy`. */
  base: string;
  port: number;
  /** The nginx master (workers are its children). */
  nginx: Spawned;
  /** bench/upstream.ts, behind nginx for SSE and downloads. */
  stream: Spawned;
  /** `nginx -V`, reused for other nginx configs. */
  buildInfo: string;
}

/** Starts bench/upstream.ts and the upstream nginx, and waits until both answer. */
export async function startUpstream(
  procs: ProcessSet,
  tmp: string,
  nginxBin: string,
): Promise<Upstream> {
  const buildInfo = await commandText(nginxBin, ["-V"]);
  const streamPort = freePort();
  const port = freePort();
  const stream = procs.spawn(
    [
      Deno.execPath(),
      "run",
      "-A",
      "bench/upstream.ts",
      "--port",
      String(streamPort),
    ],
    { name: "stream-upstream", logDir: tmp, cwd: ROOT, env: childEnv() },
  );
  const prefix = `${tmp}/nginx-upstream`;
  const conf = writeConfig(
    prefix,
    upstreamConfig({
      prefix,
      port,
      streamPort,
      workers: navigator.hardwareConcurrency,
      buildInfo,
    }),
  );
  const nginx = procs.spawn([nginxBin, ...nginxArgs(prefix, conf)], {
    name: "nginx-upstream",
    logDir: tmp,
  });
  const base = `http://127.0.0.1:${port}${BASE_PATH}`;
  await waitForHttp(`http://127.0.0.1:${streamPort}/v1/messages?events=3`, {
    timeoutMs: 60_000,
    process: stream,
    status: 200,
  });
  await waitForHttp(`${base}${CHAT_PATH}`, {
    timeoutMs: 30_000,
    process: nginx,
    status: 200,
  });
  return { base, port, nginx, stream, buildInfo };
}

/**
 * The models file of docs/models.md's complete example (the configuration the
 * Claude Code issue asked for: compatibility rewrites, aliases, patterns,
 * defaults), so every request goes through a loaded models configuration.
 */
export const BENCH_MODELS_CONFIG = {
  compat: { maxTokens: "clamp", thinking: "convert" },
  builtInRules: true,
  models: [
    {
      name: "anthropic.claude-4-7-opus",
      thinking: ["adaptive"],
      betas: ["interleaved-thinking-2025-05-14"],
    },
    {
      name: "anthropic.claude-4-6-sonnet",
      outputLimit: 64000,
      compat: { systemMessages: "pass" },
    },
    {
      name: "anthropic.claude-4-8-opus",
      family: "anthropic",
      apis: ["messages", "chat"],
      contextWindow: 1000000,
      outputLimit: 128000,
      thinking: [],
      betas: [],
      rejectsFields: ["context_management", "output_config"],
      note: "added before flow-proxy knew it",
    },
    { name: "gpt-5", compat: false },
  ],
  aliases: {
    sonnet: "anthropic.claude-4-6-sonnet",
    "claude-opus-4-8": "anthropic.claude-4-8-opus",
  },
  patterns: [
    {
      match: "claude-*-haiku*",
      model: "anthropic.claude-4-5-haiku",
      apis: ["messages"],
    },
    { match: "team-*", model: "gpt-5" },
  ],
  defaults: { chat: "gpt-4o-mini", responses: "gpt-5" },
};

/** Requests per minute of the benchmark's client key (the most a key takes): above any load here. */
export const BENCH_KEY_RPM = 1_000_000;

/**
 * Creates the benchmark's client key (`keys create`, rate limit
 * {@linkcode BENCH_KEY_RPM}) in a database in `dir` and makes every later
 * benchmark request present it (bench/lib/client_key.ts); returns the
 * database's path, to give as {@linkcode FlowProxyArgs.keyDb}.
 */
export async function createClientKey(dir: string): Promise<string> {
  const db = `${dir}/bench-key.db`;
  const emptyEnv = `${dir}/empty.env`;
  Deno.writeTextFileSync(emptyEnv, "");
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "main.ts",
      "keys",
      "create",
      "--name",
      "bench",
      "--rpm",
      String(BENCH_KEY_RPM),
      "--db",
      db,
      "--env-file",
      emptyEnv,
      "--json",
    ],
    cwd: ROOT,
    env: childEnv(),
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const key = out.success ? (JSON.parse(text) as { key?: string }).key : null;
  if (typeof key !== "string") {
    throw new Error(
      `Cannot create the benchmark's client key in "${db}": ${
        new TextDecoder().decode(out.stderr).trim() || text.trim()
      }`,
    );
  }
  useClientKey(key);
  return db;
}

/** Options of {@linkcode flowProxyArgs}. */
export interface FlowProxyArgs {
  port: number;
  upstream: string;
  secretsFile: string;
  /** Directory for the SQLite request log and an empty env file. */
  dir: string;
  /** Web Workers; 0 = `--no-threaded`. */
  workers: number;
  /** Flags placed before `main.ts` (e.g. `--inspect`). */
  denoFlags?: string[];
  /** A database holding the client key ({@linkcode createClientKey}): copied to this flow-proxy's own. */
  keyDb?: string;
}

/**
 * `deno run … main.ts serve …` with every default feature on (INFO log line,
 * SQLite request log, metrics, usage tap, the access check with the client
 * key of {@linkcode createClientKey} when it is in `db`) and the models file
 * {@linkcode BENCH_MODELS_CONFIG}; run it with `cwd: ROOT`.
 */
export function flowProxyArgs(options: FlowProxyArgs): string[] {
  const name = options.workers === 0 ? "main" : String(options.workers);
  const emptyEnv = `${options.dir}/empty.env`;
  Deno.writeTextFileSync(emptyEnv, "");
  const db = `${options.dir}/flow-${name}.db`;
  if (options.keyDb) {
    for (const suffix of ["", "-wal", "-shm"]) {
      try {
        Deno.copyFileSync(options.keyDb + suffix, db + suffix);
      } catch (err) {
        if (suffix === "" || !(err instanceof Deno.errors.NotFound)) throw err;
      }
    }
  }
  const modelsFile = `${options.dir}/models.json`;
  Deno.writeTextFileSync(modelsFile, JSON.stringify(BENCH_MODELS_CONFIG));
  return [
    Deno.execPath(),
    "run",
    "-A",
    // The V8 flags the release binary is compiled with, so what is measured
    // is what ships.
    ...shippedV8Flags(),
    ...(options.denoFlags ?? []),
    "main.ts",
    "serve",
    "--host",
    "127.0.0.1",
    "--port",
    String(options.port),
    "--upstream",
    options.upstream,
    ...(options.workers === 0
      ? ["--no-threaded"]
      : ["--num-workers", String(options.workers)]),
    "--secrets-file",
    options.secretsFile,
    "--db",
    db,
    "--config",
    modelsFile,
    // An empty env file, so a developer's .env cannot change what is measured.
    "--env-file",
    emptyEnv,
    "--shutdown-timeout",
    "2s",
  ];
}
