import assert from "node:assert/strict";
import {
  CLIENT_WATCH_AFTER_MS,
  type DeadlineOptions,
  type DeadlineReason,
  DeadlineWatcher,
  tcpConnectCheck,
} from "../../src/proxy/deadlines.ts";

// The fake clock only moves when a test moves it, and tests call sweep() by
// hand; the real interval (100 ms) sweeping in between changes nothing.
const CONNECT = 10_000;
const HEADERS = 60_000;
const IDLE = 30_000;

class Clock {
  t = 0;
  now = () => this.t;
  set(ms: number): void {
    this.t = ms;
  }
}

function setup(options: Partial<DeadlineOptions> = {}) {
  const clock = new Clock();
  const watcher = new DeadlineWatcher({
    connectTimeout: CONNECT,
    headersTimeout: HEADERS,
    idleTimeout: IDLE,
    now: clock.now,
    ...options,
  });
  const aborts: DeadlineReason[] = [];
  const watch = () => watcher.watch((reason) => aborts.push(reason));
  return { clock, watcher, aborts, watch };
}

/** Lets promise callbacks (the connect check's continuation) run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

Deno.test("DeadlineWatcher aborts a call without headers at the headers deadline", () => {
  const { clock, watcher, aborts, watch } = setup();
  const w = watch();
  assert.equal(watcher.size, 1);
  clock.set(HEADERS - 1);
  watcher.sweep();
  assert.deepEqual(aborts, []);
  assert.equal(w.expired, null);
  clock.set(HEADERS);
  watcher.sweep();
  assert.deepEqual(aborts, ["headers"]);
  assert.equal(w.expired, "headers");
  assert.equal(watcher.size, 0, "an expired call is forgotten");
  clock.set(HEADERS * 3);
  watcher.sweep();
  assert.deepEqual(aborts, ["headers"], "abort is called once");
  w.done();
});

Deno.test("DeadlineWatcher idle deadline starts at headers and is reset by touch()", () => {
  const { clock, watcher, aborts, watch } = setup();
  const w = watch();
  clock.set(HEADERS - 1);
  w.headersReceived();
  clock.set(HEADERS + 5000);
  watcher.sweep();
  assert.deepEqual(aborts, [], "headers deadline no longer applies");

  let last = HEADERS - 1;
  for (let i = 0; i < 5; i++) {
    clock.set(last + IDLE - 1);
    watcher.sweep();
    assert.deepEqual(aborts, [], `chunk ${i}`);
    w.touch();
    last = clock.t;
  }
  clock.set(last + IDLE - 1);
  watcher.sweep();
  assert.deepEqual(aborts, []);
  clock.set(last + IDLE);
  watcher.sweep();
  assert.deepEqual(aborts, ["idle"]);
  assert.equal(w.expired, "idle");
  w.done();
});

Deno.test("DeadlineWatcher calls slow() once, only for a call that outlives CLIENT_WATCH_AFTER_MS", () => {
  const { clock, watcher } = setup();
  const calls: string[] = [];
  const quick = watcher.watch(() => {}, () => calls.push("quick"));
  const long = watcher.watch(() => {}, () => calls.push("long"));
  const without = watcher.watch(() => {});
  clock.set(CLIENT_WATCH_AFTER_MS - 1);
  watcher.sweep();
  assert.deepEqual(calls, [], "too early");
  quick.done();
  clock.set(CLIENT_WATCH_AFTER_MS);
  watcher.sweep();
  assert.deepEqual(calls, ["long"], "a finished call is not watched");
  clock.set(CLIENT_WATCH_AFTER_MS * 5);
  watcher.sweep();
  assert.deepEqual(calls, ["long"], "at most once");
  long.done();
  without.done();
  watcher.close();
});

Deno.test("DeadlineWatcher runs the connect check only after the connect timeout", async (t) => {
  await t.step("unreachable → aborted with 'connect'", async () => {
    let calls = 0;
    let answer!: (ok: boolean) => void;
    const { clock, watcher, aborts, watch } = setup({
      connectCheck: () => {
        calls++;
        return new Promise<boolean>((resolve) => answer = resolve);
      },
    });
    const w = watch();
    clock.set(CONNECT - 1);
    watcher.sweep();
    assert.equal(calls, 0);
    clock.set(CONNECT);
    watcher.sweep();
    assert.equal(calls, 1);
    clock.set(CONNECT + 1);
    watcher.sweep();
    assert.equal(calls, 1, "one check per call");
    assert.deepEqual(aborts, []);
    answer(false);
    await settle();
    assert.deepEqual(aborts, ["connect"]);
    assert.equal(w.expired, "connect");
    assert.equal(watcher.size, 0);
    w.done();
  });

  await t.step(
    "reachable → the call goes on until the headers deadline",
    async () => {
      const { clock, watcher, aborts, watch } = setup({
        connectCheck: () => Promise.resolve(true),
      });
      const w = watch();
      clock.set(CONNECT);
      watcher.sweep();
      await settle();
      assert.deepEqual(aborts, []);
      assert.equal(watcher.size, 1);
      clock.set(HEADERS);
      watcher.sweep();
      assert.deepEqual(aborts, ["headers"]);
      w.done();
    },
  );

  await t.step("a check that throws counts as unreachable", async () => {
    const { clock, watcher, aborts, watch } = setup({
      connectCheck: () => Promise.reject(new Error("boom")),
    });
    const w = watch();
    clock.set(CONNECT);
    watcher.sweep();
    await settle();
    assert.deepEqual(aborts, ["connect"]);
    w.done();
  });

  await t.step("headers arriving during the check win", async () => {
    let answer!: (ok: boolean) => void;
    const { clock, watcher, aborts, watch } = setup({
      connectCheck: () => new Promise<boolean>((resolve) => answer = resolve),
    });
    const w = watch();
    clock.set(CONNECT);
    watcher.sweep();
    w.headersReceived();
    answer(false);
    await settle();
    assert.deepEqual(aborts, []);
    assert.equal(w.expired, null);
    w.done();
    assert.equal(watcher.size, 0);
  });

  await t.step("a call done during the check is not aborted", async () => {
    let answer!: (ok: boolean) => void;
    const { clock, watcher, aborts, watch } = setup({
      connectCheck: () => new Promise<boolean>((resolve) => answer = resolve),
    });
    const w = watch();
    clock.set(CONNECT);
    watcher.sweep();
    w.done();
    answer(false);
    await settle();
    assert.deepEqual(aborts, []);
  });

  await t.step("the check receives an abort signal", async () => {
    let received: AbortSignal | null = null;
    const { clock, watcher, watch } = setup({
      connectTimeout: 1,
      connectCheck: (signal) => {
        received = signal;
        return Promise.resolve(true);
      },
    });
    const w = watch();
    clock.set(1);
    watcher.sweep();
    await settle();
    assert.ok(received! instanceof AbortSignal);
    w.done();
    // Let the check's own timeout signal run out so no timer is left behind.
    await new Promise<void>((resolve) =>
      received!.aborted
        ? resolve()
        : received!.addEventListener("abort", () => resolve(), { once: true })
    );
  });
});

/**
 * Counts the intervals started and not yet cleared while `fn` runs. The
 * watcher's timer is unref'd, which the leak sanitizer does not report, so
 * the test watches setInterval/clearInterval itself.
 */
