/**
 * What each default feature of flow-proxy costs per request, measured
 * in-process on its own code: the same calls the handler makes for one
 * request, in a loop, median µs per request over interleaved rounds. On a
 * shared machine the whole-process A/B of `bench/run.ts --features` cannot
 * separate costs of a few µs from the host's noise; a tight loop on one
 * thread can, and its rounds alternate between features so a burst of load
 * falls on all of them alike.
 *
 *   deno run -A bench/feature_cost.ts                # 15 rounds
 *   deno run -A bench/feature_cost.ts --rounds 30 --calls 4000
 *
 * What is not in it: Deno's own work around each feature (the op that
 * wakes a thread for a message, the write(2) of a batch of log lines), which
 * only the whole-process run sees.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { createSharedState } from "../src/base/shared_state.ts";
import { getLog, logLine, setupLogging } from "../src/base/logging.ts";
import { Metrics } from "../src/observe/metrics.ts";
import { ClientMetrics } from "../src/observe/client_metrics.ts";
import { UsageTap } from "../src/observe/usage_tap.ts";
import { createAccessControl } from "../src/access/access.ts";
import { KeyVerifier } from "../src/access/client_keys.ts";
import { openKeyStore } from "../src/access/key_store.ts";
import { RateLimiter } from "../src/access/rate_limit.ts";
import { BudgetTable } from "../src/access/budget_table.ts";
import { DeadlineWatcher } from "../src/proxy/deadlines.ts";
import { openRequestLog } from "../src/request_log/sqlite_store.ts";
import type { RequestRecord } from "../src/request_log/record.ts";
import { CHAT_COMPLETION, CHAT_REQUEST } from "./lib/payloads.ts";
import { fixed, median, table, write } from "./lib/report.ts";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "15" },
    calls: { type: "string", default: "2000" },
  },
});
const rounds = Number(values.rounds);
const calls = Number(values.calls);

/** A record as the handler fills it for the benchmark's chat request. */
function record(id: string): RequestRecord {
  return {
    id,
    ts: Date.now(),
    client: "bench",
    credential: "primary-1",
    method: "POST",
    path: "/v1/chat/completions",
    model: "gpt-4o",
    upstreamModel: null,
    translation: null,
    status: 200,
    durationMs: 1.234,
    ttftMs: 1.1,
    bytesIn: 300,
    bytesOut: 400,
    tokensIn: 42,
    tokensOut: 24,
    cacheReadTokens: null,
    cacheWriteTokens: null,
    error: null,
    attempts: 1,
    stream: false,
  };
}

/** One feature: `run(i)` does what one request costs it. */
interface Feature {
  name: string;
  what: string;
  run(i: number): void;
}

const dir = Deno.makeTempDirSync({ prefix: "fp-feature-cost-" });
const state = createSharedState();
const features: Feature[] = [];

// The log line: Exchange#log's string, LogTape, the line writer (the write
// itself discarded: that syscall is per batch of lines, not per request).
setupLogging({
  level: "INFO",
  thread: "worker-1",
  write: () => {},
  flushMs: 25,
});
const logger = getLog("proxy");
features.push({
  name: "log",
  what: "INFO line: built, formatted, redacted, queued for the batched write",
  run(i) {
    const line =
      `Using configuration 'primary-1' for POST /v1/chat/completions: 200 in ${
        (1 + i % 7 / 10).toFixed(1)
      } ms [0b0f5c43-2b3e-4f5e-9d0c-${
        String(i).padStart(12, "0")
      }] client 'bench'`;
    // As Exchange#log writes it.
    logLine(logger, "info", line);
  },
});

// The record after creation: batching into 64s and the structured clone
// of each batch (postMessage clones once to send, once to receive), client
// metrics on the supervisor.
const clientMetrics = new ClientMetrics(state.clients);
let batch: RequestRecord[] = [];
features.push({
  name: "record",
  what:
    "record batched, cloned for both thread hops (worker → supervisor → store), client metrics",
  run(i) {
    batch.push(record(`r-${i}`));
    if (batch.length === 64) {
      const arrived = structuredClone(structuredClone(batch));
      clientMetrics.observe(arrived);
      batch = [];
    }
  },
});

