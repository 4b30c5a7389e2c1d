import assert from "node:assert/strict";
import { join } from "node:path";
import type { RequestRecord } from "../../src/request_log/record.ts";
import {
  openRequestLog,
  usageSummary,
  usedSince,
  usedSinceByClients,
} from "../../src/request_log/sqlite_store.ts";
import { createClickHouseSink } from "../../src/request_log/clickhouse.ts";
import {
  ClickHouseReadError,
  createClickHouseQueries,
  quoteString,
} from "../../src/request_log/clickhouse_queries.ts";
import { keyOwners } from "../../src/request_log/usage_owners.ts";
import {
  type Cursor,
  formatCursor,
  getRequest,
  listRequests,
  parseCursor,
  type RequestFilter,
  usageSeries,
} from "../../src/request_log/request_queries.ts";
import { openKeyStore } from "../../src/access/key_store.ts";
import { openAccounts } from "../../src/accounts/accounts.ts";
import {
  CLICKHOUSE_TEST_PASSWORD,
  CLICKHOUSE_TEST_USER,
  createClickHouseServer,
  freePort,
} from "../support/clickhouse.ts";

const DAY1 = Date.UTC(2026, 10, 20, 23, 59, 59, 999);
const DAY2 = Date.UTC(2026, 10, 21, 0, 0, 0, 0);

function record(overrides: Partial<RequestRecord> = {}): RequestRecord {
  return {
    id: crypto.randomUUID(),
    ts: DAY1,
    client: null,
    credential: "primary",
    method: "POST",
    path: "/v1/chat/completions",
    model: "gpt-4o",
    status: 200,
    durationMs: 1234.5,
    ttftMs: 87.25,
    bytesIn: 512,
    bytesOut: 2048,
    tokensIn: 100,
    tokensOut: 50,
    cacheReadTokens: null,
    cacheWriteTokens: null,
    error: null,
    attempts: 1,
    stream: true,
    ...overrides,
  };
}

/** Every kind of row the summary tells apart: nulls, failures, prices, odd names, two days. */
function mixedRecords(): RequestRecord[] {
  const usd = { costNanos: 1_500_000, costCurrency: "USD" };
  return [
    record({ client: "alice-laptop", ...usd }),
    record({ client: "alice-laptop", ts: DAY2, cacheReadTokens: 40, ...usd }),
    record({ client: "alice-ci", ts: DAY2 + 10, ...usd }),
    record({
      client: "bob's \\key",
      ts: DAY2 + 20,
      model: "anthropic.claude-4-5-sonnet",
      upstreamModel: "anthropic.claude-4-5-sonnet",
      costNanos: 3,
      costCurrency: "EUR",
    }),
    record({
      client: "bob.key",
      ts: DAY2 + 30,
      model: "claude-sonnet-4-5",
      upstreamModel: "anthropic.claude-4-5-sonnet",
      cacheWriteTokens: 9,
      ...usd,
    }),
    record({ client: "carol-key", ts: DAY2 + 40 }),
    record({
      credential: "backup",
      ts: DAY2 + 50,
      status: 502,
      tokensIn: null,
      tokensOut: null,
      error: "upstream_unreachable",
    }),
    record({
      credential: null,
      ts: DAY2 + 60,
      status: 0,
      model: null,
      upstreamModel: "gpt-4o",
      tokensIn: null,
      tokensOut: null,
      error: "client_cancel",
    }),
    record({ ts: DAY2 + 70, tokensIn: null, tokensOut: null }),
    record({ ts: DAY2 + 80, status: 429, tokensIn: null, tokensOut: 1 }),
    record({ client: "ops-key", ts: DAY2 + 90, model: "gpt-4o-mini" }),
  ];
}