async function withIntervalCount(
  fn: (active: () => number) => void | Promise<void>,
): Promise<void> {
  const realSet = globalThis.setInterval;
  const realClear = globalThis.clearInterval;
  type Id = ReturnType<typeof setInterval>;
  const live = new Set<Id>();
  globalThis.setInterval = ((...args: Parameters<typeof setInterval>) => {
    const id = realSet(...args);
    live.add(id);
    return id;
  }) as typeof setInterval;
  globalThis.clearInterval = ((id?: Id) => {
    if (id !== undefined) live.delete(id);
    realClear(id);
  }) as typeof clearInterval;
  try {
    await fn(() => live.size);
  } finally {
    globalThis.setInterval = realSet;
    globalThis.clearInterval = realClear;
    for (const id of live) realClear(id);
  }
}

Deno.test("DeadlineWatcher tracks calls and stops its timer when idle", async (t) => {
  await t.step(
    "one timer for many calls; the first sweep after the last done() stops it",
    async () => {
      await withIntervalCount((active) => {
        const { watcher, watch } = setup();
        assert.equal(active(), 0, "no timer before the first call");
        const a = watch();
        const b = watch();
        const c = watch();
        assert.equal(watcher.size, 3);
        assert.equal(active(), 1, "one timer per watcher, not per call");
        b.done();
        assert.equal(watcher.size, 2);
        b.done();
        assert.equal(watcher.size, 2, "done() twice is harmless");
        a.done();
        assert.equal(active(), 1);
        c.done();
        assert.equal(watcher.size, 0);
        assert.equal(active(), 1, "kept until a sweep finds nothing to watch");
        watcher.sweep();
        assert.equal(active(), 0, "timer stopped");
      });
    },
  );

  await t.step(
    "watching again after done() restarts and stops cleanly",
    async () => {
      await withIntervalCount((active) => {
        const { watcher, watch, aborts, clock } = setup();
        watch().done();
        watcher.sweep();
        assert.equal(active(), 0);
        const w = watch();
        assert.equal(active(), 1);
        clock.set(HEADERS);
        watcher.sweep();
        assert.deepEqual(aborts, ["headers"]);
        assert.equal(active(), 0, "the last expiry stops the timer");
        w.done();
      });
    },
  );

  await t.step("close() forgets every call and stops the timer", async () => {
    await withIntervalCount((active) => {
      const { watcher, watch, aborts, clock } = setup();
      watch();
      watch();
      watcher.close();
      assert.equal(watcher.size, 0);
      assert.equal(active(), 0);
      clock.set(HEADERS * 2);
      watcher.sweep();
      assert.deepEqual(aborts, []);
    });
  });

  await t.step("done() of one call leaves the others watched", () => {
    const { watcher, watch, aborts, clock } = setup();
    const a = watch();
    const b = watch();
    a.done();
    clock.set(HEADERS);
    watcher.sweep();
    assert.deepEqual(aborts, ["headers"]);
    assert.equal(b.expired, "headers");
    assert.equal(a.expired, null);
  });
});