// The SQLite insert, on the store worker, per record of a 64-record batch.
const store = openRequestLog(`${dir}/requests.db`);
let pending: RequestRecord[] = [];
features.push({
  name: "sqlite",
  what: "SQLite insert (one transaction per 64 records), store worker",
  run(i) {
    pending.push(record(`s-${i}`));
    if (pending.length === 64) {
      store.write(pending);
      pending = [];
    }
  },
});

const metrics = new Metrics(state.metrics);
const finished = record("m");
features.push({
  name: "metrics",
  what: "in-flight gauge up and down, request counters and histograms",
  run() {
    metrics.inFlight(1);
    metrics.inFlight(-1);
    metrics.observe(finished, 0, { answeredModel: "gpt-4o-2024-08-06" });
  },
});

const completion = new TextEncoder().encode(CHAT_COMPLETION);
features.push({
  name: "usage",
  what: "usage tap over the ~400-byte JSON answer",
  run() {
    const tap = new UsageTap({ kind: "json", startedAt: 0 });
    tap.writeWhole(completion);
    tap.finish();
  },
});

// One client key with a rate limit far above the load, as bench/run.ts has.
const keyStore = openKeyStore(`${dir}/keys.db`);
const key = keyStore.create({ name: "bench", rpm: 1_000_000 }).key;
const access = createAccessControl({
  keys: new KeyVerifier(keyStore.snapshot()),
  requireKey: false,
  limiter: new RateLimiter(state.limits),
  defaultRpm: 0,
  defaultBurst: 0,
  ipFilter: null,
  onUse: () => {},
  budgets: new BudgetTable(state.budgets),
});
const req = new Request("http://127.0.0.1/v1/chat/completions", {
  method: "POST",
  headers: {
    authorization: `Bearer ${key}`,
    "content-type": "application/json",
  },
  body: CHAT_REQUEST,
});
const info = {
  remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 40000 },
} as Deno.ServeHandlerInfo;
features.push({
  name: "access",
  what: "access check: key verified, rate limit taken, budget looked up",
  run() {
    if (access.early(req, info) !== null) throw new Error("Refused early");
    const decision = access(req, info, "gpt-4o-mini", "gpt-4o", {
      bodyBytes: 300,
      inputNanosPerToken: null,
      outputNanosPerToken: null,
    });
    if (!decision.ok) throw new Error(`Refused: ${decision.reason}`);
  },
});

features.push({
  name: "id",
  what: "request id: crypto.randomUUID()",
  run() {
    crypto.randomUUID();
  },
});

const deadlines = new DeadlineWatcher({
  connectTimeout: 10_000,
  headersTimeout: 600_000,
  idleTimeout: 300_000,
});
const abort = () => {};
features.push({
  name: "deadline",
  what: "deadline watch: entry added, headers, removed",
  run() {
    const watch = deadlines.watch(abort, null);
    watch.headersReceived();
    watch.done();
  },
});

try {
  const samples = new Map(features.map((f) => [f.name, [] as number[]]));
  let i = 0;
  for (let r = 0; r < rounds + 2; r++) {
    for (let k = 0; k < features.length; k++) {
      const f = features[(k + r) % features.length];
      const started = performance.now();
      for (let c = 0; c < calls; c++) f.run(i++);
      const us = (performance.now() - started) * 1000 / calls;
      if (r >= 2) samples.get(f.name)!.push(us); // two rounds warm the JIT
    }
  }
  const rows = features.map((f) => {
    const s = samples.get(f.name)!;
    const sorted = [...s].sort((a, b) => a - b);
    return [
      f.name,
      f.what,
      fixed(median(s), 2),
      fixed(sorted[Math.floor(sorted.length * 0.25)], 2),
      fixed(sorted[Math.floor(sorted.length * 0.75)], 2),
    ];
  });
  const total = features.reduce(
    (sum, f) => sum + median(samples.get(f.name)!),
    0,
  );
  write(
    `## Per-feature cost in-process (${rounds} rounds of ${calls} calls, Deno ${Deno.version.deno})\n\n${
      table(
        ["feature", "what one request costs it", "µs", "p25", "p75"],
        rows,
      )
    }\nSum: ${fixed(total, 1)} µs per request.\n`,
  );
} finally {
  deadlines.close();
  await store.close();
  keyStore.close();
  Deno.removeSync(dir, { recursive: true });
}
