/**
 * A/B comparison of flow-proxy variants — other checkouts (e.g. git
 * worktrees) or other flags — against the bare Deno proxy, interleaved in one
 * run. Use it to check that a hot-path change pays off before running the
 * whole benchmark.
 *
 * ```sh
 * git worktree add /tmp/fp-exp HEAD   # then edit /tmp/fp-exp/src/…
 * deno run -A bench/compare.ts --workers 1 \
 *   --variant base=. \
 *   --variant exp=/tmp/fp-exp \
 *   --variant "quiet=.::--log-level WARNING --no-db" \
 *   --variant "gc1=.::--v8-flags=--single-threaded-gc"
 * ```
 * A variant is `name=checkout[::extra flags]`: `--v8-flags=…` go to `deno`
 * (after the compile task's own V8 flags, which Deno appends to), every other
 * flag to `serve`. `--workers 0` serves on
 * the main thread (`--no-threaded`); the bare proxy then has 1 isolate.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { CHAT_PATH } from "./lib/payloads.ts";
import {
  clockTicks,
  cpuTicks,
  freePort,
  ProcessSet,
  processTree,
  type Spawned,
  waitForHttp,
} from "./lib/procs.ts";
import {
  fixed,
  median,
  parseSeconds,
  ratio,
  table,
  write,
} from "./lib/report.ts";
import {
  childEnv,
  createClientKey,
  findTools,
  flowProxyArgs,
  log,
  ROOT,
  startUpstream,
  writeSecretsFile,
} from "./lib/stack.ts";
import { runWrk, writeWrkScript } from "./lib/wrk.ts";

/** One flow-proxy to measure. */
export interface Variant {
  name: string;
  /** Checkout whose main.ts is run. */
  dir: string;
  /** Extra `serve` flags. */
  flags: string[];
  /** Extra `deno run` flags (`--v8-flags=…`). */
  denoFlags: string[];
}

/** Parses `name=dir[::flags]`. */
export function parseVariant(text: string): Variant {
  const match = /^([^=]+)=([^:]*)(?:::(.*))?$/.exec(text);
  if (!match) {
    throw new TypeError(
      `Invalid --variant "${text}": expected name=checkout[::flags]`,
    );
  }
  const words = (match[3] ?? "").trim().split(/\s+/).filter(Boolean);
  const isDeno = (w: string) => w.startsWith("--v8-flags=");
  return {
    name: match[1],
    dir: match[2] || ".",
    flags: words.filter((w) => !isDeno(w)),
    denoFlags: words.filter(isDeno),
  };
}

interface Row {
  name: string;
  process: Spawned;
  base: string;
  rps: number[];
  cpuUs: number[];
  p50At1: number[];
  errors: number;
}

