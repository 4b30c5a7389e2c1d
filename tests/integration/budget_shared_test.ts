/**
 * User and team budgets end to end, through `flow-proxy serve` with 2
 * workers: a user's two keys draw on one budget exactly, kept across a
 * restart; a team's budget holds back every member; a budget set while the
 * server runs (by the CLI or the admin API) is enforced without a restart;
 * a member's `GET usage` holds only its own keys.
 */
import assert from "node:assert/strict";
import { openAccounts } from "../../src/accounts/accounts.ts";
import { openKeyStore } from "../../src/access/key_store.ts";
import { MockUpstream } from "../support/mock_upstream.ts";
import {
  runCli,
  startProxy,
  testCredentials,
  writeSecrets,
} from "../support/proxy.ts";
import { CLI, FAST_SCRYPT, PASSWORD } from "../accounts/helpers.ts";

async function call(url: string, key: string) {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-api-key": key },
    body: JSON.stringify({ model: "gpt-4o", messages: [] }),
  });
  return { status: res.status, body: await res.text() };
}

/** Users alice and bob in team core, and keys: alice owns two, bob one. */
async function seed(db: string): Promise<Record<string, string>> {
  {
    using accounts = openAccounts(db, { scrypt: FAST_SCRYPT });
    accounts.createTeam("core", CLI);
    for (const name of ["alice", "bob"]) {
      await accounts.createUser(
        { name, role: "member", team: "core", password: PASSWORD },
        CLI,
      );
    }
  }
  using store = openKeyStore(db);
  return {
    laptop: store.create({ name: "alice-laptop", owner: "alice" }).key,
    ci: store.create({ name: "alice-ci", owner: "alice" }).key,
    bob: store.create({ name: "bob-laptop", owner: "bob" }).key,
  };
}

async function setBudget(db: string, command: string, ...args: string[]) {
  const out = await runCli([command, "set-budget", ...args, "--db", db]);
  assert.equal(out.code, 0, out.stderr);
}

/** Parallel rounds on alternating keys until one is refused for good; how many passed. */
async function exhaust(url: string, keys: string[], pattern: RegExp) {
  let ok = 0;
  let refused: string | null = null;
  for (let round = 0; round < 60 && refused === null; round++) {
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, i) => call(url, keys[i % keys.length])),
    );
    for (const a of answers) {
      if (a.status === 200) ok++;
      else {
        assert.equal(a.status, 429, a.body);
        const message = JSON.parse(a.body).error.message as string;
        if (/resets at/.test(message)) {
          assert.match(message, pattern);
          refused = message;
        } else assert.match(message, /held by its requests in flight/);
      }
    }
  }
  assert.ok(refused, "the budget was never exhausted");
  return ok;
}

Deno.test("a user's budget is exact across 2 workers over two of their keys, and kept across a restart", async (t) => {
  const creds = testCredentials(1);
  await using upstream = MockUpstream.start({ credentials: creds });
  const secretsFile = writeSecrets(creds);
  const db = secretsFile.replace("secrets.json", "flow-proxy.db");
  const keys = await seed(db);
  // Each answer of the mock reports 7 + 3 tokens: the budget allows 10 requests.
  await setBudget(db, "users", "alice", "--budget-tokens", "100");
  const args = ["--num-workers", "2", "--db", db];
  let proxy = await startProxy({ upstream: upstream.url, secretsFile, args });
  try {
    await t.step("both keys share the 100 tokens", async () => {
      const ok = await exhaust(
        proxy.url,
        [keys.laptop, keys.ci],
        /^User 'alice' has used 100 of its 100 tokens this period; the budget resets at /,
      );
      assert.equal(ok, 10);
      assert.equal(upstream.requests.length, 10);
      // Another user's key is not held back.
      assert.equal((await call(proxy.url, keys.bob)).status, 200);
    });
    await proxy.stop();
    await t.step(
      "after a restart the user's use is still counted",
      async () => {
        proxy = await startProxy({ upstream: upstream.url, secretsFile, args });
        for (const key of [keys.laptop, keys.ci]) {
          const a = await call(proxy.url, key);
          assert.equal(a.status, 429, a.body);
          assert.match(JSON.parse(a.body).error.message, /used 100 of its 100/);
        }
        assert.equal(upstream.requests.length, 11);
      },
    );
  } finally {
    await proxy.stop();
  }
});

