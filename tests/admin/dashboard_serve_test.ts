/**
 * The dashboard's routes end to end: `flow-proxy serve` with 2 workers and
 * the store worker, traffic through the proxy, then every route read over
 * real sockets, as the UI reads them.
 */
import assert from "node:assert/strict";
import { startStack } from "../support/stack.ts";
import { openAccounts } from "../../src/accounts/accounts.ts";
import { openKeyStore } from "../../src/access/key_store.ts";
import { CLI, FAST_SCRYPT, PASSWORD } from "../accounts/helpers.ts";

const ADMIN_TOKEN = "dashboard-admin-token-0123456789";

Deno.test("serve: the dashboard's routes answer from the store worker and the shared state", async (t) => {
  const dir = Deno.makeTempDirSync({ prefix: "flow-proxy-test-" });
  const db = `${dir}/flow-proxy.db`;
  let memberToken = "";
  const keys: Record<string, string> = {};
  {
    using accounts = openAccounts(db, { scrypt: FAST_SCRYPT });
    await accounts.createUser(
      { name: "alice", role: "member", password: PASSWORD },
      CLI,
    );
    memberToken = accounts.createToken("alice", {
      name: "main",
      expiresAt: null,
    }, CLI).token;
    using store = openKeyStore(db);
    keys.alice = store.create({
      name: "alice-key",
      owner: "alice",
      budget: {
        period: "day",
        tokens: 100_000,
        spendNanos: null,
        maxParallel: null,
      },
    }).key;
    keys.ops = store.create({ name: "ops-key" }).key;
  }
  await using stack = await startStack({
    dir,
    credentials: 2,
    args: ["--db", db, "--num-workers", "2", "--require-key"],
    env: { FLOW_PROXY_ADMIN_TOKEN: ADMIN_TOKEN },
  });
  const { proxy } = stack;
  const admin = (path: string, init: RequestInit & { bearer?: string } = {}) =>
    fetch(`${proxy.url}/_flow-proxy/admin/${path}`, {
      ...init,
      headers: {
        authorization: `Bearer ${init.bearer ?? ADMIN_TOKEN}`,
        // New connections, so the reads spread over both workers.
        connection: "close",
        ...(init.body ? { "content-type": "application/json" } : {}),
      },
    });
  const ids: string[] = [];
  for (let i = 0; i < 6; i++) {
    const res = await fetch(`${proxy.url}/v1/chat/completions`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${i % 3 === 0 ? keys.ops : keys.alice}`,
      },
      body: JSON.stringify({ model: "gpt-4o", messages: [] }),
    });
    ids.push(res.headers.get("x-request-id")!);
    await res.body?.cancel();
  }

  await t.step(
    "requests reach the log, newest first, a member's own only",
    async () => {
      // Records are written in batches: poll until all six are there.
      let items: { id: string; key: string }[] = [];
      for (let i = 0; i < 100 && items.length < 6; i++) {
        const res = await admin("requests?limit=10");
        items = (await res.json()).items;
        if (items.length < 6) await new Promise((r) => setTimeout(r, 200));
      }
      assert.deepEqual(items.map((r) => r.id), [...ids].reverse());
      const own = await (await admin("requests", { bearer: memberToken }))
        .json();
      assert.deepEqual(
        own.items.map((r: { id: string }) => r.id).sort(),
        ids.filter((_, i) => i % 3 !== 0).sort(),
      );
      const detail = await admin(`requests/${ids[0]}`);
      assert.equal((await detail.json()).request.key, "ops-key");
      const hidden = await admin(`requests/${ids[0]}`, { bearer: memberToken });
      assert.equal(hidden.status, 404);
      await hidden.body?.cancel();
      const csv = await (await admin("requests.csv")).text();
      assert.equal(csv.trim().split("\r\n").length, 7);
    },
  );

  await t.step("usage series counts what the log holds", async () => {
    const body = await (await admin("usage/series?since=1d&by=key")).json();
    assert.equal(body.totals.requests, 6);
    assert.deepEqual(
      body.groups.map((g: { name: string }) => g.name).sort(),
      ["alice-key", "ops-key"],
    );
  });

  await t.step("about, credentials, overview, budgets", async () => {
    const about = await admin("about");
    const text = await about.text();
    assert.equal(about.status, 200);
    assert.ok(!text.includes(ADMIN_TOKEN), "the admin token is masked");
    assert.deepEqual(JSON.parse(text).workers, { ready: 2, expected: 2 });
    const credentials = await (await admin("credentials")).json();
    assert.equal(credentials.items.length, 2);
    assert.equal(
      credentials.items.reduce(
        (n: number, c: { requests: number }) => n + c.requests,
        0,
      ),
      6,
    );
    const overview = await (await admin("overview")).json();
    assert.equal(overview.totals.requests, 6);
    const budgets = await (await admin("budgets", { bearer: memberToken }))
      .json();
    assert.deepEqual(
      budgets.items.map((b: { name: string; tokens_limit: number }) => [
        b.name,
        b.tokens_limit,
      ]),
      [["alice-key", 100_000]],
    );
  });

  await t.step(
    "PATCH keys/<name> goes through the store worker to every worker",
    async () => {
      const res = await admin("keys/ops-key", {
        method: "PATCH",
        body: JSON.stringify({ models: ["claude-*"] }),
      });
      assert.equal(res.status, 200);
      assert.deepEqual((await res.json()).models, ["claude-*"]);
      // Every worker refuses gpt-4o for that key once the new keys arrive.
      let refused = 0;
      for (let i = 0; i < 100 && refused < 4; i++) {
        const call = await fetch(`${proxy.url}/v1/chat/completions`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            authorization: `Bearer ${keys.ops}`,
            connection: "close",
          },
          body: JSON.stringify({ model: "gpt-4o", messages: [] }),
        });
        await call.body?.cancel();
        refused = call.status === 403 ? refused + 1 : 0;
        if (refused === 0) await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(refused, 4);
    },
  );
});
