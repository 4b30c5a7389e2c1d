import assert from "node:assert/strict";
import type { RequestRecord } from "../../src/request_log/record.ts";
import {
  RecordQueue,
  type RecordSink,
} from "../../src/request_log/record_queue.ts";

function record(id: string): RequestRecord {
  return {
    id,
    ts: 1_795_000_000_000,
    client: null,
    credential: "primary",
    method: "POST",
    path: "/v1/messages",
    model: "anthropic.claude-4-5-sonnet",
    status: 200,
    durationMs: 10,
    ttftMs: 5,
    bytesIn: 100,
    bytesOut: 200,
    tokensIn: 1,
    tokensOut: 2,
    cacheReadTokens: null,
    cacheWriteTokens: null,
    error: null,
    attempts: 1,
    stream: false,
  };
}

function records(prefix: string, n: number): RequestRecord[] {
  return Array.from({ length: n }, (_, i) => record(`${prefix}${i + 1}`));
}

/** A sink that records its batches; while held, writes wait until release(). */
class TestSink implements RecordSink {
  readonly name: "sqlite" | "clickhouse";
  batches: string[][] = [];
  closed = false;
  inFlight = 0;
  maxInFlight = 0;
  failWith: Error | null = null;
  #held: boolean;
  #waiting: (() => void)[] = [];
  #onWrite: (() => void)[] = [];

  constructor(
    name: "sqlite" | "clickhouse" = "sqlite",
    options: { held?: boolean } = {},
  ) {
    this.name = name;
    this.#held = options.held ?? false;
  }

  get ids(): string[] {
    return this.batches.flat();
  }

