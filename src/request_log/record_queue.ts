/**
 * The supervisor's side of the request log: a bounded queue per sink between
 * the records that workers send and the stores that keep them (SQLite,
 * ClickHouse).
 *
 * The proxy must never wait on a store, so {@linkcode RecordQueue.push} only
 * appends to in-memory arrays: when a sink falls behind its queue fills up and
 * further records for that sink are dropped and counted instead of blocking.
 * Each sink has at most one write in flight, so batches reach a store in the
 * order the records arrived.
 */
import type { RequestRecord } from "./record.ts";
import { getLog } from "../base/logging.ts";
import { describe } from "../base/describe.ts";

/** A store of request records, written in batches. */
export interface RecordSink {
  /** Store name, used in logs and as the metrics label. */
  readonly name: "sqlite" | "clickhouse";
  /** Writes a batch; rejects when the batch is lost (the queue counts a failed write and drops its records). */
  write(batch: RequestRecord[]): Promise<void>;
  /** Releases the store's resources; no write is made afterwards. */
  close(): Promise<void>;
}

/**
 * What a queue reports for one store (the metrics hook). Counts are increments:
 * `written` records stored; `dropped` records lost, whether the queue was full
 * or a write failed; `failed` writes (batches) the sink gave up on, after its
 * own retries. `queueDepth` is a gauge: records held for the store now.
 */
export interface StoreEvents {
  (
    store: "sqlite" | "clickhouse",
    event: {
      written?: number;
      dropped?: number;
      failed?: number;
      queueDepth?: number;
    },
  ): void;
}

/** Where the queue and the sinks report problems (a LogTape logger fits). */
export interface RecordLogger {
  warn(msg: string): void;
  error(msg: string): void;
}

/** Options of {@linkcode RecordQueue}. */
export interface RecordQueueOptions {
  /** Records held per sink (waiting or being written) before new ones are dropped; `settings.logQueueSize`. */
  capacity: number;
  /** Largest batch handed to a sink in one write. Default 500. */
  batchSize?: number;
  /** Longest time a record waits for its batch to fill. Default 1000 ms. */
  flushIntervalMs?: number;
  /**
   * On close, how long to wait for the last records to be written before the
   * sinks are closed anyway (a store that is down must not hold up shutdown).
   * Default 10000 ms.
   */
  closeTimeoutMs?: number;
  /** Counts and depth per store, for metrics. */
  onEvent?: StoreEvents;
  /** Default: the `request-log` logger. */
  logger?: RecordLogger;
  /** Clock for the log rate limit; default `Date.now`. */
  now?: () => number;
}

/** Problems of one kind are logged at most once per this period, per sink. */
const LOG_INTERVAL_MS = 10_000;

interface SinkState {
  sink: RecordSink;
  pending: RequestRecord[];
  /** Records of the batch being written. */
  inFlightCount: number;
  inFlight: Promise<void> | null;
  /** Records accepted so far; with `settled` it tells flush() when to stop. */
  accepted: number;
  /** Records written or lost to a failed write so far. */
  settled: number;
  dropped: number;
  failed: number;
  droppedSinceLog: number;
  lastDropLog: number;
  failedSinceLog: number;
  lastFailLog: number;
}

/** A bounded, batching queue in front of each request-log sink. */
export class RecordQueue {
  #states: SinkState[];
  #capacity: number;
  #batchSize: number;
  #flushIntervalMs: number;
  #closeTimeoutMs: number;
  #onEvent: StoreEvents | undefined;
  #logger: RecordLogger;
  #now: () => number;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #closed = false;
  #sinksClosed = false;
  #closing: Promise<void> | null = null;

