/**
 * Interleaved A/B runs: several targets measured round-robin (starting one
 * further each repeat), so background load on a shared machine falls on all
 * of them alike and the ratios within one run hold.
 *
 * @module
 */
import { CHAT_PATH } from "./payloads.ts";
import { cpuTicks, processTree, type Spawned } from "./procs.ts";
import { log } from "./stack.ts";
import { runWrk } from "./wrk.ts";

/** One target of an A/B run, and what was measured on it. */
export interface AbRow {
  name: string;
  /** Requests go to `base + CHAT_PATH` (http:// or https://). */
  base: string;
  /** The process whose tree's CPU counts. */
  process: Spawned;
  rps: number[];
  cpuUs: number[];
  p50At1: number[];
  errors: number;
  /** Answers with a status ≥ 400 (a misconfigured target shows here). */
  badStatus: number;
}

/** A row with nothing measured yet. */
export function abRow(name: string, base: string, process: Spawned): AbRow {
  return {
    name,
    base,
    process,
    rps: [],
    cpuUs: [],
    p50At1: [],
    errors: 0,
    badStatus: 0,
  };
}

/** Options of {@linkcode runAb}. */
export interface AbOptions {
  /** wrk's Lua script (bench/lib/wrk.ts). */
  script: string;
  seconds: number;
  repeats: number;
  warmupSeconds: number;
  /** `sysconf(_SC_CLK_TCK)`. */
  ticksPerSecond: number;
  /** Progress lines say this. */
  label: string;
}

/** Warms every row up, then per repeat: wrk at 50 connections (RPS, CPU/req), then at 1 (p50). */
export async function runAb(rows: AbRow[], options: AbOptions): Promise<void> {
  const wrkAt = (r: AbRow, connections: number, seconds: number) =>
    runWrk(`${r.base}${CHAT_PATH}`, {
      script: options.script,
      connections,
      threads: connections === 1 ? 1 : 2,
      seconds,
    });
  log(`${options.label}: warming up ${rows.length} targets`);
  for (const r of rows) {
    const res = await wrkAt(r, 50, options.warmupSeconds);
    if (res.badStatus > 0) {
      throw new Error(
        `${r.name} answered ${res.badStatus} of ${res.requests} requests with an error status`,
      );
    }
  }
  for (let rep = 0; rep < options.repeats; rep++) {
    log(`${options.label}: repeat ${rep + 1}/${options.repeats}`);
    const n = rep % rows.length;
    const order = rows.slice(n).concat(rows.slice(0, n));
    for (const r of order) {
      const pids = processTree(r.process.pid);
      const before = cpuTicks(pids);
      const res = await wrkAt(r, 50, options.seconds);
      const after = cpuTicks(pids);
      r.rps.push(res.rps);
      r.cpuUs.push(
        (after - before) / options.ticksPerSecond / res.requests * 1e6,
      );
      r.errors += res.errors;
      r.badStatus += res.badStatus;
    }
    for (const r of order) {
      const res = await wrkAt(r, 1, options.seconds);
      r.p50At1.push(res.p50);
      r.errors += res.errors;
      r.badStatus += res.badStatus;
    }
  }
}