  /** Resolves at the next write call. */
  nextWrite(): Promise<void> {
    return new Promise((resolve) => this.#onWrite.push(resolve));
  }

  release(): void {
    this.#held = false;
    for (const resolve of this.#waiting.splice(0)) resolve();
  }

  async write(batch: RequestRecord[]): Promise<void> {
    this.batches.push(batch.map((r) => r.id));
    for (const resolve of this.#onWrite.splice(0)) resolve();
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.#held) {
        await new Promise<void>((resolve) => this.#waiting.push(resolve));
      } else await Promise.resolve();
      if (this.failWith) throw this.failWith;
    } finally {
      this.inFlight--;
    }
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

function collectLogs() {
  const warnings: string[] = [];
  const errors: string[] = [];
  return {
    warnings,
    errors,
    logger: {
      warn: (m: string) => warnings.push(m),
      error: (m: string) => errors.push(m),
    },
  };
}

Deno.test("RecordQueue.flush() writes every pushed record in order, in batches", async () => {
  const sink = new TestSink();
  const events: { written?: number; queueDepth?: number }[] = [];
  const queue = new RecordQueue([sink], {
    capacity: 100,
    batchSize: 3,
    onEvent: (store, event) => {
      assert.equal(store, "sqlite");
      events.push(event);
    },
  });
  queue.push(records("r", 7));
  assert.equal(queue.depth, 7);
  await queue.flush();
  assert.deepEqual(sink.batches, [["r1", "r2", "r3"], ["r4", "r5", "r6"], [
    "r7",
  ]]);
  assert.equal(queue.depth, 0);
  assert.equal(events.reduce((sum, e) => sum + (e.written ?? 0), 0), 7);
  assert.equal(events.at(-1)?.queueDepth, 0);
  assert.equal(sink.maxInFlight, 1);
  await queue.close();
  assert.equal(sink.closed, true);
});

Deno.test("RecordQueue writes a partial batch after flushIntervalMs without a flush() call", async () => {
  const sink = new TestSink();
  const queue = new RecordQueue([sink], {
    capacity: 100,
    batchSize: 50,
    flushIntervalMs: 5,
  });
  const written = sink.nextWrite();
  queue.push([record("only")]);
  assert.deepEqual(sink.batches, []);
  await written;
  assert.deepEqual(sink.batches, [["only"]]);
  await queue.close();
});

Deno.test("RecordQueue.push() drops and counts overflow without waiting for a stuck sink", async (t) => {
  const sink = new TestSink("clickhouse", { held: true });
  const { warnings, logger } = collectLogs();
  let clock = 0;
  const dropEvents: number[] = [];
  const queue = new RecordQueue([sink], {
    capacity: 5,
    batchSize: 2,
    logger,
    now: () => clock,
    onEvent: (_store, event) => {
      if (event.dropped) dropEvents.push(event.dropped);
    },
  });

  await t.step("records beyond capacity are dropped, the rest kept", () => {
    for (const r of records("r", 8)) queue.push([r]);
    // r1 and r2 are being written (stuck); r3..r5 wait; r6..r8 had no room.
    assert.deepEqual(sink.batches, [["r1", "r2"]]);
    assert.equal(queue.depth, 5);
    assert.equal(queue.dropped, 3);
    assert.deepEqual(dropEvents, [1, 1, 1]);
  });

  await t.step("drops are logged at most once per 10 s", () => {
    assert.equal(warnings.length, 1);
    assert.match(
      warnings[0],
      /queue for clickhouse is full \(5 records\): dropped 1 records/,
    );
    clock += 9_999;
    queue.push([record("x")]);
    assert.equal(warnings.length, 1);
    clock += 1;
    queue.push([record("y")]);
    assert.equal(warnings.length, 2);
    assert.match(warnings[1], /dropped 4 records/);
    assert.equal(queue.dropped, 5);
  });

  await t.step(
    "the kept records are written once the sink recovers",
    async () => {
      sink.release();
      await queue.flush();
      assert.deepEqual(sink.ids, ["r1", "r2", "r3", "r4", "r5"]);
      assert.equal(sink.maxInFlight, 1);
      assert.equal(queue.depth, 0);
      queue.push([record("z")]);
      await queue.flush();
      assert.deepEqual(sink.ids.at(-1), "z");
      assert.equal(queue.dropped, 5);
    },
  );
  await queue.close();
});

Deno.test("RecordQueue keeps each sink's queue separate", async () => {
  const stuck = new TestSink("clickhouse", { held: true });
  const fast = new TestSink("sqlite");
  const queue = new RecordQueue([stuck, fast], {
    capacity: 2,
    batchSize: 1,
    flushIntervalMs: 5,
  });
  const fastWrote = fast.nextWrite();
  queue.push(records("r", 3));
  await fastWrote;
  await Promise.resolve();
  assert.deepEqual(stuck.ids, ["r1"]);
  // The stuck sink's full queue costs the fast sink nothing.
  queue.push([record("r4")]);
  stuck.release();
  await queue.flush();
  assert.deepEqual(fast.ids, ["r1", "r2", "r4"]);
  assert.deepEqual(stuck.ids, ["r1", "r2"]);
  // r3 found both queues full (capacity 2); r4 only the stuck one.
  assert.equal(queue.dropped, 3);
  await queue.close();
});

Deno.test("RecordQueue counts a failed write and goes on with the next batch", async () => {
  const sink = new TestSink();
  sink.failWith = new Error("disk I/O error");
  const { errors, logger } = collectLogs();
  const failed: [number | undefined, number | undefined][] = [];
  const queue = new RecordQueue([sink], {
    capacity: 10,
    batchSize: 2,
    logger,
    onEvent: (_store, event) => {
      if (event.failed) failed.push([event.failed, event.dropped]);
    },
  });
  queue.push(records("a", 3));
  await queue.flush();
  assert.equal(queue.failed, 2);
  assert.equal(queue.dropped, 3);
  assert.deepEqual(failed, [[1, 2], [1, 1]]);
  assert.equal(errors.length, 1);
  assert.match(
    errors[0],
    /Cannot write 2 request records to sqlite: disk I\/O error/,
  );
  sink.failWith = null;
  queue.push([record("b1")]);
  await queue.flush();
  assert.deepEqual(sink.ids, ["a1", "a2", "a3", "b1"]);
  assert.equal(queue.failed, 2);
  assert.equal(queue.dropped, 3);
  await queue.close();
});

Deno.test("RecordQueue.push() never throws, even when a sink or the metrics hook does", async () => {
  const sink: RecordSink = {
    name: "sqlite",
    write() {
      throw new Error("synchronous failure");
    },
    close: () => Promise.resolve(),
  };
  const queue = new RecordQueue([sink], {
    capacity: 10,
    batchSize: 1,
    logger: collectLogs().logger,
    onEvent() {
      throw new Error("metrics broke");
    },
  });
  queue.push([record("a")]);
  await queue.flush();
  assert.equal(queue.failed, 1);
  assert.equal(queue.dropped, 1);
  await queue.close();
});

Deno.test("RecordQueue.close() flushes, closes the sinks and drops later records", async (t) => {
  await t.step("flushes pending records before closing", async () => {
    const sink = new TestSink();
    const queue = new RecordQueue([sink], {
      capacity: 10,
      batchSize: 100,
      flushIntervalMs: 60_000,
    });
    queue.push(records("r", 3));
    await queue.close();
    assert.deepEqual(sink.ids, ["r1", "r2", "r3"]);
    assert.equal(sink.closed, true);
    queue.push([record("late")]);
    assert.equal(queue.dropped, 1);
    assert.deepEqual(sink.ids, ["r1", "r2", "r3"]);
    await queue.close();
  });

  await t.step("gives up on a stuck sink after closeTimeoutMs", async () => {
    const sink = new TestSink("clickhouse", { held: true });
    const { warnings, logger } = collectLogs();
    const queue = new RecordQueue([sink], {
      capacity: 10,
      batchSize: 1,
      closeTimeoutMs: 10,
      logger,
    });
    queue.push(records("r", 3));
    await queue.close();
    assert.equal(sink.closed, true);
    assert.deepEqual(sink.ids, ["r1"]);
    assert.equal(queue.dropped, 2);
    assert.match(
      warnings.join("\n"),
      /not flushed within 10 ms: 3 records not written/,
    );
    sink.release();
  });
});

Deno.test("RecordQueue rejects a capacity below 1", () => {
  assert.throws(() => new RecordQueue([], { capacity: 0 }), RangeError);
});