Deno.test("a team's budget, set while serving, holds back every member's keys", async () => {
  const creds = testCredentials(1);
  await using upstream = MockUpstream.start({ credentials: creds });
  const secretsFile = writeSecrets(creds);
  const db = secretsFile.replace("secrets.json", "flow-proxy.db");
  const keys = await seed(db);
  await using proxy = await startProxy({
    upstream: upstream.url,
    secretsFile,
    args: ["--num-workers", "2", "--db", db],
  });
  // 3 requests (30 tokens) before the team has a budget.
  for (const key of [keys.laptop, keys.ci, keys.bob]) {
    assert.equal((await call(proxy.url, key)).status, 200);
  }
  await setBudget(db, "teams", "core", "--budget-tokens", "60");
  // Within a few seconds the workers know it, seeded from the request log
  // (which may lag a batch behind: the refusal may come a request later).
  let refused = false;
  for (let i = 0; i < 100 && !refused; i++) {
    const a = await call(proxy.url, i % 2 === 0 ? keys.bob : keys.laptop);
    if (a.status === 429) {
      assert.match(
        JSON.parse(a.body).error.message,
        /^Team 'core' has used \d+ of its 60 tokens this period/,
      );
      refused = true;
    } else {
      assert.equal(a.status, 200, a.body);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  assert.ok(refused, "the team's budget was never enforced");
  const passed = upstream.requests.length;
  for (const key of [keys.laptop, keys.ci, keys.bob]) {
    const a = await call(proxy.url, key);
    assert.equal(a.status, 429, a.body);
    assert.match(JSON.parse(a.body).error.message, /^Team 'core' has used/);
  }
  assert.equal(upstream.requests.length, passed);
});

Deno.test("through the admin API of a running server: a user's budget is enforced at once, and a member's usage is its own", async () => {
  const creds = testCredentials(1);
  await using upstream = MockUpstream.start({ credentials: creds });
  const secretsFile = writeSecrets(creds);
  const db = secretsFile.replace("secrets.json", "flow-proxy.db");
  const keys = await seed(db);
  let admin: string;
  let alice: string;
  {
    using accounts = openAccounts(db, { scrypt: FAST_SCRYPT });
    await accounts.createUser(
      { name: "root", role: "admin", password: PASSWORD },
      CLI,
    );
    const token = (user: string) =>
      accounts.createToken(user, { name: "t", expiresAt: null }, CLI).token;
    admin = token("root");
    alice = token("alice");
  }
  await using proxy = await startProxy({
    upstream: upstream.url,
    secretsFile,
    args: ["--num-workers", "2", "--db", db],
  });
  const adminCall = (path: string, token: string, init: RequestInit = {}) =>
    fetch(`${proxy.url}/_flow-proxy/admin/${path}`, {
      ...init,
      headers: {
        authorization: `Bearer ${token}`,
        "content-type": "application/json",
      },
    });
  for (const key of [keys.laptop, keys.bob]) {
    assert.equal((await call(proxy.url, key)).status, 200);
  }
  const set = await adminCall("users/alice/budget", admin, {
    method: "PUT",
    body: JSON.stringify({ budget: { tokens: 30, period: "day" } }),
  });
  assert.equal(set.status, 200, await set.text());
  // The worker that answered has published; the other within its next poll.
  let refused = false;
  for (let i = 0; i < 50 && !refused; i++) {
    const a = await call(proxy.url, keys.ci);
    if (a.status === 429) {
      assert.match(JSON.parse(a.body).error.message, /^User 'alice' has used/);
      refused = true;
    } else await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(refused, "the user's budget was never enforced");
  assert.equal((await call(proxy.url, keys.bob)).status, 200);
  // The request log is written in batches: wait until every answer is in.
  type Row = { key: string | null; requests: number };
  let all: { byKey: Row[]; byTeam: { team: string | null }[] } = {
    byKey: [],
    byTeam: [],
  };
  for (let i = 0; i < 50; i++) {
    all = await (await adminCall("usage?since=1h", admin)).json();
    if (all.byKey.some((k) => k.key === "bob-laptop" && k.requests === 2)) {
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.deepEqual(
    all.byKey.map((k) => k.key).sort(),
    ["alice-ci", "alice-laptop", "bob-laptop"],
  );
  assert.deepEqual(all.byTeam.map((t) => t.team), ["core"]);
  const mine = await (await adminCall("usage?since=1h", alice)).json();
  assert.deepEqual(
    mine.byKey.map((k: Row) => k.key).sort(),
    ["alice-ci", "alice-laptop"],
  );
  assert.deepEqual(mine.byUser.map((u: { user: string }) => u.user), [
    "alice",
  ]);
  const audit = await (await adminCall("audit?action=user.set_budget", admin))
    .json();
  assert.equal(audit.data[0].actor, "root");
});