  /** Queues for `sinks`; throws `RangeError` for a capacity or batch size below 1. */
  constructor(sinks: RecordSink[], options: RecordQueueOptions) {
    if (!Number.isInteger(options.capacity) || options.capacity < 1) {
      throw new RangeError(
        `Record queue capacity must be a positive integer, got ${options.capacity}`,
      );
    }
    const batchSize = options.batchSize ?? 500;
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new RangeError(
        `Record batch size must be a positive integer, got ${batchSize}`,
      );
    }
    this.#capacity = options.capacity;
    this.#batchSize = batchSize;
    this.#flushIntervalMs = options.flushIntervalMs ?? 1000;
    this.#closeTimeoutMs = options.closeTimeoutMs ?? 10_000;
    this.#onEvent = options.onEvent;
    this.#logger = options.logger ?? defaultLogger();
    this.#now = options.now ?? Date.now;
    this.#states = sinks.map((sink) => ({
      sink,
      pending: [],
      inFlightCount: 0,
      inFlight: null,
      accepted: 0,
      settled: 0,
      dropped: 0,
      failed: 0,
      droppedSinceLog: 0,
      lastDropLog: -Infinity,
      failedSinceLog: 0,
      lastFailLog: -Infinity,
    }));
  }

  /** Queues records for every sink; never blocks and never throws. Overflow is dropped and counted. */
  push(records: RequestRecord[]): void {
    try {
      if (records.length === 0) return;
      for (const state of this.#states) this.#pushTo(state, records);
      if (!this.#closed) this.#schedule();
    } catch (err) {
      // A failure here must not reach a request; the records are lost, say so.
      this.#logger.error(`Cannot queue request records: ${describe(err)}`);
    }
  }

  /** Records held for the busiest sink (waiting or being written). */
  get depth(): number {
    let max = 0;
    for (const state of this.#states) max = Math.max(max, depthOf(state));
    return max;
  }

  /** Records lost, summed over sinks: no room in the queue, a failed write, or pushed after close. */
  get dropped(): number {
    return this.#states.reduce((sum, state) => sum + state.dropped, 0);
  }

  /** Writes (batches) that failed, summed over sinks; their records count in {@linkcode dropped}. */
  get failed(): number {
    return this.#states.reduce((sum, state) => sum + state.failed, 0);
  }

  /** Writes every record pushed before this call; resolves when each has been written or has failed. */
  async flush(): Promise<void> {
    await Promise.all(
      this.#states.map((state) => this.#flushSink(state, state.accepted)),
    );
  }

  /**
   * Flushes (for at most `closeTimeoutMs`), then closes every sink. Records
   * pushed afterwards are dropped. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    this.#clearTimer();
    let timeout: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<boolean>((resolve) => {
      timeout = setTimeout(() => resolve(false), this.#closeTimeoutMs);
    });
    const flushed = await Promise.race([
      this.flush().then(() => true),
      expired,
    ]);
    clearTimeout(timeout);
    if (!flushed) {
      const left = this.#states.reduce((sum, s) => sum + depthOf(s), 0);
      this.#logger.warn(
        `Request log not flushed within ${this.#closeTimeoutMs} ms: ${left} records not written`,
      );
    }
    this.#sinksClosed = true;
    for (const state of this.#states) {
      // A write still in flight (a store that is down, retrying) settles on its
      // own once its sink is closed; records never handed to it are dropped.
      const left = state.pending.length;
      if (left > 0) {
        state.pending = [];
        state.dropped += left;
        this.#emit(state, { dropped: left });
      }
      try {
        await state.sink.close();
      } catch (err) {
        this.#logger.warn(
          `Cannot close request log store ${state.sink.name}: ${describe(err)}`,
        );
      }
    }
  }

  #pushTo(state: SinkState, records: RequestRecord[]): void {
    const room = this.#closed ? 0 : this.#capacity - depthOf(state);
    const take = Math.min(room, records.length);
    for (let i = 0; i < take; i++) state.pending.push(records[i]);
    state.accepted += take;
    const lost = records.length - take;
    if (lost > 0) {
      state.dropped += lost;
      state.droppedSinceLog += lost;
      this.#emit(state, { dropped: lost });
      const now = this.#now();
      if (now - state.lastDropLog >= LOG_INTERVAL_MS) {
        const why = this.#closed
          ? "closed"
          : `full (${this.#capacity} records)`;
        this.#logger.warn(
          `Request log queue for ${state.sink.name} is ${why}: dropped ${state.droppedSinceLog} records`,
        );
        state.lastDropLog = now;
        state.droppedSinceLog = 0;
      }
    } else {
      this.#emit(state, {});
    }
    if (state.pending.length >= this.#batchSize) this.#startWrite(state);
  }

  #schedule(): void {
    if (this.#timer !== null) return;
    if (
      !this.#states.some((s) => s.pending.length > 0 && s.inFlight === null)
    ) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      for (const state of this.#states) this.#startWrite(state);
    }, this.#flushIntervalMs);
  }

  #clearTimer(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #startWrite(state: SinkState): void {
    if (
      state.inFlight !== null || state.pending.length === 0 || this.#sinksClosed
    ) return;
    const batch = state.pending.length <= this.#batchSize
      ? state.pending
      : state.pending.slice(0, this.#batchSize);
    state.pending = batch === state.pending
      ? []
      : state.pending.slice(this.#batchSize);
    state.inFlightCount = batch.length;
    state.inFlight = this.#write(state, batch);
  }

  async #write(state: SinkState, batch: RequestRecord[]): Promise<void> {
    let error: unknown = null;
    try {
      await state.sink.write(batch);
    } catch (err) {
      error = err ?? new Error("Write failed");
    }
    state.inFlight = null;
    state.inFlightCount = 0;
    state.settled += batch.length;
    if (error === null) {
      this.#emit(state, { written: batch.length });
    } else {
      state.failed += 1;
      state.dropped += batch.length;
      state.failedSinceLog += batch.length;
      this.#emit(state, { dropped: batch.length, failed: 1 });
      const now = this.#now();
      if (now - state.lastFailLog >= LOG_INTERVAL_MS) {
        this.#logger.error(
          `Cannot write ${state.failedSinceLog} request records to ${state.sink.name}: ${
            describe(error)
          }`,
        );
        state.lastFailLog = now;
        state.failedSinceLog = 0;
      }
    }
    // A backlog built up during the write: write it now rather than wait for the timer.
    if (state.pending.length > 0) {
      if (this.#closed || state.pending.length >= this.#batchSize) {
        this.#startWrite(state);
      } else this.#schedule();
    }
  }

  async #flushSink(state: SinkState, target: number): Promise<void> {
    while (state.settled < target) {
      if (state.inFlight === null) this.#startWrite(state);
      if (state.inFlight === null) return;
      await state.inFlight;
    }
  }

  #emit(
    state: SinkState,
    event: { written?: number; dropped?: number; failed?: number },
  ): void {
    if (!this.#onEvent) return;
    try {
      this.#onEvent(state.sink.name, { ...event, queueDepth: depthOf(state) });
    } catch {
      // Metrics must not break the log path.
    }
  }
}

function depthOf(state: SinkState): number {
  return state.pending.length + state.inFlightCount;
}

function defaultLogger(): RecordLogger {
  const log = getLog("request-log");
  // Passed as a value so braces in a message are not taken as LogTape placeholders.
  return {
    warn: (msg) => log.warn`${msg}`,
    error: (msg) => log.error`${msg}`,
  };
}
