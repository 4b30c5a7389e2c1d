/**
 * CPU profile of flow-proxy's hot path: serves on the main thread
 * (`--no-threaded`, so one inspector sees every request) under wrk load, and
 * records a V8 CPU profile through the inspector protocol (Deno 2.9 has no
 * `--cpu-prof`). Writes the `.cpuprofile` (open it in Chrome DevTools) and a
 * markdown summary to bench/results/. With `--heap`, samples allocations
 * instead (collected objects included) and reports bytes per request by
 * function and by stack: a `.heapprofile` and its summary.
 *
 * ```sh
 * deno run -A bench/profile.ts [--duration 10s] [--connections 50]
 * deno run -A bench/profile.ts --checkout /tmp/fp-exp --serve-flags=--no-db
 * deno run -A bench/profile.ts --bare     # the bare Deno proxy, for comparison
 * deno run -A bench/profile.ts --heap     # bytes allocated per request
 * deno run -A bench/profile.ts --summarise bench/results/x.cpuprofile
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import {
  type CpuProfile,
  renderSummary,
  summariseProfile,
} from "./lib/cpuprofile.ts";
import {
  type HeapProfile,
  renderHeapSummary,
  summariseHeap,
} from "./lib/heapprofile.ts";
import { CHAT_PATH } from "./lib/payloads.ts";
import { freePort, ProcessSet, waitForHttp } from "./lib/procs.ts";
import { parseSeconds, write } from "./lib/report.ts";
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

/** A minimal DevTools-protocol client over the inspector's WebSocket. */
class Inspector {
  #socket: WebSocket;
  #next = 1;
  #pending = new Map<number, PromiseWithResolvers<unknown>>();

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    socket.onmessage = (event) => {
      const message = JSON.parse(String(event.data));
      const waiter = this.#pending.get(message.id);
      if (!waiter) return;
      this.#pending.delete(message.id);
      if (message.error) {
        waiter.reject(new Error(`Inspector: ${message.error.message}`));
      } else waiter.resolve(message.result);
    };
  }

  /** Connects to the first target the inspector on `port` lists. */
  static async connect(port: number): Promise<Inspector> {
    const list = await (await fetch(`http://127.0.0.1:${port}/json/list`))
      .json();
    const url = list[0]?.webSocketDebuggerUrl;
    if (!url) throw new Error(`No inspector target on port ${port}`);
    const socket = new WebSocket(url);
    await new Promise((resolve, reject) => {
      socket.onopen = resolve;
      socket.onerror = () => reject(new Error(`Cannot connect to ${url}`));
    });
    return new Inspector(socket);
  }

  /** Sends one command and waits for its result. */
  send<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = this.#next++;
    const waiter = Promise.withResolvers<unknown>();
    this.#pending.set(id, waiter);
    this.#socket.send(JSON.stringify({ id, method, params }));
    return waiter.promise as Promise<T>;
  }

  close(): void {
    this.#socket.close();
  }
}

