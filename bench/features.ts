/**
 * What each default feature of flow-proxy costs per request: flow-proxy with
 * every default feature on, the same with one feature switched off
 * (`FLOW_PROXY_BENCH_OFF`, src/base/bench_switches.ts — a benchmark-only
 * variable), all of them off, and the contract floor with the same number of
 * workers, measured round-robin in one run. The difference in CPU per
 * request between "all on" and a variant is what that feature costs.
 *
 * ```sh
 * deno run -A bench/run.ts --features                       # 1 worker, 5 s, 5 repeats
 * deno run -A bench/run.ts --features --duration 3s --repeats 2
 * ```
 *
 * @module
 */
import { clockTicks, freePort, ProcessSet, waitForHttp } from "./lib/procs.ts";
import { type AbRow, abRow, runAb } from "./lib/ab.ts";
import { fixed, median, signed, table, write } from "./lib/report.ts";
import {
  childEnv,
  createClientKey,
  findTools,
  flowProxyArgs,
  ROOT,
  startUpstream,
  writeSecretsFile,
} from "./lib/stack.ts";
import { writeWrkScript } from "./lib/wrk.ts";
import {
  BENCH_FEATURES,
  BENCH_OFF_VARIABLE,
  type BenchFeature,
} from "../src/base/bench_switches.ts";

/** Options of {@linkcode runFeatures}. */
export interface FeatureOptions {
  /** Serving workers of every flow-proxy (and the floor's). */
  workers: number;
  /** Length of each wrk run, s. */
  seconds: number;
  repeats: number;
  warmupSeconds: number;
  install: boolean;
}

/** What switching a feature off leaves out, for the table. */
export const FEATURE_LABELS: Record<BenchFeature, string> = {
  log: "INFO log line per request (formatting + LogTape + stderr)",
  record:
    "request record after creation: worker batching, postMessage, client metrics, SQLite insert",
  sqlite: "SQLite insert alone (records still cross to the supervisor)",
  metrics: "metrics (in-flight gauge, counters and histograms)",
  usage: "usage tap on the JSON answer",
  access: "access check (client key, rate limit, budget)",
  id: "request id generation (crypto.randomUUID)",
  deadline: "deadline watch (one entry per upstream call)",
};

interface Row extends AbRow {
  off: string;
}

/** Runs the feature A/B and returns its markdown table. */
export async function runFeatures(options: FeatureOptions): Promise<string> {
  const tools = await findTools(options.install);
  const procs = new ProcessSet();
  const tmp = await Deno.makeTempDir({ prefix: "flow-proxy-features-" });
  const variants: { name: string; off: string }[] = [
    { name: "all on", off: "" },
    ...BENCH_FEATURES.map((f) => ({ name: `${f} off`, off: f })),
    { name: "all off", off: BENCH_FEATURES.join(",") },
  ];
  const count = variants.length + 1;
  const budget = count *
      (options.warmupSeconds + options.repeats * (2 * options.seconds + 2)) +
    240;
  const deadline = setTimeout(async () => {
    write("error: The feature run ran past its deadline; stopping\n");
    await procs.stopAll(2000);
    Deno.exit(1);
  }, budget * 1000);
  try {
    const upstream = await startUpstream(procs, tmp, tools.nginx);
    const secretsFile = writeSecretsFile(tmp);
    const keyDb = await createClientKey(tmp);
    const env = childEnv();
    const rows: Row[] = [];
    const floorPort = freePort();
    rows.push({
      off: "",
      ...abRow(
        `contract floor, ${options.workers} worker(s)`,
        `http://127.0.0.1:${floorPort}`,
        procs.spawn([
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
          String(options.workers),
          "--contract",
        ], { name: "floor", logDir: tmp, cwd: ROOT, env }),
      ),
    });
    for (const [i, v] of variants.entries()) {
      const port = freePort();
      const dir = `${tmp}/v${i}`;
      Deno.mkdirSync(dir);
      rows.push({
        off: v.off,
        ...abRow(
          v.name,
          `http://127.0.0.1:${port}`,
          procs.spawn(
            flowProxyArgs({
              port,
              upstream: upstream.base,
              secretsFile,
              dir,
              workers: options.workers,
              keyDb,
            }),
            {
              name: `features-${i}`,
              logDir: tmp,
              cwd: ROOT,
              env: v.off ? { ...env, [BENCH_OFF_VARIABLE]: v.off } : env,
            },
          ),
        ),
      });
    }
    await Promise.all(rows.map((r) =>
      waitForHttp(`${r.base}/healthz`, {
        timeoutMs: 90_000,
        process: r.process,
        status: 200,
      })
    ));
    const script = `${tmp}/post.lua`;
    writeWrkScript(script);
    await runAb(rows, {
      script,
      seconds: options.seconds,
      repeats: options.repeats,
      warmupSeconds: options.warmupSeconds,
      ticksPerSecond: await clockTicks(),
      label: "features",
    });
    return renderFeatures(rows, options);
  } finally {
    clearTimeout(deadline);
    await procs.stopAll();
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

function renderFeatures(rows: Row[], options: FeatureOptions): string {
  const floor = rows[0];
  const all = rows[1];
  const cpu = (r: Row) => median(r.cpuUs);
  const lines = rows.map((r) => {
    const feature = r.off && !r.off.includes(",")
      ? FEATURE_LABELS[r.off as BenchFeature]
      : r === floor
      ? "the floor: what the contract forces"
      : r === all
      ? "every default feature on"
      : "every switch above off";
    const own = r === floor || r === all ? "—" : signed(cpu(all) - cpu(r), 1);
    return [
      r.name,
      feature,
      fixed(median(r.rps), 0),
      fixed(median(r.rps) / median(all.rps), 2),
      fixed(cpu(r), 1),
      own,
      fixed(median(r.p50At1), 3),
      signed(median(all.p50At1) - median(r.p50At1), 3),
      String(r.errors),
    ];
  });
  return `### Per-feature cost, ${
    new Date().toISOString().replace(/\.\d+Z$/, "Z")
  }\n\nflow-proxy with ${options.workers} worker(s), every default feature on (INFO log line, SQLite request log, metrics, usage tap, a client key with a rate limit, the models file of bench/lib/stack.ts), then one feature off at a time (\`${BENCH_OFF_VARIABLE}\`, bench/README.md); ${options.seconds} s per run, ${options.repeats} interleaved repeats, medians. "Cost" is all-on's CPU per request minus the variant's.\n\n${
    table([
      "variant",
      "what is off",
      "RPS @50",
      "× all on",
      "CPU/req (µs)",
      "cost (µs CPU/req)",
      "p50 @1 (ms)",
      "cost (ms p50 @1)",
      "errors",
    ], lines)
  }`;
}
