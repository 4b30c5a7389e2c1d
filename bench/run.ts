/**
 * flow-proxy's side-by-side benchmark, one command:
 *
 * ```sh
 * deno task bench                       # 10 s runs, 3 interleaved repeats
 * deno run -A bench/run.ts --quick      # a 1 s smoke run
 * deno run -A bench/run.ts --soak 10m   # adds a bounded 10-minute soak
 * ```
 *
 * It finds (or, as root, apt-installs) wrk and nginx; starts on 127.0.0.1 an
 * upstream (nginx answering a fixed chat completion, bench/upstream.ts for
 * SSE and downloads), an nginx `proxy_pass` gateway, the bare Deno proxies of
 * bench/bare_proxy.ts, and flow-proxy with 1 and 2 workers (default features,
 * 3 credentials); measures them round-robin; prints a markdown report and
 * writes it to bench/results/. Every child is stopped on exit, error or
 * Ctrl-C, and the whole run has a deadline.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { fixedJwt } from "./bare_proxy.ts";
import { nginxArgs, proxyConfig, writeConfig } from "./lib/nginx.ts";
import { CHAT_PATH, FILES_PATH, MESSAGES_PATH } from "./lib/payloads.ts";
import {
  clockTicks,
  cpuTicks,
  freePort,
  memory,
  ProcessSet,
  processTree,
  resetPeak,
  type Spawned,
  tailOf,
  waitForHttp,
} from "./lib/procs.ts";
import {
  fixed,
  median,
  mib,
  parseSeconds,
  ratio,
  signed,
  table,
  write,
} from "./lib/report.ts";
import {
  childEnv,
  commandText,
  createClientKey,
  findTools,
  flowProxyArgs,
  log,
  ROOT,
  startUpstream,
  type Tools,
  writeSecretsFile,
} from "./lib/stack.ts";
import { download, readSse } from "./lib/stream_client.ts";
import { clientHeaders } from "./lib/client_key.ts";
import { runWrk, writeWrkScript, type WrkResult } from "./lib/wrk.ts";
import { type FeatureOptions, runFeatures } from "./features.ts";
import { runExtras } from "./lib/extras.ts";

/** What one run measures, from the command line. */
export interface BenchOptions {
  quick: boolean;
  /** Length of each wrk run, s. */
  seconds: number;
  repeats: number;
  /** Load on each target before measuring, s. */
  warmupSeconds: number;
  /** Sequential SSE requests per target and repeat for time to first event. */
  sseRequests: number;
  /** Events of the long SSE test. */
  sseEvents: number;
  /** Size of the download test, bytes. */
  downloadBytes: number;
  /** How long the freshly started targets stay without load before idle RSS is read, s. */
  idleSeconds: number;
  /** 0 = no soak. */
  soakSeconds: number;
  soakOnly: boolean;
  /** apt-get install wrk/nginx when missing (root only). */
  install: boolean;
  resultsDir: string;
  updateDocs: boolean;
  /** `--features`: only the per-feature cost run (bench/features.ts). */
  features: boolean;
  /** `--no-features`: the full run leaves the per-feature table out. */
  noFeatures: boolean;
  /** Serving workers of the `--features` run. */
  workers: number;
  /** `--redis`: the extras also measure Redis shared state on against off. */
  redis: boolean;
}

/** A measured path, and the process whose CPU and memory count for it. */
interface Target {
  id: TargetId;
  label: string;
  /** Bare proxy this one is compared with. */
  baseline: TargetId;
  /** Requests go to `base + path`. */
  base: string;
  process: Spawned;
  gateway: boolean;
  deno: boolean;
}

type TargetId =
  | "direct"
  | "nginx"
  | "bare-1"
  | "floor-1"
  | "bare-2"
  | "floor-2"
  | "flow-1"
  | "flow-2";

interface Samples {
  rps: number[];
  p50At50: number[];
  p99At50: number[];
  p50At1: number[];
  p99At1: number[];
  addedP50At1: number[];
  ttfe: number[];
  addedTtfe: number[];
  cpuUs: number[];
  errors: number;
  requests: number;
}

interface Resources {
  /** RSS a second after start. */
  startRss: number;
  /** RSS after {@linkcode BenchOptions.idleSeconds} without load. */
  idleRss: number;
  peakRss: number;
  afterRss: number;
}

interface StreamRow {
  target: Target;
  test: string;
  ok: boolean;
  detail: string;
  before: number;
  peak: number;
  after: number;
}

