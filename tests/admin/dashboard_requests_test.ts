import assert from "node:assert/strict";
import {
  ADMIN_TOKEN,
  type DashboardFixture,
  dashboardFixture,
  record,
} from "./dashboard_fixture.ts";
import type { RequestRecord } from "../../src/request_log/record.ts";
import { ROLES } from "../../src/accounts/permissions.ts";

const DAY = 86_400_000;

/**
 * Keys `k-member` (u-member's), `k-other` (u-other's) and `k-free`
 * (nobody's), and 260 requests over the last ten days with every kind of
 * field, some sharing a timestamp (the cursor must still not skip or repeat).
 */
async function populate(f: DashboardFixture): Promise<RequestRecord[]> {
  f.keys.create({ name: "k-member", owner: "u-member" });
  f.keys.create({ name: "k-other", owner: "u-other" });
  f.keys.create({ name: "k-free" });
  const records: RequestRecord[] = [];
  const keys = ["k-member", "k-other", "k-free", null];
  const models = ["gpt-4o", "claude-sonnet", "=cmd|' /C calc'!A0"];
  for (let i = 0; i < 260; i++) {
    const failed = i % 13 === 0;
    records.push(record({
      id: `req-${String(i).padStart(3, "0")}`,
      // Pairs of requests share a millisecond.
      ts: f.clock.now - 10 * DAY + Math.floor(i / 2) * 6_000_000,
      client: keys[i % 4],
      model: models[i % 3],
      upstreamModel: i % 3 === 1 ? "flow-claude" : null,
      status: failed ? 502 : i % 17 === 0 ? 429 : 200,
      error: failed ? "upstream_5xx" : null,
      translation: i % 5 === 0 ? "messages->chat" : null,
      rewrite: i % 7 === 0 ? "max_tokens,tools" : null,
      costNanos: i % 2 === 0 ? 1_500_000 : null,
      costCurrency: i % 2 === 0 ? "USD" : null,
      attempts: failed ? 2 : 1,
      attemptLog: failed
        ? [
          { credential: "primary", status: 401, error: "auth", durationMs: 5 },
          { credential: "backup", status: 502, error: null, durationMs: 9 },
        ]
        : null,
    }));
  }
  await f.write(records);
  f.reloadKeys();
  return records;
}

/** Every id of the list at `query`, page by page, checking order and page size. */
async function allPages(
  f: DashboardFixture,
  query: string,
  bearer = ADMIN_TOKEN,
  limit = 37,
): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 100; pages++) {
    const sep = query === "" ? "" : "&";
    const res = await f.call(
      `requests?${query}${sep}limit=${limit}${
        cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""
      }`,
      { bearer },
    );
    const body = await res.json();
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.ok(body.items.length <= limit);
    ids.push(...body.items.map((i: { id: string }) => i.id));
    cursor = body.next_cursor;
    if (cursor === null) return ids;
    assert.equal(body.items.length, limit);
  }
  throw new Error("More than 100 pages");
}

/** The ids of `records` that `keep` holds for, newest first (ties: later insert first). */
function expected(
  records: RequestRecord[],
  keep: (r: RequestRecord) => boolean,
): string[] {
  return records.map((r, i) => ({ r, i })).filter(({ r }) => keep(r))
    .sort((a, b) => b.r.ts - a.r.ts || b.i - a.i).map(({ r }) => r.id);
}