async function profileRun(values: {
  duration: string;
  warmup: string;
  connections: string;
  interval: string;
  install: boolean;
  out: string;
  checkout: string;
  "serve-flags": string;
  bare: boolean;
  heap: boolean;
  top: string;
}): Promise<void> {
  const tools = await findTools(values.install);
  const procs = new ProcessSet();
  const tmp = await Deno.makeTempDir({ prefix: "flow-proxy-profile-" });
  const seconds = parseSeconds(values.duration);
  const deadline = setTimeout(async () => {
    write("error: The profile run ran past its deadline; stopping\n");
    await procs.stopAll(2000);
    Deno.exit(1);
  }, (seconds + parseSeconds(values.warmup)) * 1000 + 180_000);
  try {
    const upstream = await startUpstream(procs, tmp, tools.nginx);
    const port = freePort();
    const inspectPort = freePort();
    const extra = values["serve-flags"].trim();
    const inspect = `--inspect=127.0.0.1:${inspectPort}`;
    const command = values.bare
      ? [
        Deno.execPath(),
        "run",
        "-A",
        inspect,
        "--unstable-net",
        "bench/bare_proxy.ts",
        "--port",
        String(port),
        "--upstream",
        upstream.base,
      ]
      : [
        ...flowProxyArgs({
          port,
          upstream: upstream.base,
          secretsFile: writeSecretsFile(tmp),
          dir: tmp,
          workers: 0,
          denoFlags: [inspect],
          // Every default feature on: the access check with a client key too.
          keyDb: await createClientKey(tmp),
        }),
        ...(extra ? extra.split(/\s+/) : []),
      ];
    const proxy = procs.spawn(command, {
      name: "profiled",
      logDir: tmp,
      cwd: values.bare ? ROOT : values.checkout,
      env: childEnv(),
    });
    const base = `http://127.0.0.1:${port}`;
    await waitForHttp(`${base}/healthz`, {
      timeoutMs: 60_000,
      process: proxy,
      status: 200,
    });
    const script = `${tmp}/post.lua`;
    writeWrkScript(script);
    const wrkOptions = {
      script,
      connections: Number(values.connections),
      threads: 2,
    };
    log(`warming up for ${values.warmup}`);
    await runWrk(`${base}${CHAT_PATH}`, {
      ...wrkOptions,
      seconds: parseSeconds(values.warmup),
    });
    const inspector = await Inspector.connect(inspectPort);
    const root = values.checkout.endsWith("/")
      ? values.checkout
      : `${values.checkout}/`;
    const measure = async () => {
      log(`profiling ${values.duration} at ${values.connections} connections`);
      const wrk = await runWrk(`${base}${CHAT_PATH}`, {
        ...wrkOptions,
        seconds,
      });
      log(
        `${wrk.requests} requests, ${
          wrk.rps.toFixed(0)
        } RPS, ${wrk.errors} errors (the inspector slows it down)`,
      );
      return wrk.requests;
    };
    let profile: unknown;
    let summary: string;
    try {
      if (values.heap) {
        // Collected objects included: what a request allocates is the cost.
        await inspector.send("HeapProfiler.enable");
        await inspector.send("HeapProfiler.startSampling", {
          samplingInterval: 1024,
          includeObjectsCollectedByMajorGC: true,
          includeObjectsCollectedByMinorGC: true,
        });
        const requests = await measure();
        const heap = (await inspector.send<{ profile: HeapProfile }>(
          "HeapProfiler.stopSampling",
        )).profile;
        profile = heap;
        summary = renderHeapSummary(
          summariseHeap(heap, root),
          requests,
          Number(values.top),
        );
      } else {
        await inspector.send("Profiler.enable");
        await inspector.send("Profiler.setSamplingInterval", {
          interval: Number(values.interval),
        });
        await inspector.send("Profiler.start");
        await measure();
        const cpu = (await inspector.send<{ profile: CpuProfile }>(
          "Profiler.stop",
        )).profile;
        profile = cpu;
        summary = renderSummary(
          summariseProfile(cpu, root),
          Number(values.top),
        );
      }
    } finally {
      inspector.close();
    }
    Deno.mkdirSync(values.out, { recursive: true });
    const stamp = new Date().toISOString().replace(/\.\d+Z$/, "Z").replace(
      /:/g,
      "-",
    );
    const extension = values.heap ? "heapprofile" : "cpuprofile";
    const file = `${values.out}/profile-${stamp}.${extension}`;
    Deno.writeTextFileSync(file, JSON.stringify(profile));
    Deno.writeTextFileSync(`${file.slice(0, -extension.length)}md`, summary);
    write(`\n${summary}\n`);
    log(`profile written to ${file}`);
  } finally {
    clearTimeout(deadline);
    await procs.stopAll();
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      duration: { type: "string", default: "10s" },
      warmup: { type: "string", default: "3s" },
      connections: { type: "string", default: "50" },
      interval: { type: "string", default: "100" },
      "no-install": { type: "boolean", default: false },
      out: { type: "string", default: `${ROOT}bench/results` },
      checkout: { type: "string", default: ROOT },
      "serve-flags": { type: "string", default: "" },
      bare: { type: "boolean", default: false },
      heap: { type: "boolean", default: false },
      summarise: { type: "string" },
      top: { type: "string", default: "25" },
    },
  });
  if (values.summarise) {
    const profile = JSON.parse(Deno.readTextFileSync(values.summarise));
    write(renderSummary(summariseProfile(profile, ROOT), Number(values.top)));
    return Promise.resolve();
  }
  return profileRun({ ...values, install: !values["no-install"] });
}

if (import.meta.main) {
  try {
    await main(Deno.args);
  } catch (err) {
    write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    Deno.exit(1);
  }
}
