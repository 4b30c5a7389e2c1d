import assert from "node:assert/strict";
import {
  type DeadlineReason,
  DeadlineWatcher,
} from "../../src/proxy/deadlines.ts";

const IDLE = 30_000;

Deno.test("DeadlineWatcher idle deadline runs only while a chunk is asked for", async (t) => {
  let now = 0;
  const watcher = new DeadlineWatcher({
    connectTimeout: 10_000,
    headersTimeout: 60_000,
    idleTimeout: IDLE,
    now: () => now,
  });
  const aborts: DeadlineReason[] = [];
  const w = watcher.watch((reason) => aborts.push(reason));
  w.headersReceived();

  await t.step("paused: a client that reads slowly never expires it", () => {
    w.pause();
    now += IDLE * 10;
    watcher.sweep();
    assert.deepEqual(aborts, []);
  });

  await t.step("pull() restarts the clock from the request for a chunk", () => {
    w.pull();
    now += IDLE - 1;
    watcher.sweep();
    assert.deepEqual(aborts, []);
    w.pause();
    now += IDLE * 2;
    watcher.sweep();
    assert.deepEqual(aborts, [], "the chunk arrived in time");
  });

  await t.step(
    "a pending pull that the upstream leaves unanswered expires",
    () => {
      w.pull();
      now += IDLE;
      watcher.sweep();
      assert.deepEqual(aborts, ["idle"]);
      assert.equal(w.expired, "idle");
    },
  );
  w.done();
  watcher.close();
});
