import assert from "node:assert/strict";
import { join } from "node:path";
import type { Logger } from "@logtape/logtape";
import { LogReads } from "../../src/server/log_reads.ts";
import { openRequestLog } from "../../src/request_log/sqlite_store.ts";
import {
  type ClickHouseQueries,
  ClickHouseReadError,
} from "../../src/request_log/clickhouse_queries.ts";
import type { StoredKey } from "../../src/access/client_keys.ts";
import type { Budget } from "../../src/access/budget.ts";
import type { RequestRecord } from "../../src/request_log/record.ts";

const NOW = Date.UTC(2026, 11, 2, 12, 0, 0);
const DAY_START = Date.UTC(2026, 11, 2);
const BUDGET: Budget = {
  period: "day",
  tokens: 1000,
  spendNanos: null,
  maxParallel: null,
};

function key(name: string, owner: string | null = null): StoredKey {
  return {
    name,
    owner,
    budget: BUDGET,
    revokedAt: null,
  } as unknown as StoredKey;
}

function record(client: string, tokens: number): RequestRecord {
  return {
    id: crypto.randomUUID(),
    ts: NOW - 1000,
    client,
    credential: "c",
    method: "POST",
    path: "/v1/chat/completions",
    model: "gpt-4o",
    status: 200,
    durationMs: 1,
    ttftMs: null,
    bytesIn: 1,
    bytesOut: 1,
    tokensIn: tokens,
    tokensOut: 0,
    cacheReadTokens: null,
    cacheWriteTokens: null,
    error: null,
    attempts: 1,
    stream: false,
  };
}

function logger() {
  const lines: string[] = [];
  const log = {
    info: (msg: string) => lines.push(`INFO ${msg}`),
    warn: (msg: string) => lines.push(`WARN ${msg}`),
  } as unknown as Logger;
  return { lines, log };
}

/** ClickHouse stand-in: what every instance spent, or down. */
function fakeClickHouse(state: { down: boolean }): ClickHouseQueries {
  const fail = () =>
    Promise.reject(
      new ClickHouseReadError(
        "Cannot read the request log from ClickHouse at 127.0.0.1:1: connection refused",
      ),
    );
  return {
    where: "127.0.0.1:1",
    usageSummary: fail,
    usageSeries: fail,
    listRequests: fail,
    getRequest: fail,
    usedSince: (client, since) =>
      state.down ? fail() : Promise.resolve({
        tokens: since === DAY_START ? 500 + client.length : -1,
        nanos: 7,
      }),
    usedSinceByClients: (clients, since) =>
      state.down ? fail() : Promise.resolve({
        tokens: since === DAY_START ? 100 * clients.length : -1,
        nanos: 9,
      }),
  };
}

const accounts = {
  ownerBudgets: () => ({
    owners: new Map([["alice", {
      user: "alice",
      userBudget: BUDGET,
      team: null,
      teamBudget: null,
    }]]),
    members: new Map(),
  }),
} as never;

Deno.test("LogReads.seedBudgets takes spend from ClickHouse, and this instance's log with one WARNING while it is down", async () => {
  const dir = await Deno.makeTempDir({ prefix: "flow-proxy-log-reads-" });
  const store = openRequestLog(join(dir, "flow-proxy.db"));
  try {
    await store.write([record("k1", 40), record("a1", 2)]);
    const state = { down: false };
    const { lines, log } = logger();
    const reads = new LogReads({
      requests: () => store,
      clickhouse: fakeClickHouse(state),
      log,
      zone: "UTC",
    });

    const keys = [key("k1"), key("a1", "alice")];
    await reads.seedBudgets(keys, accounts, NOW);
    assert.deepEqual(keys[0].budgetUsed, {
      period: DAY_START,
      tokens: 502,
      nanos: 7,
    });
    assert.equal(keys[1].shared?.[0].used?.tokens, 100);
    assert.deepEqual(lines, []);

    state.down = true;
    for (let i = 0; i < 2; i++) {
      const again = [key("k1"), key("a1", "alice")];
      await reads.seedBudgets(again, accounts, NOW);
      assert.deepEqual(again[0].budgetUsed, {
        period: DAY_START,
        tokens: 40,
        nanos: 0,
      });
      assert.equal(again[1].shared?.[0].used?.tokens, 2);
    }
    assert.equal(lines.length, 1, lines.join("\n"));
    assert.match(
      lines[0],
      /^WARN Budgets seeded from this instance's request log only .*: Cannot read the request log from ClickHouse at 127\.0\.0\.1:1: /,
    );

    state.down = false;
    await reads.seedBudgets([key("k1")], accounts, NOW);
    assert.match(lines[1], /^INFO Budgets are seeded from ClickHouse/);
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("LogReads.usage reads ClickHouse when configured and rejects with its error", async () => {
  const dir = await Deno.makeTempDir({ prefix: "flow-proxy-log-reads-" });
  const store = openRequestLog(join(dir, "flow-proxy.db"));
  try {
    await store.write([record("k1", 40)]);
    const local = new LogReads({
      requests: () => store,
      clickhouse: null,
      log: logger().log,
      zone: "UTC",
    });
    assert.equal((await local.usage(0)).total.requests, 1);
    const remote = new LogReads({
      requests: () => store,
      clickhouse: fakeClickHouse({ down: true }),
      log: logger().log,
      zone: "UTC",
    });
    await assert.rejects(remote.usage(0), ClickHouseReadError);
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});