Deno.test("GET requests: keyset pages cover every row once, newest first, under each filter", async (t) => {
  await using f = await dashboardFixture();
  const records = await populate(f);
  const cases: [string, (r: RequestRecord) => boolean][] = [
    ["", () => true],
    ["key=k-other", (r) => r.client === "k-other"],
    ["user=u-member", (r) => r.client === "k-member"],
    ["model=gpt-4o", (r) => r.model === "gpt-4o"],
    ["upstream_model=flow-claude", (r) => r.upstreamModel === "flow-claude"],
    ["status=200", (r) => r.status === 200],
    ["status=429", (r) => r.status === 429],
    ["status=5xx", (r) => r.status >= 500],
    ["status=4xx", (r) => r.status >= 400 && r.status < 500],
    ["status=error", (r) => r.error !== null],
    ["error=upstream_5xx", (r) => r.error === "upstream_5xx"],
    ["translation=messages-%3Echat", (r) => r.translation === "messages->chat"],
    ["translation=none", (r) => !r.translation],
    ["rewrite=tools", (r) => r.rewrite === "max_tokens,tools"],
    ["rewrite=none", (r) => !r.rewrite],
    ["id=req-042", (r) => r.id === "req-042"],
    [
      `from=${new Date(f.clock.now - 5 * DAY).toISOString()}&to=${
        f.clock.now - 2 * DAY
      }`,
      (r) => r.ts >= f.clock.now - 5 * DAY && r.ts < f.clock.now - 2 * DAY,
    ],
    [
      "key=k-free&status=200&model=claude-sonnet",
      (r) =>
        r.client === "k-free" && r.status === 200 &&
        r.model === "claude-sonnet",
    ],
  ];
  for (const [query, keep] of cases) {
    await t.step(query || "(no filter)", async () => {
      const want = expected(records, keep);
      assert.ok(want.length > 0, "the case matches something");
      assert.deepEqual(await allPages(f, query), want);
    });
  }
});

Deno.test("GET requests: the items' shape", async () => {
  await using f = await dashboardFixture();
  await populate(f);
  const res = await f.call("requests?id=req-000", { bearer: ADMIN_TOKEN });
  const body = await res.json();
  assert.deepEqual(body, {
    items: [{
      id: "req-000",
      time: new Date(f.clock.now - 10 * DAY).toISOString(),
      key: "k-member",
      user: "u-member",
      model: "gpt-4o",
      upstream_model: null,
      status: 502,
      error: "upstream_5xx",
      duration_ms: 120,
      ttft_ms: 40,
      tokens_in: 10,
      tokens_out: 20,
      cost: 0.0015,
      currency: "USD",
      translation: "messages->chat",
      rewrite: "max_tokens,tools",
      credential: "primary",
      stream: false,
      attempts: 2,
    }],
    next_cursor: null,
  });
});

Deno.test("GET requests/<id>: everything the log holds, with the attempts; 404 for unknown", async () => {
  await using f = await dashboardFixture();
  await populate(f);
  const res = await f.call("requests/req-000", { bearer: f.tokens.operator });
  assert.equal(res.status, 200);
  const { request } = await res.json();
  assert.equal(request.id, "req-000");
  assert.equal(request.method, "POST");
  assert.equal(request.path, "/v1/chat/completions");
  assert.equal(request.bytes_in, 100);
  assert.equal(request.bytes_out, 400);
  assert.equal(request.cache_read_tokens, null);
  assert.deepEqual(request.attempt_log, [
    { credential: "primary", status: 401, error: "auth", duration_ms: 5 },
    { credential: "backup", status: 502, error: null, duration_ms: 9 },
  ]);
  const plain = await (await f.call("requests/req-001", {
    bearer: ADMIN_TOKEN,
  })).json();
  assert.equal(plain.request.attempt_log, null);
  const missing = await f.call("requests/nope", { bearer: ADMIN_TOKEN });
  assert.equal(missing.status, 404);
  assert.match((await missing.json()).error.message, /"nope"/);
});

Deno.test("request log routes: the role matrix, and a member sees only its own keys' requests", async (t) => {
  await using f = await dashboardFixture();
  const records = await populate(f);
  const want = { admin: 200, operator: 200, member: 200, viewer: 403 };
  for (const route of ["requests", "requests/req-000", "requests.csv"]) {
    for (const role of ROLES) {
      await t.step(`${role}: GET ${route}`, async () => {
        const res = await f.call(route, { bearer: f.tokens[role] });
        assert.equal(res.status, want[role]);
        await res.body?.cancel();
      });
    }
  }
  await t.step("member: its own keys' rows only, across pages", async () => {
    assert.deepEqual(
      await allPages(f, "", f.tokens.member, 20),
      expected(records, (r) => r.client === "k-member"),
    );
    // Asking for another's key finds nothing rather than another's rows.
    assert.deepEqual(await allPages(f, "key=k-other", f.tokens.member), []);
  });
  await t.step(
    "member: another's request is 404 like a missing one",
    async () => {
      const other = records.find((r) => r.client === "k-other")!;
      const res = await f.call(`requests/${other.id}`, {
        bearer: f.tokens.member,
      });
      assert.equal(res.status, 404);
      await res.body?.cancel();
      const own = await f.call("requests/req-000", { bearer: f.tokens.member });
      assert.equal(own.status, 200);
      await own.body?.cancel();
    },
  );
});