const DOCS_FILE = `${ROOT}docs/benchmarks.md`;
const DOCS_BEGIN = "<!-- bench:begin -->";
const DOCS_END = "<!-- bench:end -->";
const TTFE_EVENTS = 5;
const TTFE_GAP_MS = 2;
const HELP = `Usage: deno run -A bench/run.ts [options]

Side-by-side benchmark of flow-proxy against direct, nginx proxy_pass and a
bare Deno proxy (see bench/README.md).

Options:
  --quick               Smoke run: 1 s per run, 1 repeat, small streams
  --duration <d>        Length of each wrk run (default 10s)
  --repeats <n>         Interleaved repeats (default 3)
  --warmup <d>          Load on each target before measuring (default 3s)
  --sse-requests <n>    Sequential requests for time to first SSE event (default 200)
  --idle <d>            Time without load before idle RSS is read (default 60s)
  --soak <d>            Also run a bounded soak at 50 connections on flow-proxy (e.g. 10m)
  --soak-only           Only the soak (with --soak)
  --features            Only the per-feature cost run: each default feature off in turn
  --no-features         Leave the per-feature cost run out of the full run
  --workers <n>         Serving workers of the --features run (default 1)
  --redis               Also measure Redis shared state (starts redis-server, passes --redis-url)
  --no-install          Never apt-get install wrk or nginx
  --results-dir <dir>   Where the report goes (default bench/results)
  --update-docs         Replace the measured section of docs/benchmarks.md
  -h, --help            Show this help
`;