async function compare(values: {
  variant: string[];
  workers: string;
  duration: string;
  repeats: string;
  warmup: string;
  install: boolean;
}): Promise<void> {
  const variants = values.variant.map(parseVariant);
  if (variants.length === 0) {
    throw new TypeError("Give at least one --variant name=checkout[::flags]");
  }
  const workers = Number(values.workers);
  const seconds = parseSeconds(values.duration);
  const repeats = Number(values.repeats);
  const tools = await findTools(values.install);
  const procs = new ProcessSet();
  const tmp = await Deno.makeTempDir({ prefix: "flow-proxy-compare-" });
  const budget = (variants.length + 1) *
      (parseSeconds(values.warmup) + repeats * (2 * seconds + 2)) + 180;
  const deadline = setTimeout(async () => {
    write("error: The comparison ran past its deadline; stopping\n");
    await procs.stopAll(2000);
    Deno.exit(1);
  }, budget * 1000);
  try {
    const upstream = await startUpstream(procs, tmp, tools.nginx);
    const secretsFile = writeSecretsFile(tmp);
    // Every default feature on, as in bench/run.ts: the client key too.
    const keyDb = await createClientKey(tmp);
    const env = childEnv();
    const rows: Row[] = [];
    const barePort = freePort();
    rows.push({
      name: `bare Deno proxy (${Math.max(1, workers)} isolate${
        workers > 1 ? "s" : ""
      })`,
      base: `http://127.0.0.1:${barePort}`,
      process: procs.spawn([
        Deno.execPath(),
        "run",
        "-A",
        "--unstable-net",
        "bench/bare_proxy.ts",
        "--port",
        String(barePort),
        "--upstream",
        upstream.base,
        "--workers",
        String(Math.max(1, workers)),
      ], { name: "bare", logDir: tmp, cwd: ROOT, env }),
      rps: [],
      cpuUs: [],
      p50At1: [],
      errors: 0,
    });
    for (const [i, v] of variants.entries()) {
      const port = freePort();
      const dir = `${tmp}/v${i}`;
      Deno.mkdirSync(dir);
      const args = flowProxyArgs({
        port,
        upstream: upstream.base,
        secretsFile,
        dir,
        workers,
        denoFlags: v.denoFlags,
        keyDb,
      });
      rows.push({
        name: v.name,
        base: `http://127.0.0.1:${port}`,
        process: procs.spawn([...args, ...v.flags], {
          name: `variant-${i}`,
          logDir: tmp,
          cwd: v.dir.startsWith("/") ? v.dir : `${ROOT}${v.dir}`,
          env,
        }),
        rps: [],
        cpuUs: [],
        p50At1: [],
        errors: 0,
      });
    }
    await Promise.all(rows.map((r) =>
      waitForHttp(`${r.base}/healthz`, {
        timeoutMs: 60_000,
        process: r.process,
        status: 200,
      })
    ));
    const script = `${tmp}/post.lua`;
    writeWrkScript(script);
    const ticks = await clockTicks();
    const wrkAt = (r: Row, connections: number, s: number) =>
      runWrk(`${r.base}${CHAT_PATH}`, {
        script,
        connections,
        threads: connections === 1 ? 1 : 2,
        seconds: s,
      });
    log(`warming up ${rows.length} targets`);
    for (const r of rows) await wrkAt(r, 50, parseSeconds(values.warmup));
    for (let rep = 0; rep < repeats; rep++) {
      log(`repeat ${rep + 1}/${repeats}`);
      const order = rows.slice(rep % rows.length).concat(
        rows.slice(0, rep % rows.length),
      );
      for (const r of order) {
        const pids = processTree(r.process.pid);
        const before = cpuTicks(pids);
        const res = await wrkAt(r, 50, seconds);
        const after = cpuTicks(pids);
        r.rps.push(res.rps);
        r.cpuUs.push((after - before) / ticks / res.requests * 1e6);
        r.errors += res.errors;
      }
      for (const r of order) {
        const res = await wrkAt(r, 1, seconds);
        r.p50At1.push(res.p50);
        r.errors += res.errors;
      }
    }
    const bare = rows[0];
    const first = rows[1];
    write(`\n${
      table(
        [
          "variant",
          "RPS @50",
          "× bare",
          `× ${first.name}`,
          "CPU/req (µs)",
          "p50 @1 (ms)",
          "errors",
        ],
        rows.map((r) => [
          r.name,
          fixed(median(r.rps), 0),
          ratio(median(r.rps), median(bare.rps)),
          ratio(median(r.rps), median(first.rps)),
          fixed(median(r.cpuUs), 0),
          fixed(median(r.p50At1), 3),
          String(r.errors),
        ]),
      )
    }`);
  } finally {
    clearTimeout(deadline);
    await procs.stopAll();
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      variant: { type: "string", multiple: true, default: [] },
      workers: { type: "string", default: "1" },
      duration: { type: "string", default: "5s" },
      repeats: { type: "string", default: "3" },
      warmup: { type: "string", default: "3s" },
      "no-install": { type: "boolean", default: false },
    },
  });
  try {
    await compare({ ...values, install: !values["no-install"] });
  } catch (err) {
    write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    Deno.exit(1);
  }
}
