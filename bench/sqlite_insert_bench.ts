/**
 * What the SQLite request log costs per record on the store worker: batches
 * of 64 records (a worker's batch) written by `SqliteStore.write`, one
 * transaction each, timed in-process; median of rounds, µs per record.
 *
 *   deno run -A bench/sqlite_insert_bench.ts --rounds 40 --batches 50
 *
 * @module
 */
import { parseArgs } from "node:util";
import { openRequestLog } from "../src/request_log/sqlite_store.ts";
import type { RequestRecord } from "../src/request_log/record.ts";
import { fixed, median, write } from "./lib/report.ts";
import { timeOrderedId } from "../src/proxy/headers.ts";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "30" },
    batches: { type: "string", default: "50" },
    size: { type: "string", default: "64" },
  },
});
const rounds = Number(values.rounds);
const batches = Number(values.batches);
const size = Number(values.size);

function record(i: number): RequestRecord {
  return {
    id: timeOrderedId(Date.now()),
    ts: Date.now(),
    client: "bench",
    credential: `primary-${i % 2 + 1}`,
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
    costNanos: 1234,
    costCurrency: "USD",
  };
}

const dir = Deno.makeTempDirSync({ prefix: "fp-sqlite-bench-" });
try {
  const store = openRequestLog(`${dir}/requests.db`);
  const batch = Array.from({ length: size }, (_, i) => record(i));
  const perRecord: number[] = [];
  for (let r = 0; r < rounds + 3; r++) {
    const started = performance.now();
    for (let b = 0; b < batches; b++) {
      await store.write(
        batch.map((x) => ({ ...x, id: timeOrderedId(Date.now()) })),
      );
    }
    const us = (performance.now() - started) * 1000 / (batches * size);
    if (r >= 3) perRecord.push(us);
  }
  await store.close();
  write(
    `sqlite insert: ${
      fixed(median(perRecord), 2)
    } µs per record (batches of ${size}, median of ${rounds} rounds)\n`,
  );
} finally {
  Deno.removeSync(dir, { recursive: true });
}