Deno.test("GET requests: bad input is 400 naming the parameter", async (t) => {
  await using f = await dashboardFixture();
  await populate(f);
  const cases: [string, RegExp][] = [
    ["cursor=abc", /"cursor"/],
    ["cursor=1.2.3", /"cursor"/],
    ["limit=0", /"limit"/],
    ["limit=501", /"limit"/],
    ["limit=ten", /"limit"/],
    ["status=2xx", /"status"/],
    ["status=999", /"status"/],
    ["from=yesterday-ish", /"from"/],
    ["colour=red", /"colour"/],
  ];
  for (const [query, message] of cases) {
    await t.step(query, async () => {
      const res = await f.call(`requests?${query}`, { bearer: ADMIN_TOKEN });
      assert.equal(res.status, 400);
      assert.match((await res.json()).error.message, message);
    });
  }
});

Deno.test("GET requests.csv: every matching row, quoted, formulas made inert, streamed as an attachment", async () => {
  await using f = await dashboardFixture();
  const records = await populate(f);
  // Over one page of the stream (500 rows).
  const more: RequestRecord[] = [];
  for (let i = 0; i < 600; i++) {
    more.push(record({
      id: `bulk-${i}`,
      ts: f.clock.now - DAY + i,
      client: "k-free",
      model: 'with "quote", comma',
    }));
  }
  await f.write(more);
  const res = await f.call("requests.csv?key=k-free", { bearer: ADMIN_TOKEN });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/csv; charset=utf-8");
  assert.match(
    res.headers.get("content-disposition")!,
    /^attachment; filename="requests-.*\.csv"$/,
  );
  const text = await res.text();
  const lines = text.split("\r\n");
  assert.equal(lines.pop(), "");
  assert.equal(
    lines[0],
    "id,time,key,user,model,upstream_model,status,error,duration_ms,ttft_ms,tokens_in,tokens_out,cost,currency,translation,rewrite,credential,stream,attempts",
  );
  const want = expected(
    [...records, ...more],
    (r) => r.client === "k-free",
  );
  assert.deepEqual(lines.slice(1).map((l) => l.split(",")[0]), want);
  assert.ok(lines.includes(
    `bulk-599,${
      new Date(f.clock.now - DAY + 599).toISOString()
    },k-free,,"with ""quote"", comma",,200,,120,40,10,20,,,,,primary,false,1`,
  ));
  const formula = lines.find((l) => l.includes("cmd"))!;
  assert.match(formula, /,'=cmd\|' \/C calc'!A0,/);
});

Deno.test("GET usage/series: tokens and spend per day and group; totals equal the log's count", async (t) => {
  await using f = await dashboardFixture();
  const records = await populate(f);
  const from = Date.UTC(2026, 10, 3); // 30 days back from 2026-12-02, inclusive
  const inWindow = records.filter((r) => r.ts >= from);
  for (const by of ["model", "key", "user", "team"] as const) {
    await t.step(`by=${by}`, async () => {
      const res = await f.call(`usage/series?since=30d&by=${by}`, {
        bearer: f.tokens.viewer,
      });
      const body = await res.json();
      assert.equal(res.status, 200, JSON.stringify(body));
      assert.equal(body.days.length, 30);
      assert.equal(body.days[29], "2026-12-02");
      assert.equal(body.from, "2026-11-03T00:00:00.000Z");
      assert.equal(body.time_zone, "UTC");
      assert.equal(body.totals.requests, inWindow.length);
      assert.equal(body.totals.tokens, inWindow.length * 30);
      assert.equal(body.currency, "USD");
      const tokens = body.groups.reduce(
        (sum: number, g: { tokens: number[] }) =>
          sum + g.tokens.reduce((a, b) => a + b, 0),
        0,
      );
      assert.equal(tokens, body.totals.tokens);
      for (const g of body.groups) {
        assert.equal(g.tokens.length, 30);
        assert.equal(g.spend.length, 30);
      }
    });
  }
  await t.step(
    "by=key names the keys, a request without one is (none)",
    async () => {
      const body = await (await f.call("usage/series?by=key", {
        bearer: ADMIN_TOKEN,
      })).json();
      assert.deepEqual(
        body.groups.map((g: { name: string }) => g.name).sort(),
        ["(none)", "k-free", "k-member", "k-other"],
      );
    },
  );
  await t.step("member: its own keys only", async () => {
    const body = await (await f.call("usage/series?by=key", {
      bearer: f.tokens.member,
    })).json();
    assert.deepEqual(body.groups.map((g: { name: string }) => g.name), [
      "k-member",
    ]);
    assert.equal(
      body.totals.requests,
      inWindow.filter((r) => r.client === "k-member").length,
    );
  });
  await t.step(
    "a day of only unpriced requests has spend null, not 0",
    async () => {
      await f.write([
        record({ id: "unpriced", ts: f.clock.now, model: "solo" }),
      ]);
      const body = await (await f.call("usage/series?since=1d&by=model", {
        bearer: ADMIN_TOKEN,
      })).json();
      const solo = body.groups.find((g: { name: string }) => g.name === "solo");
      assert.deepEqual(solo.spend.at(-1), null);
    },
  );
  await t.step("bad input", async () => {
    for (
      const [query, message] of [
        ["by=colour", /"by"/],
        ["since=soon", /"since"/],
        ["since=400d", /"since"/],
        ["group=model", /"group"/],
      ]
    ) {
      const res = await f.call(`usage/series?${query}`, {
        bearer: ADMIN_TOKEN,
      });
      assert.equal(res.status, 400);
      assert.match((await res.json()).error.message, message as RegExp);
    }
  });
});

Deno.test("GET budgets: key, user and team budgets with live use; a member sees its own", async () => {
  await using f = await dashboardFixture();
  f.keys.create({
    name: "k-member",
    owner: "u-member",
    budget: { period: "day", tokens: 1000, spendNanos: null, maxParallel: 2 },
  });
  f.keys.create({
    name: "k-ops",
    budget: {
      period: "month",
      tokens: null,
      spendNanos: 5_000_000_000,
      maxParallel: null,
    },
  });
  f.reloadKeys();
  const dayStart = Date.UTC(2026, 11, 2);
  f.budgets.seed("k-member", dayStart, { tokens: 250, nanos: 0 });
  f.budgets.seed("k-ops", Date.UTC(2026, 11, 1), {
    tokens: 0,
    nanos: 1_250_000_000,
  });
  const all = await (await f.call("budgets", { bearer: f.tokens.operator }))
    .json();
  assert.deepEqual(all.items, [
    {
      holder: "key",
      name: "k-member",
      period: "day",
      tokens_limit: 1000,
      tokens_used: 250,
      spend_limit: null,
      spend_used: 0,
      currency: "USD",
      resets_at: "2026-12-03T00:00:00.000Z",
      max_parallel: 2,
      in_flight: 0,
      owner: "u-member",
    },
    {
      holder: "key",
      name: "k-ops",
      period: "month",
      tokens_limit: null,
      tokens_used: 0,
      spend_limit: 5,
      spend_used: 1.25,
      currency: "USD",
      resets_at: "2027-01-01T00:00:00.000Z",
      max_parallel: null,
      in_flight: 0,
      owner: null,
    },
  ]);
  const own = await (await f.call("budgets", { bearer: f.tokens.member }))
    .json();
  assert.deepEqual(own.items.map((i: { name: string }) => i.name), [
    "k-member",
  ]);
  const other = await (await f.call("budgets", { bearer: f.otherToken }))
    .json();
  assert.deepEqual(other.items, []);
});
