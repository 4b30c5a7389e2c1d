/**
 * The request log, assembled in one place: how a finished request's record
 * reaches SQLite and ClickHouse.
 *
 * ```
 * serving thread                     main thread (supervisor)                 stores
 * ───────────────                    ────────────────────────                 ──────
 * handler finish()
 *   → runtime onRecord
 *   → worker.ts batch  ──postMessage──▶ Supervisor onRecords
 *     (64 records or 100 ms)              → RecordPipeline.onRecords
 *                                           → ClientMetrics.observe
 *                                           → RecordQueue.push ──▶ StoreClient.requestLog ──▶ store worker (SQLite)
 *                                             (per sink: ≤500     └▶ ClickHouse sink (HTTP INSERT)
 *                                              records or 1 s,
 *                                              bounded, drops)
 * ```
 * (`--no-threaded`: the runtime's `onRecord` calls the supervisor directly,
 * one record at a time; there is no thread to cross.)
 *
 * Why two batching layers, each with its own job:
 * - **worker → supervisor** (`src/server/worker.ts`) pays for the serving
 *   thread: a `postMessage` clones its payload and wakes the main thread, so
 *   one message per request would be a per-request cost on the hot path. It
 *   is small and short (64 records, 100 ms) so records are not held long in a
 *   thread that may crash.
 * - **queue → store** (`src/request_log/record_queue.ts`) pays for the store:
 *   one SQLite transaction or one ClickHouse INSERT per batch from all
 *   workers together, one write in flight per sink, and a bound so that a
 *   slow or locked store drops and counts records instead of growing memory
 *   or blocking the proxy. Batches from several workers are merged here,
 *   which the first layer cannot do.
 * Removing the first would put a message per request on every worker;
 * removing the second would give every worker's small batch its own write
 * and no back-pressure.
 */
import type { Settings } from "../config/settings.ts";
import { getLog, registerSecrets } from "../base/logging.ts";
import type { ClientMetrics } from "../observe/client_metrics.ts";
import type { Metrics } from "../observe/metrics.ts";
import { createClickHouseSink } from "../request_log/clickhouse.ts";
import type { RequestRecord } from "../request_log/record.ts";
import { RecordQueue, type RecordSink } from "../request_log/record_queue.ts";
import type { StoreClient } from "./store_client.ts";
import { benchOff } from "../base/bench_switches.ts";

/** Options of {@linkcode openRecordPipeline}. */
export interface RecordPipelineOptions {
  /** Counts written, dropped and failed records per store, and the queue depth. */
  metrics: Metrics;
  /** Per-client-key counters, fed from every record. */
  clientMetrics: ClientMetrics;
  /** The store worker's handle (only its request-log sink is used); null without `--db`. */
  store: Pick<StoreClient, "requestLog"> | null;
}

/** Where the supervisor hands every batch of records, and how it is drained at shutdown. */
export interface RecordPipeline {
  /** Takes a batch from any thread; never waits on a store. */
  onRecords(records: RequestRecord[]): void;
  /** Writes what is queued (bounded by `--shutdown-timeout`, at most 10 s) and closes the sinks. */
  close(): Promise<void>;
}

/** Builds the record pipeline of `settings`: client metrics, then one bounded queue in front of the stores. */
export function openRecordPipeline(
  settings: Settings,
  options: RecordPipelineOptions,
): RecordPipeline {
  const { clientMetrics } = options;
  const queue = openRecordQueue(settings, options.metrics, options.store);
  return {
    onRecords(records) {
      clientMetrics.observe(records);
      queue?.push(records);
    },
    close: async () => {
      await queue?.close();
    },
  };
}

/** The request-log stores of the settings behind one bounded queue; null when all are off. */
function openRecordQueue(
  settings: Settings,
  metrics: Metrics,
  store: Pick<StoreClient, "requestLog"> | null,
): RecordQueue | null {
  const log = getLog("records");
  const sinks: RecordSink[] = [];
  // FLOW_PROXY_BENCH_OFF=sqlite (bench/README.md): records reach the supervisor, not SQLite.
  if (store !== null && !benchOff("sqlite")) sinks.push(store.requestLog);
  if (settings.clickhouseUrl) {
    if (settings.clickhousePassword) {
      registerSecrets([settings.clickhousePassword]);
    }
    sinks.push(createClickHouseSink({
      url: settings.clickhouseUrl,
      database: settings.clickhouseDatabase,
      table: settings.clickhouseTable,
      user: settings.clickhouseUser,
      password: settings.clickhousePassword,
      ttlDays: settings.clickhouseTtlDays,
      logger: log,
    }));
  }
  if (sinks.length === 0) return null;
  // The series exist at zero from the start, so alerts see the first drop.
  for (const sink of sinks) metrics.logStore(sink.name, { queueDepth: 0 });
  return new RecordQueue(sinks, {
    capacity: settings.logQueueSize,
    closeTimeoutMs: Math.min(10_000, settings.shutdownTimeout),
    logger: log,
    onEvent: (store, event) => metrics.logStore(store, event),
  });
}
