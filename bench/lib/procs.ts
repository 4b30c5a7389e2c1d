/**
 * Child processes of the benchmark and what /proc says about them: CPU time
 * of a process tree, resident memory, and a registry that stops every child
 * when the run ends, fails or is interrupted.
 *
 * @module
 */

/** Options of {@linkcode ProcessSet.spawn}. */
export interface SpawnOptions {
  /** Short name used in messages and log file names. */
  name: string;
  /** Directory receiving `<name>.out` and `<name>.err`. */
  logDir: string;
  cwd?: string;
  env?: Record<string, string>;
  /** Signal that asks the process to stop (nginx: SIGQUIT is graceful, SIGTERM fast). */
  stopSignal?: Deno.Signal;
}

/** A started child: its pid is the program's own (the shell `exec`s it). */
export interface Spawned {
  name: string;
  pid: number;
  /** Where the child's stderr goes; read it when something fails. */
  errFile: string;
  outFile: string;
  child: Deno.ChildProcess;
  stopSignal: Deno.Signal;
}

/** Every child the benchmark started, stopped together by {@linkcode ProcessSet.stopAll}. */
export class ProcessSet {
  #children: Spawned[] = [];

  /** Starts `cmd` with stdout and stderr written to files in `options.logDir`. */
  spawn(cmd: string[], options: SpawnOptions): Spawned {
    const base = `${options.logDir}/${options.name}`;
    // The shell redirects to files and then becomes the program, so the pid
    // we measure is the program's and nothing of ours reads its output.
    const child = new Deno.Command("/bin/sh", {
      args: [
        "-c",
        'f=$1; shift; exec "$@" >"$f.out" 2>"$f.err"',
        "sh",
        base,
        ...cmd,
      ],
      cwd: options.cwd,
      env: options.env,
      clearEnv: options.env !== undefined,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const spawned: Spawned = {
      name: options.name,
      pid: child.pid,
      errFile: `${base}.err`,
      outFile: `${base}.out`,
      child,
      stopSignal: options.stopSignal ?? "SIGTERM",
    };
    this.#children.push(spawned);
    return spawned;
  }

  /** Stops one child: its stop signal, then SIGKILL after `graceMs`. */
  async stop(spawned: Spawned, graceMs = 5000): Promise<void> {
    this.#children = this.#children.filter((c) => c !== spawned);
    await stopChild(spawned, graceMs);
  }

  /** Stops every child still running. */
  async stopAll(graceMs = 5000): Promise<void> {
    const children = this.#children;
    this.#children = [];
    await Promise.all(children.map((c) => stopChild(c, graceMs)));
  }
}

async function stopChild(spawned: Spawned, graceMs: number): Promise<void> {
  try {
    spawned.child.kill(spawned.stopSignal);
  } catch {
    // Already gone.
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const killed = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      try {
        spawned.child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
      resolve();
    }, graceMs);
  });
  await Promise.race([spawned.child.status.then(() => {}), killed]);
  clearTimeout(timer);
  await spawned.child.status;
}

/** Reads the tail of a child's stderr, for error messages. */
export function tailOf(path: string, bytes = 2000): string {
  try {
    const text = Deno.readTextFileSync(path);
    return text.length > bytes ? `…${text.slice(-bytes)}` : text;
  } catch {
    return "";
  }
}

/** A port on 127.0.0.1 that was free a moment ago. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Options of {@linkcode waitForHttp}. */
export interface WaitOptions {
  /** Gives up after this long, ms. */
  timeoutMs: number;
  /** When this child exits first, waiting stops with its stderr. */
  process?: Spawned;
  /** Status that means ready; any status when absent. */
  status?: number;
  /** The client to ask with (an HTTPS target's test CA). */
  client?: Deno.HttpClient;
}