Deno.test("DeadlineWatcher refuses non-positive timeouts", () => {
  for (const key of ["connectTimeout", "headersTimeout", "idleTimeout"]) {
    for (const value of [0, -1, NaN]) {
      assert.throws(
        () =>
          new DeadlineWatcher({
            connectTimeout: 1,
            headersTimeout: 1,
            idleTimeout: 1,
            [key]: value,
          }),
        (err: unknown) =>
          err instanceof RangeError &&
          err.message === `${key} must be positive`,
      );
    }
  }
});

Deno.test("tcpConnectCheck tells an open port from a closed one", async (t) => {
  await t.step("listening port → true", async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    try {
      const check = tcpConnectCheck(
        new URL(`http://127.0.0.1:${listener.addr.port}/base`),
      );
      const accepted = listener.accept();
      assert.equal(await check(new AbortController().signal), true);
      (await accepted).close();
    } finally {
      listener.close();
    }
  });

  await t.step("closed port → false", async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = listener.addr.port;
    listener.close();
    const check = tcpConnectCheck(new URL(`http://127.0.0.1:${port}`));
    assert.equal(await check(new AbortController().signal), false);
  });

  await t.step("an aborted signal → false", async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    try {
      const check = tcpConnectCheck(
        new URL(`http://127.0.0.1:${listener.addr.port}`),
      );
      const accepted = listener.accept();
      assert.equal(await check(AbortSignal.abort()), false);
      // The connection made anyway is closed by the check; drain it here.
      (await accepted).close();
    } finally {
      listener.close();
    }
  });
});