/** Parses the command line; throws TypeError on a bad flag. */
export function parseBenchArgs(args: string[]): BenchOptions | null {
  const { values } = parseArgs({
    args,
    options: {
      quick: { type: "boolean", default: false },
      duration: { type: "string" },
      repeats: { type: "string" },
      warmup: { type: "string" },
      "sse-requests": { type: "string" },
      idle: { type: "string" },
      soak: { type: "string" },
      "soak-only": { type: "boolean", default: false },
      features: { type: "boolean", default: false },
      "no-features": { type: "boolean", default: false },
      workers: { type: "string" },
      redis: { type: "boolean", default: false },
      "no-install": { type: "boolean", default: false },
      "results-dir": { type: "string" },
      "update-docs": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) return null;
  const quick = values.quick;
  const positive = (
    text: string | undefined,
    fallback: number,
    name: string,
  ) => {
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!Number.isInteger(value) || value < 1) {
      throw new TypeError(`Invalid ${name}: "${text}" (a whole number ≥ 1)`);
    }
    return value;
  };
  const options: BenchOptions = {
    quick,
    seconds: values.duration ? parseSeconds(values.duration) : quick ? 1 : 10,
    repeats: positive(values.repeats, quick ? 1 : 3, "--repeats"),
    warmupSeconds: values.warmup ? parseSeconds(values.warmup) : quick ? 1 : 3,
    sseRequests: positive(
      values["sse-requests"],
      quick ? 20 : 200,
      "--sse-requests",
    ),
    idleSeconds: values.idle ? parseSeconds(values.idle) : quick ? 1 : 60,
    sseEvents: quick ? 1_000 : 10_000,
    downloadBytes: (quick ? 8 : 100) * 1024 * 1024,
    soakSeconds: values.soak ? parseSeconds(values.soak) : 0,
    soakOnly: values["soak-only"],
    install: !values["no-install"],
    resultsDir: values["results-dir"] ?? `${ROOT}bench/results`,
    updateDocs: values["update-docs"],
    features: values.features,
    noFeatures: values["no-features"],
    workers: positive(values.workers, 1, "--workers"),
    redis: values.redis,
  };
  if (options.seconds < 1) {
    throw new TypeError("--duration must be at least 1s");
  }
  if (options.soakSeconds > 3600) {
    throw new TypeError("--soak is bounded to 1h");
  }
  if (options.soakOnly && options.soakSeconds === 0) {
    throw new TypeError("--soak-only needs --soak <duration>");
  }
  return options;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

interface Started {
  targets: Target[];
  dbFiles: Record<string, string>;
  upstream: string;
  secretsFile: string;
  keyDb: string;
}

/** Starts every process on free ports and waits until each answers. */
async function startTargets(
  procs: ProcessSet,
  tmp: string,
  nginxBin: string,
  soakOnly: boolean,
): Promise<Started> {
  const env = childEnv();
  const upstream = await startUpstream(procs, tmp, nginxBin);
  const secretsFile = writeSecretsFile(tmp);
  const keyDb = await createClientKey(tmp);
  const targets: Target[] = [{
    id: "direct",
    label: "direct to upstream (nginx `return 200`)",
    baseline: "bare-1",
    base: upstream.base,
    process: upstream.nginx,
    gateway: false,
    deno: false,
  }];
  const dbFiles: Record<string, string> = {};
  const flow = (workers: number): Target => {
    const port = freePort();
    dbFiles[`flow-${workers}`] = `${tmp}/flow-${workers}.db`;
    return {
      id: workers === 1 ? "flow-1" : "flow-2",
      label: `flow-proxy, ${workers} worker${workers === 1 ? "" : "s"}`,
      baseline: workers === 1 ? "bare-1" : "bare-2",
      base: `http://127.0.0.1:${port}`,
      process: procs.spawn(
        flowProxyArgs({
          port,
          upstream: upstream.base,
          secretsFile,
          dir: tmp,
          workers,
          keyDb,
        }),
        { name: `flow-${workers}`, logDir: tmp, cwd: ROOT, env },
      ),
      gateway: true,
      deno: true,
    };
  };
  if (!soakOnly) {
    const nginxPort = freePort();
    const proxyPrefix = `${tmp}/nginx-proxy`;
    const proxyConf = writeConfig(
      proxyPrefix,
      proxyConfig({
        prefix: proxyPrefix,
        port: nginxPort,
        upstreamPort: upstream.port,
        workers: navigator.hardwareConcurrency,
        buildInfo: upstream.buildInfo,
        jwt: fixedJwt(0),
      }),
    );
    targets.push({
      id: "nginx",
      label: "nginx `proxy_pass`, keepalive",
      baseline: "bare-1",
      base: `http://127.0.0.1:${nginxPort}`,
      process: procs.spawn([nginxBin, ...nginxArgs(proxyPrefix, proxyConf)], {
        name: "nginx-proxy",
        logDir: tmp,
      }),
      gateway: true,
      deno: false,
    });
    for (const workers of [1, 2]) {
      const port = freePort();
      targets.push({
        id: workers === 1 ? "bare-1" : "bare-2",
        label: workers === 1
          ? "bare Deno proxy, 1 isolate"
          : "bare Deno proxy, 2 workers + Atomics + JWT",
        baseline: workers === 1 ? "bare-1" : "bare-2",
        base: `http://127.0.0.1:${port}`,
        process: procs.spawn([
          Deno.execPath(),
          "run",
          "-A",
          "--unstable-net",
          "bench/bare_proxy.ts",
          "--port",
          String(port),
          "--upstream",
          upstream.base,
          "--workers",
          String(workers),
        ], { name: `bare-${workers}`, logDir: tmp, cwd: ROOT, env }),
        gateway: true,
        deno: true,
      });
      const floorPort = freePort();
      targets.push({
        id: workers === 1 ? "floor-1" : "floor-2",
        label: `bare Deno proxy + contract minimum, ${
          workers === 1 ? "1 isolate" : "2 workers"
        }`,
        baseline: workers === 1 ? "bare-1" : "bare-2",
        base: `http://127.0.0.1:${floorPort}`,
        process: procs.spawn([
          Deno.execPath(),
          "run",
          "-A",
          "--unstable-net",
          "--unstable-no-legacy-abort",
          "bench/bare_proxy.ts",
          "--port",
          String(floorPort),
          "--upstream",
          upstream.base,
          "--workers",
          String(workers),
          "--contract",
        ], { name: `floor-${workers}`, logDir: tmp, cwd: ROOT, env }),
        gateway: true,
        deno: true,
      });
    }
    targets.push(flow(1));
  }
  targets.push(flow(2));

  await Promise.all(
    targets.map((t) =>
      waitForHttp(t.deno ? `${t.base}/healthz` : `${t.base}${CHAT_PATH}`, {
        timeoutMs: 60_000,
        process: t.process,
        status: 200,
      })
    ),
  );
  // One real request each, so a broken path fails here and not in wrk.
  for (const t of targets) {
    const res = await fetch(`${t.base}${CHAT_PATH}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...clientHeaders() },
      body: "{}",
    });
    const text = await res.text();
    if (res.status !== 200 || !text.includes("chat.completion")) {
      throw new Error(
        `${t.label} answered ${res.status} to a chat request: ${
          text.slice(0, 300)
        }\n${tailOf(t.process.errFile)}`,
      );
    }
  }
  return {
    targets,
    dbFiles,
    upstream: upstream.base,
    secretsFile,
    keyDb,
  };
}

function emptySamples(): Samples {
  return {
    rps: [],
    p50At50: [],
    p99At50: [],
    p50At1: [],
    p99At1: [],
    addedP50At1: [],
    ttfe: [],
    addedTtfe: [],
    cpuUs: [],
    errors: 0,
    requests: 0,
  };
}

interface Context {
  options: BenchOptions;
  script: string;
  ticksPerSecond: number;
  threads: number;
}

async function load(
  ctx: Context,
  t: Target,
  connections: number,
  seconds: number,
): Promise<{ wrk: WrkResult; cpuUs: number }> {
  const pids = processTree(t.process.pid);
  const before = cpuTicks(pids);
  const wrk = await runWrk(`${t.base}${CHAT_PATH}`, {
    script: ctx.script,
    connections,
    threads: connections === 1 ? 1 : ctx.threads,
    seconds,
  });
  const after = cpuTicks(pids);
  const cpuUs = wrk.requests > 0
    ? (after - before) / ctx.ticksPerSecond / wrk.requests * 1e6
    : NaN;
  return { wrk, cpuUs };
}

function sseUrl(t: Target, events: number, gap: number): string {
  return `${t.base}${MESSAGES_PATH}?events=${events}&gap=${gap}`;
}

async function firstEventMedian(t: Target, requests: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < requests; i++) {
    const result = await readSse(sseUrl(t, TTFE_EVENTS, TTFE_GAP_MS));
    if (result.events !== TTFE_EVENTS) {
      throw new Error(
        `${t.label}: SSE response had ${result.events} events, expected ${TTFE_EVENTS}`,
      );
    }
    times.push(result.firstEventMs);
  }
  return median(times);
}

function rotate<T>(items: T[], by: number): T[] {
  const n = by % items.length;
  return items.slice(n).concat(items.slice(0, n));
}

/** Warm-up, then repeats of (50-connection load, 1-connection load, SSE), each round-robin over targets. */
async function measure(
  ctx: Context,
  targets: Target[],
  rss: { start: Map<TargetId, number>; idle: Map<TargetId, number> },
): Promise<
  { samples: Map<TargetId, Samples>; resources: Map<TargetId, Resources> }
> {
  const { options } = ctx;
  const samples = new Map<TargetId, Samples>();
  const resources = new Map<TargetId, Resources>();
  for (const t of targets) {
    samples.set(t.id, emptySamples());
    resources.set(t.id, {
      startRss: rss.start.get(t.id) ?? NaN,
      idleRss: rss.idle.get(t.id) ?? NaN,
      peakRss: NaN,
      afterRss: NaN,
    });
  }
  log(`warming up ${targets.length} targets (${options.warmupSeconds} s each)`);
  for (const t of targets) {
    await load(ctx, t, 50, options.warmupSeconds);
    await firstEventMedian(t, Math.min(20, options.sseRequests));
  }
  for (let r = 0; r < options.repeats; r++) {
    const order = rotate(targets, r);
    log(`repeat ${r + 1}/${options.repeats}: 50 connections`);
    const direct = { p50At1: NaN, ttfe: NaN };
    for (const t of order) {
      const { wrk, cpuUs } = await load(ctx, t, 50, options.seconds);
      const s = samples.get(t.id)!;
      s.rps.push(wrk.rps);
      s.p50At50.push(wrk.p50);
      s.p99At50.push(wrk.p99);
      s.cpuUs.push(cpuUs);
      s.errors += wrk.errors;
      s.requests += wrk.requests;
    }
    log(`repeat ${r + 1}/${options.repeats}: 1 connection`);
    const p50At1 = new Map<TargetId, number>();
    for (const t of order) {
      const { wrk } = await load(ctx, t, 1, options.seconds);
      const s = samples.get(t.id)!;
      s.p50At1.push(wrk.p50);
      s.p99At1.push(wrk.p99);
      s.errors += wrk.errors;
      s.requests += wrk.requests;
      p50At1.set(t.id, wrk.p50);
    }
    direct.p50At1 = p50At1.get("direct")!;
    log(
      `repeat ${
        r + 1
      }/${options.repeats}: time to first SSE event (${options.sseRequests} requests each)`,
    );
    const ttfe = new Map<TargetId, number>();
    for (const t of order) {
      const value = await firstEventMedian(t, options.sseRequests);
      samples.get(t.id)!.ttfe.push(value);
      ttfe.set(t.id, value);
    }
    direct.ttfe = ttfe.get("direct")!;
    for (const t of targets) {
      const s = samples.get(t.id)!;
      s.addedP50At1.push(p50At1.get(t.id)! - direct.p50At1);
      s.addedTtfe.push(ttfe.get(t.id)! - direct.ttfe);
    }
  }
  for (const t of targets) {
    const mem = memory(processTree(t.process.pid));
    const res = resources.get(t.id)!;
    res.peakRss = mem.hwm;
    res.afterRss = mem.rss;
  }
  return { samples, resources };
}

/** Runs `fn` while watching the target's memory: RSS before, peak during, after. */
async function withMemory<T>(
  t: Target,
  settleMs: number,
  fn: () => Promise<T>,
): Promise<{ result: T; before: number; peak: number; after: number }> {
  const pids = processTree(t.process.pid);
  const before = memory(pids).rss;
  const exactPeak = resetPeak(pids);
  let sampled = before;
  const timer = setInterval(() => {
    sampled = Math.max(sampled, memory(pids).rss);
  }, 20);
  let result: T;
  try {
    result = await fn();
  } finally {
    clearInterval(timer);
  }
  const peak = Math.max(sampled, exactPeak ? memory(pids).hwm : 0);
  await sleep(settleMs);
  return { result, before, peak, after: memory(pids).rss };
}

async function streaming(
  options: BenchOptions,
  targets: Target[],
): Promise<StreamRow[]> {
  const rows: StreamRow[] = [];
  const settle = options.quick ? 200 : 1000;
  for (const t of targets.filter((t) => t.gateway)) {
    log(`streaming through ${t.label}`);
    const sse = await withMemory(
      t,
      settle,
      () => readSse(sseUrl(t, options.sseEvents, 0)),
    );
    rows.push({
      target: t,
      test: `SSE, ${options.sseEvents} events`,
      ok: sse.result.events === options.sseEvents,
      detail: `${sse.result.events} events, ${
        fixed(sse.result.totalMs, 0)
      } ms, first after ${fixed(sse.result.firstEventMs, 2)} ms`,
      before: sse.before,
      peak: sse.peak,
      after: sse.after,
    });
    const dl = await withMemory(
      t,
      settle,
      () => download(`${t.base}${FILES_PATH}?size=${options.downloadBytes}`),
    );
    rows.push({
      target: t,
      test: `download, ${mib(options.downloadBytes)} MiB`,
      ok: dl.result.bytes === options.downloadBytes,
      detail: `${mib(dl.result.bytes)} MiB at ${
        fixed(dl.result.bytes / 1024 / 1024 / (dl.result.totalMs / 1000), 0)
      } MiB/s`,
      before: dl.before,
      peak: dl.peak,
      after: dl.after,
    });
  }
  return rows;
}

interface SoakResult {
  seconds: number;
  requests: number;
  errors: number;
  rps: number;
  warmRss: number;
  endRss: number;
  idleRss: number;
  peakRss: number;
  series: number[];
  dbBytes: number;
}

async function soak(
  ctx: Context,
  t: Target,
  seconds: number,
  dbFile: string | undefined,
): Promise<SoakResult> {
  const slice = Math.min(30, Math.max(5, Math.round(seconds / 20)));
  const warmup = Math.max(slice, Math.min(60, seconds * 0.1));
  const pids = processTree(t.process.pid);
  resetPeak(pids);
  let elapsed = 0;
  let requests = 0;
  let errors = 0;
  let warmRss = NaN;
  const series: number[] = [];
  log(`soak: ${seconds} s at 50 connections on ${t.label}, ${slice} s slices`);
  while (elapsed < seconds) {
    const length = Math.min(slice, seconds - elapsed);
    const { wrk } = await load(ctx, t, 50, Math.max(1, length));
    elapsed += Math.max(1, Math.round(length));
    requests += wrk.requests;
    errors += wrk.errors;
    const rss = memory(pids).rss;
    series.push(rss);
    if (Number.isNaN(warmRss) && elapsed >= warmup) warmRss = rss;
  }
  const endRss = series[series.length - 1];
  const peakRss = memory(pids).hwm;
  await sleep(5000);
  let dbBytes = 0;
  for (const suffix of ["", "-wal", "-shm"]) {
    try {
      dbBytes += dbFile ? Deno.statSync(dbFile + suffix).size : 0;
    } catch {
      // No such file.
    }
  }
  return {
    seconds: elapsed,
    requests,
    errors,
    rps: requests / elapsed,
    warmRss: Number.isNaN(warmRss) ? series[0] : warmRss,
    endRss,
    idleRss: memory(pids).rss,
    peakRss,
    series,
    dbBytes,
  };
}

interface Machine {
  date: string;
  uname: string;
  cpu: string;
  cores: number;
  memory: string;
  deno: string;
  nginx: string;
  wrk: string;
  /** flow-proxy's commit, and whether its source had uncommitted changes. */
  commit: string;
}

async function describeMachine(
  tools: Tools,
): Promise<Machine> {
  const cpuinfo = (() => {
    try {
      return Deno.readTextFileSync("/proc/cpuinfo");
    } catch {
      return "";
    }
  })();
  const meminfo = (() => {
    try {
      return Deno.readTextFileSync("/proc/meminfo");
    } catch {
      return "";
    }
  })();
  const memKib = Number(/MemTotal:\s+(\d+)/.exec(meminfo)?.[1] ?? NaN);
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    uname: await commandText("uname", ["-a"]),
    cpu: /model name\s*:\s*(.+)/.exec(cpuinfo)?.[1]?.trim() ?? "unknown",
    cores: navigator.hardwareConcurrency,
    memory: Number.isFinite(memKib)
      ? `${(memKib / 1024 / 1024).toFixed(1)} GiB`
      : "unknown",
    deno: `${Deno.version.deno} (V8 ${Deno.version.v8})`,
    nginx: (await commandText(tools.nginx, ["-v"])).replace(
      /^nginx version: nginx\//,
      "",
    ),
    wrk: (await commandText(tools.wrk, ["-v"])).split("\n")[0].split(" [")[0],
    commit: await describeCommit(),
  };
}

async function describeCommit(): Promise<string> {
  const head = await commandText("git", [
    "-C",
    ROOT,
    "rev-parse",
    "--short",
    "HEAD",
  ]);
  if (!/^[0-9a-f]+$/.test(head)) return "(not a git checkout)";
  const dirty = await commandText("git", [
    "-C",
    ROOT,
    "status",
    "--porcelain",
    "--",
    "main.ts",
    "src",
  ]);
  return `commit ${head}${dirty ? " with uncommitted changes in src/" : ""}`;
}

function renderReport(
  machine: Machine,
  options: BenchOptions,
  targets: Target[],
  measured: {
    samples: Map<TargetId, Samples>;
    resources: Map<TargetId, Resources>;
  } | null,
  stream: StreamRow[],
  soakResult: SoakResult | null,
): string {
  const parts: string[] = [];
  parts.push(`## flow-proxy benchmark, ${machine.date}\n\n`);
  parts.push(
    [
      `- Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memory}; \`${machine.uname}\``,
      `- flow-proxy ${machine.commit}; Deno ${machine.deno}, nginx ${machine.nginx}, ${machine.wrk}`,
      `- Method: wrk POST with a ~300-byte JSON body to \`/v1/chat/completions\` (upstream: nginx \`return 200\` with a ~400-byte completion); ${options.seconds} s per run, ${options.repeats} interleaved repeat${
        options.repeats === 1 ? "" : "s"
      } (round-robin over targets), ${options.warmupSeconds} s warm-up; medians. Time to first SSE event: median of ${options.sseRequests} sequential streaming \`/v1/messages\` requests per repeat (first event at once, then one every ${TTFE_GAP_MS} ms). CPU per request: utime+stime of the target's process tree during the 50-connection run ÷ requests. RSS (whole process tree) a second after start, and idle after ${options.idleSeconds} s without load. "× bare" compares with the bare Deno proxy of the same worker count (1 isolate for nginx and direct).${
        options.quick ? "\n- **Quick run: numbers are only a smoke test.**" : ""
      }`,
      "",
      "",
    ].join("\n"),
  );
  if (measured) {
    const { samples, resources } = measured;
    const m = (id: TargetId, key: keyof Omit<Samples, "errors" | "requests">) =>
      median(samples.get(id)?.[key] ?? []);
    const head = targets.map((t) => {
      const base = t.baseline;
      const gw = t.gateway;
      const res = resources.get(t.id)!;
      return [
        t.label,
        fixed(m(t.id, "rps"), 0),
        ratio(m(t.id, "rps"), m(base, "rps")),
        gw ? signed(m(t.id, "addedP50At1"), 3) : "—",
        gw && t.id !== base
          ? ratio(m(t.id, "addedP50At1"), m(base, "addedP50At1"))
          : "—",
        gw ? signed(m(t.id, "addedTtfe"), 2) : "—",
        gw ? fixed(m(t.id, "cpuUs"), 0) : "—",
        gw && t.id !== base ? ratio(m(t.id, "cpuUs"), m(base, "cpuUs")) : "—",
        mib(res.startRss),
        mib(res.idleRss),
        mib(res.peakRss),
      ];
    });
    parts.push("### Summary\n\n");
    parts.push(table([
      "path",
      "RPS @50",
      "RPS × bare",
      "added p50 @1 (ms)",
      "× bare",
      "added TTFE (ms)",
      "CPU/req (µs)",
      "× bare",
      "RSS at start (MiB)",
      "idle RSS (MiB)",
      "peak RSS (MiB)",
    ], head));
    parts.push("\n### Latency detail\n\n");
    parts.push(table(
      [
        "path",
        "p50 @1 (ms)",
        "p99 @1 (ms)",
        "p50 @50 (ms)",
        "p99 @50 (ms)",
        "TTFE (ms)",
        "process CPU/req (µs)",
        "RSS after load (MiB)",
        "errors / requests",
      ],
      targets.map((t) => {
        const s = samples.get(t.id)!;
        return [
          t.label,
          fixed(m(t.id, "p50At1"), 3),
          fixed(m(t.id, "p99At1"), 3),
          fixed(m(t.id, "p50At50"), 3),
          fixed(m(t.id, "p99At50"), 3),
          fixed(m(t.id, "ttfe"), 2),
          fixed(m(t.id, "cpuUs"), 0),
          mib(resources.get(t.id)!.afterRss),
          `${s.errors} / ${s.requests}`,
        ];
      }),
    ));
    parts.push(
      "\nDirect's CPU and RSS are the upstream nginx's own (it also serves every proxied request); nginx rows sum master and workers.\n",
    );
    parts.push(`\n### Issue #7 targets (this run)\n\n`);
    const checks: string[] = [];
    for (const id of ["flow-1", "flow-2"] as const) {
      const t = targets.find((x) => x.id === id);
      if (!t) continue;
      const base = t.baseline;
      const rpsRatio = m(id, "rps") / m(base, "rps");
      const p50Ratio = m(id, "addedP50At1") / m(base, "addedP50At1");
      const ttfe = m(id, "addedTtfe");
      checks.push(
        `- ${mark(rpsRatio >= 0.9)} ${t.label}: RPS @50 = ${
          fixed(rpsRatio, 2)
        } × bare (target ≥ 0.90)`,
        `- ${mark(p50Ratio <= 1.2)} ${t.label}: added p50 @1 = ${
          fixed(p50Ratio, 2)
        } × bare (target ≤ 1.2)`,
        `- ${mark(ttfe <= 1.5)} ${t.label}: added time to first SSE event = ${
          fixed(ttfe, 2)
        } ms (target ≤ 1.5 ms)`,
      );
    }
    const flow2 = resources.get("flow-2");
    if (flow2) {
      checks.push(
        `- ${
          mark(flow2.idleRss <= 80 * 1024 * 1024)
        } flow-proxy, 2 workers: idle RSS = ${
          mib(flow2.idleRss)
        } MiB (target ≤ 80 MiB)`,
      );
    }
    parts.push(`${checks.join("\n")}\n`);
    parts.push(floorSection(targets, m, resources));
  }
  if (stream.length > 0) {
    parts.push("\n### Streaming (memory of the gateway process)\n\n");
    parts.push(table(
      [
        "path",
        "test",
        "result",
        "RSS before (MiB)",
        "peak (MiB)",
        "after (MiB)",
        "growth (MiB)",
      ],
      stream.map((r) => [
        r.target.label,
        r.test,
        `${r.ok ? "" : "**INCOMPLETE** "}${r.detail}`,
        mib(r.before),
        mib(r.peak),
        mib(r.after),
        signed((r.peak - r.before) / 1024 / 1024, 1),
      ]),
      3,
    ));
    parts.push(
      "\nFlat memory means the growth stays far below the body size (bodies are streamed, not buffered).\n",
    );
  }
  if (soakResult) {
    const growth = (soakResult.endRss - soakResult.warmRss) /
      soakResult.warmRss;
    parts.push(`\n### Soak: flow-proxy, 2 workers, 50 connections\n\n`);
    parts.push(table(["measure", "value"], [
      ["duration", `${soakResult.seconds} s`],
      ["requests (errors)", `${soakResult.requests} (${soakResult.errors})`],
      ["RPS", fixed(soakResult.rps, 0)],
      ["RSS after warm-up", `${mib(soakResult.warmRss)} MiB`],
      ["RSS at end", `${mib(soakResult.endRss)} MiB`],
      ["growth warm-up → end", `${signed(growth * 100, 1)} % (target ≤ 10 %)`],
      ["peak RSS", `${mib(soakResult.peakRss)} MiB`],
      ["RSS 5 s after the load", `${mib(soakResult.idleRss)} MiB`],
      ["SQLite request log size", `${mib(soakResult.dbBytes)} MiB`],
      ["RSS per slice (MiB)", soakResult.series.map((v) => mib(v)).join(", ")],
    ], 2));
    parts.push(
      `\n- ${
        mark(Math.abs(growth) <= 0.1)
      } RSS back within 10 % of its level after warm-up\n`,
    );
  }
  return parts.join("");
}

/**
 * Issue 20's targets: flow-proxy against the contract floor with the same
 * number of workers, as ratios within this run.
 */
function floorSection(
  targets: Target[],
  m: (id: TargetId, key: "rps" | "addedP50At1" | "cpuUs") => number,
  resources: Map<TargetId, Resources>,
): string {
  const pairs = ([["flow-1", "floor-1"], ["flow-2", "floor-2"]] as const)
    .filter(([flow, floor]) =>
      targets.some((t) => t.id === flow) && targets.some((t) => t.id === floor)
    );
  if (pairs.length === 0) return "";
  const rows: string[][] = [];
  const checks: string[] = [];
  for (const [flow, floor] of pairs) {
    const label = targets.find((t) => t.id === flow)!.label;
    const rps = m(flow, "rps") / m(floor, "rps");
    const cpu = m(flow, "cpuUs") / m(floor, "cpuUs");
    const p50 = m(flow, "addedP50At1") / m(floor, "addedP50At1");
    rows.push([
      label,
      `${fixed(m(flow, "rps"), 0)} / ${fixed(m(floor, "rps"), 0)}`,
      `${mark(rps >= 0.9)} ${fixed(rps, 2)}×`,
      `${fixed(m(flow, "cpuUs"), 0)} / ${fixed(m(floor, "cpuUs"), 0)}`,
      `${mark(cpu <= 1.15)} ${fixed(cpu, 2)}×`,
      `${fixed(m(flow, "addedP50At1"), 3)} / ${
        fixed(m(floor, "addedP50At1"), 3)
      }`,
      `${mark(p50 <= 1.15)} ${fixed(p50, 2)}×`,
    ]);
  }
  const flow2 = resources.get("flow-2");
  const floor2 = resources.get("floor-2");
  if (flow2) {
    checks.push(
      `- ${
        mark(flow2.idleRss <= 80 * 1024 * 1024)
      } flow-proxy, 2 workers: idle RSS = ${
        mib(flow2.idleRss)
      } MiB (target ≤ 80 MiB${
        floor2 ? `; the 2-worker floor: ${mib(floor2.idleRss)} MiB` : ""
      })`,
    );
  }
  return `\n### Issue 20 targets: flow-proxy against the contract floor (this run)\n\n${
    table([
      "flow-proxy (every default feature on) / floor, same workers",
      "RPS @50",
      "× floor (≥ 0.90)",
      "CPU/req (µs)",
      "× floor (≤ 1.15)",
      "added p50 @1 (ms)",
      "× floor (≤ 1.15)",
    ], rows)
  }\n${checks.join("\n")}\n`;
}

function mark(ok: boolean): string {
  return ok ? "✅" : "❌";
}

function updateDocs(report: string): void {
  let text: string;
  try {
    text = Deno.readTextFileSync(DOCS_FILE);
  } catch {
    text = `# Benchmarks\n\n${DOCS_BEGIN}\n${DOCS_END}\n`;
  }
  const begin = text.indexOf(DOCS_BEGIN);
  const end = text.indexOf(DOCS_END);
  if (begin < 0 || end < begin) {
    throw new Error(
      `Cannot update ${DOCS_FILE}: the markers ${DOCS_BEGIN} and ${DOCS_END} are missing`,
    );
  }
  const heading = report.replace(/^## /, "### ").replace(/\n### /g, "\n#### ");
  Deno.writeTextFileSync(
    DOCS_FILE,
    `${text.slice(0, begin + DOCS_BEGIN.length)}\n\n${heading}\n${
      text.slice(end)
    }`,
  );
}

function estimateSeconds(options: BenchOptions, targets: number): number {
  const perRepeat = targets *
    (2 * options.seconds + options.sseRequests * 0.05);
  const main = options.soakOnly ? 0 : targets * (options.warmupSeconds + 3) +
    options.repeats * perRepeat + targets * 20;
  // The extras: 3 flow-proxies A/B, then the rewrite and translation scripts.
  const extras = options.soakOnly
    ? 0
    : 3 * (options.warmupSeconds + options.repeats * 2 * options.seconds) + 240;
  const features = options.soakOnly || options.noFeatures
    ? 0
    : 11 * (options.warmupSeconds + options.repeats * 2 * options.seconds) +
      120;
  return 90 + main + extras + features + options.soakSeconds * 1.1;
}

/** Runs the whole benchmark; returns the report text. */
export async function runBench(options: BenchOptions): Promise<string> {
  const tools = await findTools(options.install);
  const machine = await describeMachine(tools);
  const procs = new ProcessSet();
  const tmp = await Deno.makeTempDir({ prefix: "flow-proxy-bench-" });
  const deadlineMs = estimateSeconds(options, 8) * 2000;
  const deadline = setTimeout(async () => {
    write(
      `error: The benchmark ran past its deadline of ${
        Math.round(deadlineMs / 1000)
      } s; stopping every process\n`,
    );
    await procs.stopAll(2000);
    Deno.exit(1);
  }, deadlineMs);
  const onSignal = async () => {
    write("\n[bench] interrupted: stopping every process\n");
    await procs.stopAll(2000);
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    const script = `${tmp}/post.lua`;
    log(`starting targets in ${tmp}`);
    const started = await startTargets(
      procs,
      tmp,
      tools.nginx,
      options.soakOnly,
    );
    // After the start: the script carries the client key made there.
    writeWrkScript(script);
    const ctx: Context = {
      options,
      script,
      ticksPerSecond: await clockTicks(),
      threads: Math.max(1, Math.min(2, navigator.hardwareConcurrency)),
    };
    const targets = started.targets;
    let measured = null;
    let stream: StreamRow[] = [];
    let extras = "";
    if (!options.soakOnly) {
      // Idle first, then streaming on fresh processes: a buffered body
      // would stand out against a small heap, not hide in one grown by load.
      const rssNow = () =>
        new Map(
          targets.map((t) => [t.id, memory(processTree(t.process.pid)).rss]),
        );
      const settle = options.quick ? 200 : 1000;
      await sleep(settle);
      const start = rssNow();
      // V8 gives back what start-up left behind once an isolate has been
      // quiet for a while (its memory reducer, 30-45 s here): idle is after.
      log(`waiting ${options.idleSeconds} s without load for idle RSS`);
      await sleep(Math.max(0, options.idleSeconds * 1000 - settle));
      const idle = rssNow();
      stream = await streaming(options, targets);
      measured = await measure(ctx, targets, { start, idle });
      extras = await runExtras({
        procs,
        tmp,
        upstream: started.upstream,
        secretsFile: started.secretsFile,
        keyDb: started.keyDb,
        script,
        seconds: options.seconds,
        repeats: options.repeats,
        warmupSeconds: options.warmupSeconds,
        ticksPerSecond: ctx.ticksPerSecond,
        redis: options.redis,
        quick: options.quick,
      });
    }
    let soakResult: SoakResult | null = null;
    if (options.soakSeconds > 0) {
      const flow2 = targets.find((t) => t.id === "flow-2")!;
      soakResult = await soak(
        ctx,
        flow2,
        options.soakSeconds,
        started.dbFiles["flow-2"],
      );
    }
    if (!options.soakOnly && !options.noFeatures) {
      // The main targets are done: only the feature variants load the machine now.
      await procs.stopAll();
      extras += `\n${await runFeatures(featureOptions(options))}\n`;
    }
    const report = renderReport(
      machine,
      options,
      targets,
      measured,
      stream,
      soakResult,
    ) + extras;
    Deno.mkdirSync(options.resultsDir, { recursive: true });
    const file = `${options.resultsDir}/${
      machine.date.replace(/[:]/g, "-")
    }.md`;
    Deno.writeTextFileSync(file, `${report}`);
    write(`\n${report}\n`);
    log(`report written to ${file}`);
    if (options.updateDocs) {
      updateDocs(report);
      log(`updated ${DOCS_FILE}`);
    }
    return report;
  } finally {
    clearTimeout(deadline);
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
    await procs.stopAll();
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

/** What the per-feature run takes from the command line. */
function featureOptions(options: BenchOptions): FeatureOptions {
  return {
    workers: options.workers,
    seconds: options.seconds,
    repeats: options.repeats,
    warmupSeconds: options.warmupSeconds,
    install: options.install,
  };
}

/** `--features`: the per-feature table, printed and written to the results directory. */
async function featureRun(options: BenchOptions): Promise<void> {
  const report = await runFeatures(featureOptions(options));
  Deno.mkdirSync(options.resultsDir, { recursive: true });
  const file = `${options.resultsDir}/features-${
    new Date().toISOString().replace(/[:]/g, "-").replace(/\.\d+Z$/, "Z")
  }.md`;
  Deno.writeTextFileSync(file, report);
  write(`\n${report}\n`);
  log(`report written to ${file}`);
}

if (import.meta.main) {
  let options: BenchOptions | null;
  try {
    options = parseBenchArgs(Deno.args);
  } catch (err) {
    write(`error: ${err instanceof Error ? err.message : err}\n\n${HELP}`);
    Deno.exit(2);
  }
  if (options === null) {
    write(HELP);
    Deno.exit(0);
  }
  try {
    if (options.features) await featureRun(options);
    else await runBench(options);
  } catch (err) {
    write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    Deno.exit(1);
  }
}
