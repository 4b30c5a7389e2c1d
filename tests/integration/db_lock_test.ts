/**
 * A write lock on the database held by another process (a `sqlite3` shell,
 * a retention `DELETE … ; VACUUM`) neither fails nor delays keyed requests:
 * only the store worker waits for it, in threaded and `--no-threaded` mode,
 * and writes what it holds (last-used times, request records) once it is gone.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { runCli } from "../support/proxy.ts";
import { startStack } from "../support/stack.ts";
import { holdWriteLock, isWriteLocked } from "../support/sqlite_lock.ts";

/** How long the other process holds the lock: beyond the 1 s touch batching, below the 5 s busy timeout. */
const LOCK_SECONDS = 4;
/** Far above a normal request, far below the busy timeout a request used to wait out. */
const SLOW_REQUEST_MS = 1000;
const MAX_REQUESTS = 40;

async function keysJson(
  db: string,
): Promise<{ name: string; last_used_at: string | null }[]> {
  const out = await runCli(["keys", "list", "--db", db, "--json"]);
  assert.equal(out.code, 0, out.stderr);
  return JSON.parse(out.stdout);
}

/** Rows of the request log for key "ci". */
function loggedRequests(db: string): number {
  const conn = new DatabaseSync(db, { readOnly: true });
  try {
    const row = conn.prepare(
      "SELECT count(*) AS n FROM requests WHERE client = 'ci'",
    ).get() as { n: number };
    return Number(row.n);
  } finally {
    conn.close();
  }
}

async function inFlight(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const match = text.match(/^flow_proxy_in_flight_requests (\d+)$/m);
  assert.ok(match, "the in-flight gauge is exported");
  return Number(match[1]);
}

for (
  const [mode, args] of [
    ["threaded", ["--num-workers", "2"]],
    ["--no-threaded", ["--no-threaded"]],
  ] as const
) {
  Deno.test(`serve (${mode}): keyed requests neither fail nor wait while sqlite3 holds the database's write lock`, async () => {
    const dir = Deno.makeTempDirSync({ prefix: "flow-proxy-lock-" });
    const db = join(dir, "flow-proxy.db");
    const created = await runCli([
      "keys",
      "create",
      "--name",
      "ci",
      "--db",
      db,
      "--json",
    ]);
    assert.equal(created.code, 0, created.stderr);
    const key: string = JSON.parse(created.stdout).key;
    await using stack = await startStack({
      dir,
      args: [...args, "--db", db],
    });
    const call = async () => {
      const started = performance.now();
      const res = await fetch(`${stack.proxy.url}/v1/chat/completions`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          authorization: `Bearer ${key}`,
        },
        body: JSON.stringify({ model: "gpt-4o", messages: [] }),
      });
      const body = await res.text();
      return { status: res.status, body, ms: performance.now() - started };
    };
    assert.equal((await call()).status, 200);

    const { lockedAt, released } = await holdWriteLock(db, LOCK_SECONDS);

    const results: { status: number; body: string; ms: number }[] = [];
    let lastRequestAt = 0;
    // Requests for most of the lock, so that several touch batches and
    // request-log writes fall inside it.
    while (
      results.length < MAX_REQUESTS &&
      performance.now() - lockedAt < (LOCK_SECONDS - 1) * 1000
    ) {
      lastRequestAt = Date.now();
      results.push(await call());
      await new Promise((r) => setTimeout(r, 50));
    }
    const stillLocked = isWriteLocked(db);
    const { success, stderr } = await released;
    assert.ok(success, `sqlite3 committed and exited: ${stderr}`);

    assert.ok(results.length >= 5, `only ${results.length} requests were sent`);
    for (const [i, r] of results.entries()) {
      assert.equal(r.status, 200, `request ${i}: ${r.status} ${r.body}`);
      assert.ok(
        r.ms < SLOW_REQUEST_MS,
        `request ${i} took ${r.ms.toFixed(0)} ms while the database was locked`,
      );
    }

    assert.ok(
      stillLocked,
      "the requests were all sent while the lock was held",
    );

    // Afterwards: nothing left in flight, and the last use written once the lock is gone.
    // Every request's record too: batches wait for the lock rather than being dropped.
    const expectedRecords = results.length + 1;
    let gauge = -1;
    let lastUsed: number | null = null;
    let logged = 0;
    for (let i = 0; i < 100; i++) {
      gauge = await inFlight(stack.proxy.url);
      const record = (await keysJson(db)).find((k) => k.name === "ci");
      lastUsed = record?.last_used_at ? Date.parse(record.last_used_at) : null;
      logged = loggedRequests(db);
      if (
        gauge === 0 && lastUsed !== null && lastUsed >= lastRequestAt &&
        logged >= expectedRecords
      ) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(
      logged,
      expectedRecords,
      "every request is in the request log",
    );
    assert.equal(gauge, 0, "in_flight is back to 0");
    assert.ok(
      lastUsed !== null && lastUsed >= lastRequestAt,
      `last_used_at ${lastUsed} covers the last request at ${lastRequestAt}`,
    );
    const logs = await stack.proxy.settledLogs();
    assert.doesNotMatch(logs, /Internal error/);
  });
}