/** Polls `url` until it answers (with `options.status`), or throws. */
export async function waitForHttp(
  url: string,
  options: WaitOptions,
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let exited = false;
  options.process?.child.status.then(() => exited = true);
  let last = "no answer";
  while (Date.now() < deadline) {
    if (exited) {
      throw new Error(
        `${options.process?.name} exited before answering on ${url}:\n${
          tailOf(options.process!.errFile)
        }`,
      );
    }
    try {
      const res = await fetch(url, {
        client: options.client,
        signal: AbortSignal.timeout(1000),
      });
      await res.body?.cancel();
      if (options.status === undefined || res.status === options.status) {
        return;
      }
      last = `status ${res.status}`;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const tail = options.process ? `\n${tailOf(options.process.errFile)}` : "";
  throw new Error(
    `Timed out after ${options.timeoutMs} ms waiting for ${url} (${last})${tail}`,
  );
}

/** Clock ticks per second of /proc/<pid>/stat (`getconf CLK_TCK`, nearly always 100). */
export async function clockTicks(): Promise<number> {
  try {
    const out = await new Deno.Command("getconf", { args: ["CLK_TCK"] })
      .output();
    const value = Number(new TextDecoder().decode(out.stdout).trim());
    return value > 0 ? value : 100;
  } catch {
    return 100;
  }
}

interface ProcStat {
  pid: number;
  ppid: number;
  /** The command (or, for a thread, the thread's) name. */
  name: string;
  ticks: number;
}

/** `/proc/<pid>/stat` or `/proc/<pid>/task/<tid>/stat`; null once it has ended. */
function readStat(path: string, pid: number): ProcStat | null {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch {
    return null;
  }
  // The command name may hold spaces and parentheses: fields start after the last ')'.
  const close = text.lastIndexOf(")");
  const fields = text.slice(close + 2).split(" ");
  return {
    pid,
    ppid: Number(fields[1]),
    name: text.slice(text.indexOf("(") + 1, close),
    ticks: Number(fields[11]) + Number(fields[12]),
  };
}

function processStat(pid: number): ProcStat | null {
  return readStat(`/proc/${pid}/stat`, pid);
}

/** User + system CPU ticks of every thread of `pid`, keyed `tid:name`. */
export function threadTicks(pid: number): Map<string, number> {
  const ticks = new Map<string, number>();
  for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
    const stat = readStat(`/proc/${pid}/task/${task.name}/stat`, pid);
    // null: the thread ended between the listing and the read.
    if (stat !== null) ticks.set(`${task.name}:${stat.name}`, stat.ticks);
  }
  return ticks;
}

/** `pid` and all its descendants (nginx: master and workers). */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const stat = processStat(Number(entry.name));
    if (stat === null) continue;
    const list = children.get(stat.ppid) ?? [];
    list.push(stat.pid);
    children.set(stat.ppid, list);
  }
  const tree: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const next = queue.shift()!;
    tree.push(next);
    queue.push(...(children.get(next) ?? []));
  }
  return tree;
}

/** User + system CPU time of the given processes (all their threads), in ticks. */
export function cpuTicks(pids: number[]): number {
  let total = 0;
  for (const pid of pids) total += processStat(pid)?.ticks ?? 0;
  return total;
}

/** Resident memory of the given processes, bytes: now and peak (VmHWM). */
export interface Memory {
  rss: number;
  hwm: number;
}

/** Sums VmRSS and VmHWM over processes; threads share one figure per process. */
export function memory(pids: number[]): Memory {
  let rss = 0;
  let hwm = 0;
  for (const pid of pids) {
    let text: string;
    try {
      text = Deno.readTextFileSync(`/proc/${pid}/status`);
    } catch {
      continue;
    }
    rss += kib(text, "VmRSS") * 1024;
    hwm += kib(text, "VmHWM") * 1024;
  }
  return { rss, hwm };
}

function kib(status: string, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, "m").exec(status);
  return match ? Number(match[1]) : 0;
}

/**
 * Resets the peak-RSS mark of the processes to their current RSS (Linux
 * `clear_refs` value 5); false when the kernel refuses, then peaks must come
 * from sampling.
 */
export function resetPeak(pids: number[]): boolean {
  let ok = true;
  for (const pid of pids) {
    try {
      Deno.writeTextFileSync(`/proc/${pid}/clear_refs`, "5");
    } catch {
      ok = false;
    }
  }
  return ok;
}