/** The same records in a SQLite log (with key owners and teams) and in a real ClickHouse. */
async function bothLogs(
  records: RequestRecord[],
  fn: (path: string, url: URL) => Promise<void>,
): Promise<void> {
  await using server = await createClickHouseServer();
  await server.start();
  const dir = await Deno.makeTempDir({ prefix: "flow-proxy-chq-" });
  try {
    const path = join(dir, "flow-proxy.db");
    const store = openRequestLog(path);
    await store.write(records);
    await store.close();
    const actor = { name: "cli:test", role: null, address: null };
    {
      using accounts = openAccounts(path, { scrypt: { logN: 10, r: 8, p: 1 } });
      accounts.createTeam("core", actor);
      for (const [name, team] of [["alice", "core"], ["bob", "core"]]) {
        await accounts.createUser({
          name,
          role: "member",
          team,
          password: "correct horse battery",
        }, actor);
      }
      using keys = openKeyStore(path);
      keys.create({ name: "alice-laptop", owner: "alice" });
      keys.create({ name: "alice-ci", owner: "ALICE" });
      keys.create({ name: "bob.key", owner: "bob" });
      keys.create({ name: "carol-key", owner: "carol" });
    }
    const sink = createClickHouseSink({
      url: server.url,
      database: "default",
      table: "requests",
      user: CLICKHOUSE_TEST_USER,
      password: CLICKHOUSE_TEST_PASSWORD,
      retry: { attempts: 1, baseMs: 0 },
    });
    // Two batches, as two instances would write them.
    await sink.write(records.slice(0, 5));
    await sink.write(records.slice(5));
    await sink.close();
    await fn(path, server.url);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function queriesAt(url: URL, table = "requests") {
  return createClickHouseQueries({
    url,
    database: "default",
    table,
    user: CLICKHOUSE_TEST_USER,
    password: CLICKHOUSE_TEST_PASSWORD,
    timeoutMs: 5000,
  });
}

Deno.test("ClickHouseQueries give the SQLite answers for the same records", async (t) => {
  await bothLogs(mixedRecords(), async (path, url) => {
    const clickhouse = queriesAt(url);
    const store = openRequestLog(path);
    try {
      const cases = {
        "everything, with owners": { owners: true },
        "a window": { since: DAY2, until: DAY2 + 45 },
        "some keys": {
          clients: ["alice-laptop", "bob.key", "bob's \\key", "nobody"],
          owners: true,
        },
        "no key at all": { clients: [] },
        "an empty window": { since: DAY2 + 1000 },
      };
      for (const [name, options] of Object.entries(cases)) {
        await t.step(name, async () => {
          const expected = usageSummary(store, options);
          const actual = await clickhouse.usageSummary({
            ...options,
            ownersOf: (keys) => keyOwners(store.database, keys),
          });
          assert.deepEqual(actual, expected);
          if (name.startsWith("everything")) {
            // Guard against two empty answers being equal.
            assert.equal(actual.total.requests, 11);
            assert.equal(actual.total.currency, "mixed");
            assert.ok(actual.byUser.some((u) => u.user === "alice"));
            assert.ok(actual.byTeam.some((u) => u.team === "core"));
          }
        });
      }
      await t.step("the dashboard's usage series", async () => {
        for (const by of ["model", "key", "user", "team"] as const) {
          for (
            const clients of [undefined, ["alice-laptop", "bob's \\key"]]
          ) {
            const options = {
              fromDay: "2026-11-19",
              toDay: "2026-11-22",
              by,
              clients,
            };
            const expected = usageSeries(store.database, options);
            const actual = await clickhouse.usageSeries({
              ...options,
              ownersOf: (keys) => keyOwners(store.database, keys),
            });
            assert.deepEqual(actual, expected, `${by} ${clients}`);
            if (clients === undefined) {
              assert.equal(actual.totals.requests, 11);
              assert.equal(actual.currency, "mixed");
            }
          }
        }
      });
      await t.step(
        "the dashboard's pages of requests and a request by id",
        async () => {
          const ownersOf = (keys: readonly string[]) =>
            keyOwners(store.database, keys);
          // ClickHouse keeps whole milliseconds of duration and TTFT.
          const comparable = (
            items: { duration_ms: number; ttft_ms: number | null }[],
          ) => items.map(({ duration_ms: _d, ttft_ms: _t, ...rest }) => rest);
          const filters: RequestFilter[] = [
            {},
            { clients: ["alice-laptop", "bob's \\key"] },
            { model: "gpt-4o", status: 200 },
            { status: "error" },
            { status: "4xx" },
            { from: DAY2 + 20, to: DAY2 + 61 },
            { upstreamModel: "anthropic.claude-4-5-sonnet" },
            { clients: [] },
          ];
          for (const filter of filters) {
            const want = listRequests(store.database, filter, { limit: 500 });
            // Pages of 3, followed by their cursors, give the same rows.
            const got: typeof want.items = [];
            let cursor: Cursor | null = null;
            for (let page = 0; page < 10; page++) {
              const answer = await clickhouse.listRequests(filter, {
                cursor,
                limit: 3,
              }, ownersOf);
              got.push(...answer.items);
              cursor = answer.next === null
                ? null
                : parseCursor(formatCursor(answer.next));
              if (cursor === null) break;
            }
            assert.deepEqual(
              comparable(got),
              comparable(want.items),
              JSON.stringify(filter),
            );
          }
          assert.equal(
            (await clickhouse.listRequests({}, { limit: 500 }, ownersOf)).items
              .length,
            11,
          );
          const one =
            listRequests(store.database, { model: "claude-sonnet-4-5" }, {
              limit: 1,
            }).items[0];
          const detail = await clickhouse.getRequest(
            one.id,
            undefined,
            ownersOf,
          );
          const local = getRequest(store.database, one.id)!;
          assert.deepEqual(
            { ...detail, duration_ms: 0, ttft_ms: 0 },
            { ...local, duration_ms: 0, ttft_ms: 0 },
          );
          assert.equal(
            await clickhouse.getRequest(one.id, ["other"], ownersOf),
            null,
          );
          assert.equal(
            await clickhouse.getRequest("nope", undefined, ownersOf),
            null,
          );
        },
      );
      await t.step("usedSince and usedSinceByClients", async () => {
        for (const since of [DAY1, DAY2, DAY2 + 25]) {
          for (const client of ["alice-laptop", "bob's \\key", "nobody"]) {
            assert.deepEqual(
              await clickhouse.usedSince(client, since),
              usedSince(store, client, since),
            );
          }
          const clients = [
            "alice-laptop",
            "alice-ci",
            "bob.key",
            "bob's \\key",
          ];
          assert.deepEqual(
            await clickhouse.usedSinceByClients(clients, since),
            usedSinceByClients(store, clients, since),
          );
          assert.deepEqual(
            await clickhouse.usedSinceByClients([], since),
            { tokens: 0, nanos: 0 },
          );
        }
        assert.deepEqual(await clickhouse.usedSince("alice-laptop", DAY1), {
          tokens: 300,
          nanos: 3_000_000,
        });
      });
    } finally {
      await store.close();
    }
  });
});

Deno.test("ClickHouseQueries read a table not created yet as an empty log", async () => {
  await using server = await createClickHouseServer();
  await server.start();
  const summary = await queriesAt(server.url, "never_written").usageSummary({
    owners: true,
  });
  assert.equal(summary.total.requests, 0);
  assert.deepEqual(summary.byKey, []);
  assert.deepEqual(summary.byUser, []);
  assert.deepEqual(
    await queriesAt(server.url, "never_written").usedSince("a", 0),
    { tokens: 0, nanos: 0 },
  );
});

Deno.test("ClickHouseQueries fail with the server's address and never the password", async (t) => {
  await t.step("a server that is down", async () => {
    const port = freePort();
    await assert.rejects(
      queriesAt(new URL(`http://127.0.0.1:${port}/`)).usageSummary(),
      ClickHouseReadError,
    );
    await assert.rejects(
      queriesAt(new URL(`http://127.0.0.1:${port}/`)).usedSince("a", 0),
      (e: Error) => {
        assert.match(
          e.message,
          new RegExp(
            `^Cannot read the request log from ClickHouse at 127\\.0\\.0\\.1:${port}: `,
          ),
        );
        assert.ok(!e.message.includes(CLICKHOUSE_TEST_PASSWORD));
        return true;
      },
    );
  });
  await t.step("a server that does not answer in time", async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const held: Deno.Conn[] = [];
    const accepting = (async () => {
      for await (const conn of listener) held.push(conn);
    })();
    try {
      const { port } = listener.addr as Deno.NetAddr;
      const slow = createClickHouseQueries({
        url: new URL(`http://127.0.0.1:${port}/`),
        database: "default",
        table: "requests",
        user: CLICKHOUSE_TEST_USER,
        password: CLICKHOUSE_TEST_PASSWORD,
        timeoutMs: 200,
      });
      await assert.rejects(slow.usedSince("a", 0), {
        message:
          `Cannot read the request log from ClickHouse at 127.0.0.1:${port}: no answer within 200 ms`,
      });
    } finally {
      listener.close();
      await accepting.catch(() => {});
      for (const conn of held) conn.close();
    }
  });
  await t.step(
    "a wrong password: ClickHouse's refusal, without the password",
    async () => {
      await using server = await createClickHouseServer();
      await server.start();
      const wrong = createClickHouseQueries({
        url: server.url,
        database: "default",
        table: "requests",
        user: CLICKHOUSE_TEST_USER,
        password: "wrong-password-123",
      });
      await assert.rejects(wrong.usageSummary(), (e: Error) => {
        assert.ok(e instanceof ClickHouseReadError);
        assert.match(
          e.message,
          /^Cannot read the request log from ClickHouse at 127\.0\.0\.1:\d+: HTTP \d+: /,
        );
        assert.ok(!e.message.includes("wrong-password-123"), e.message);
        return true;
      });
    },
  );
});

Deno.test("quoteString escapes what ends a ClickHouse string literal", () => {
  assert.equal(quoteString(`it's \\ here`), `'it\\'s \\\\ here'`);
});

Deno.test("createClickHouseQueries rejects names that are not identifiers", () => {
  assert.throws(
    () =>
      createClickHouseQueries({
        url: new URL("http://127.0.0.1:1/"),
        database: "default",
        table: "t; DROP TABLE x",
        user: null,
        password: null,
      }),
    TypeError,
  );
});
