/**
 * Where flow-proxy's CPU goes, thread by thread: starts the benchmark's
 * upstream and flow-proxy with every default feature on (bench/lib/stack.ts),
 * loads it with wrk at 50 connections, and reads each thread's user + system
 * time from `/proc/<pid>/task/<tid>/stat` before and after. Prints CPU per
 * request for every thread that ran: the serving workers, the store worker,
 * the supervisor (`deno`, the main thread), V8's helper threads (garbage
 * collection, compilation) and Tokio's.
 *
 * ```sh
 * deno run -A bench/threads.ts                  # 1 worker, 10 s
 * deno run -A bench/threads.ts --workers 2 --duration 20s
 * deno run -A bench/threads.ts -- --no-db       # extra flags go to serve
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import {
  clockTicks,
  freePort,
  ProcessSet,
  threadTicks,
  waitForHttp,
} from "./lib/procs.ts";
import { fixed, parseSeconds, table, write } from "./lib/report.ts";
import {
  childEnv,
  createClientKey,
  findTools,
  flowProxyArgs,
  ROOT,
  startUpstream,
  writeSecretsFile,
} from "./lib/stack.ts";
import { runWrk, writeWrkScript } from "./lib/wrk.ts";
import { CHAT_PATH } from "./lib/payloads.ts";

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    options: {
      workers: { type: "string", default: "1" },
      duration: { type: "string", default: "10s" },
    },
    allowPositionals: true,
  });
  const workers = Number(values.workers);
  if (!Number.isInteger(workers) || workers < 0 || workers > 16) {
    throw new TypeError(`--workers must be 0–16, got "${values.workers}"`);
  }
  const duration = parseSeconds(values.duration!);
  if (duration < 1) throw new TypeError("--duration must be at least 1s");
  const procs = new ProcessSet();
  const tmp = Deno.makeTempDirSync({ prefix: "flow-proxy-threads-" });
  try {
    const tools = await findTools(false);
    const upstream = await startUpstream(procs, tmp, tools.nginx);
    const secretsFile = writeSecretsFile(tmp);
    const keyDb = await createClientKey(tmp);
    const port = freePort();
    const args = flowProxyArgs({
      port,
      upstream: upstream.base,
      secretsFile,
      dir: tmp,
      workers,
      keyDb,
    });
    const proxy = procs.spawn([...args, ...positionals], {
      name: "flow-proxy",
      logDir: tmp,
      cwd: ROOT,
      env: childEnv(),
    });
    await waitForHttp(`http://127.0.0.1:${port}/healthz`, {
      timeoutMs: 60_000,
      process: proxy,
      status: 200,
    });
    const script = `${tmp}/post.lua`;
    writeWrkScript(script);
    const url = `http://127.0.0.1:${port}${CHAT_PATH}`;
    const load = { script, connections: 50, threads: 2 };
    await runWrk(url, { ...load, seconds: 3 }); // warm-up
    const before = threadTicks(proxy.pid);
    const result = await runWrk(url, { ...load, seconds: duration });
    const after = threadTicks(proxy.pid);
    if (result.errors > 0) {
      throw new Error(`${result.errors} requests failed; see ${proxy.errFile}`);
    }
    const hz = await clockTicks();
    const perRequest = (ticks: number) => (ticks * 1e6 / hz) / result.requests;
    const rows = [...after].map(([thread, ticks]) =>
      [thread, ticks - (before.get(thread) ?? 0)] as const
    ).filter(([, ticks]) => ticks > 0).sort((a, b) => b[1] - a[1]);
    const total = rows.reduce((sum, [, ticks]) => sum + ticks, 0);
    write(
      `flow-proxy, ${workers} worker(s): ${fixed(result.rps, 0)} RPS at 50 ` +
        `connections, ${result.requests} requests\n\n` +
        table(["thread (tid:name)", "CPU/req (µs)", "share"], [
          ...rows.map(([thread, ticks]) => [
            thread,
            fixed(perRequest(ticks), 1),
            `${fixed(100 * ticks / total, 0)} %`,
          ]),
          ["all", fixed(perRequest(total), 1), "100 %"],
        ]),
    );
  } finally {
    await procs.stopAll();
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}
