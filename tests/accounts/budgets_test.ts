/**
 * User and team budgets in the accounts tables: set and cleared with
 * `users set-budget` / `teams set-budget`, audited, refused when bad, and
 * published with each owned key by the store worker's snapshot.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { usersCommand } from "../../src/cli/users.ts";
import { teamsCommand } from "../../src/cli/teams.ts";
import { keysCommand } from "../../src/cli/keys.ts";
import type { CommandIo } from "../../src/cli/command.ts";
import { openAccounts } from "../../src/accounts/accounts.ts";
import { openKeyStore } from "../../src/access/key_store.ts";
import { addSharedBudgets } from "../../src/server/shared_budgets.ts";
import { CLI, FAST_SCRYPT, PASSWORD } from "./helpers.ts";

async function withDb(fn: (db: string, dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "flow-proxy-budgets-" });
  try {
    await fn(join(dir, "flow-proxy.db"), dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function run(
  command: "users" | "teams",
  dir: string,
  args: string[],
): Promise<{ code: number; out: string; err: string }> {
  const sink = { out: "", err: "" };
  const io: CommandIo = {
    env: { USER: "ops" },
    cwd: dir,
    stdout: (t) => void (sink.out += t),
    stderr: (t) => void (sink.err += t),
  };
  const code = command === "users"
    ? await usersCommand(args, io, { scrypt: FAST_SCRYPT })
    : await teamsCommand(args, io);
  return { code, ...sink };
}

async function seed(db: string): Promise<void> {
  using accounts = openAccounts(db, { scrypt: FAST_SCRYPT });
  accounts.createTeam("core", CLI);
  await accounts.createUser(
    { name: "alice", role: "member", team: "core", password: PASSWORD },
    CLI,
  );
  await accounts.createUser(
    { name: "bob", role: "member", team: "core", password: PASSWORD },
    CLI,
  );
}

Deno.test("users set-budget and teams set-budget store the budget, audited, and --clear removes it", async () => {
  await withDb(async (db, dir) => {
    await seed(db);
    const user = await run("users", dir, [
      "set-budget",
      "ALICE",
      "--budget-tokens",
      "5000",
      "--budget-period",
      "week",
      "--db",
      db,
    ]);
    assert.equal(user.code, 0, user.err);
    assert.match(
      user.out,
      /Set the budget of user "alice": 5000 tokens\/week, shared by every key they own/,
    );
    const team = await run("teams", dir, [
      "set-budget",
      "core",
      "--budget-spend",
      "12.5",
      "--max-parallel",
      "4",
      "--json",
      "--db",
      db,
    ]);
    assert.equal(team.code, 0, team.err);
    assert.deepEqual(JSON.parse(team.out), {
      name: "core",
      budget: { period: "month", tokens: null, spend: 12.5, max_parallel: 4 },
    });
    {
      using accounts = openAccounts(db);
      assert.deepEqual(accounts.budgetOf("user", "alice"), {
        period: "week",
        tokens: 5000,
        spendNanos: null,
        maxParallel: null,
      });
      assert.equal(accounts.budgetOf("user", "bob"), null);
      assert.equal(accounts.budgetOf("team", "nobody"), undefined);
    }
    const cleared = await run("users", dir, [
      "set-budget",
      "alice",
      "--clear",
      "--db",
      db,
    ]);
    assert.equal(cleared.code, 0, cleared.err);
    assert.match(cleared.out, /Removed the budget of user "alice"/);
    using accounts = openAccounts(db);
    assert.equal(accounts.budgetOf("user", "alice"), null);
    const records = accounts.listAudit({}).filter((r) =>
      r.action.endsWith(".set_budget")
    ).map((r) => [r.actor, r.action, r.target, r.outcome, r.detail]);
    assert.deepEqual(
      records.sort(),
      [
        ["cli:ops", "team.set_budget", "core", "ok", {
          period: "month",
          tokens: null,
          spendNanos: 12_500_000_000,
          maxParallel: 4,
        }],
        ["cli:ops", "user.set_budget", "ALICE", "ok", {
          period: "week",
          tokens: 5000,
          spendNanos: null,
          maxParallel: null,
        }],
        ["cli:ops", "user.set_budget", "alice", "ok", { cleared: true }],
      ].sort(),
    );
  });
});

Deno.test("set-budget refuses bad values, both options and --clear, and an unknown name", async (t) => {
  await withDb(async (db, dir) => {
    await seed(db);
    const cases: [string, "users" | "teams", string[], number, RegExp][] = [
      ["no budget option", "users", ["alice"], 2, /needs --budget-tokens/],
      [
        "both",
        "teams",
        ["core", "--budget-tokens", "5", "--clear"],
        2,
        /budget options or --clear, not both/,
      ],
      [
        "a bad period",
        "users",
        ["alice", "--budget-tokens", "5", "--budget-period", "year"],
        2,
        /period "year": use day, week or month/,
      ],
      [
        "a bad token count",
        "users",
        ["alice", "--budget-tokens", "1.5"],
        2,
        /--budget-tokens must be a whole number, got "1.5"/,
      ],
      [
        "a bad spend",
        "teams",
        ["core", "--budget-spend", "lots"],
        2,
        /--budget-spend must be an amount/,
      ],
      [
        "no name",
        "teams",
        ["--budget-tokens", "5"],
        2,
        /exactly one team name/,
      ],
      [
        "an unknown user",
        "users",
        ["zed", "--budget-tokens", "5"],
        1,
        /No user named "zed"/,
      ],
      [
        "an unknown team",
        "teams",
        ["ghosts", "--clear"],
        1,
        /No team named "ghosts"/,
      ],
    ];
    for (const [what, command, args, code, message] of cases) {
      await t.step(what, async () => {
        const out = await run(command, dir, [
          "set-budget",
          ...args,
          "--db",
          db,
        ]);
        assert.equal(out.code, code, out.out + out.err);
        assert.match(out.err, message);
      });
    }
    using accounts = openAccounts(db);
    const failed = accounts.listAudit({}).filter((r) =>
      r.action.endsWith(".set_budget")
    ).map((r) => [r.action, r.target, r.outcome]);
    assert.deepEqual(failed.sort(), [
      ["team.set_budget", "ghosts", "failed"],
      ["user.set_budget", "zed", "failed"],
    ]);
  });
});

Deno.test("the snapshot gives each owned key its user's and team's budgets, seeded from every key they count", async () => {
  await withDb(async (db) => {
    await seed(db);
    using accounts = openAccounts(db);
    const week = {
      period: "week",
      tokens: 900,
      spendNanos: null,
      maxParallel: null,
    };
    const day = { period: "day", tokens: 50, spendNanos: null, maxParallel: 2 };
    accounts.setBudget("user", "alice", week, CLI);
    accounts.setBudget("team", "core", day, CLI);
    const stampBefore = accounts.budgetStamp();
    using store = openKeyStore(db);
    store.create({ name: "a1", owner: "alice" });
    store.create({ name: "a2", owner: "Alice" });
    store.create({ name: "b1", owner: "bob" });
    store.create({ name: "nobodys" });
    store.create({ name: "old", owner: "bob" });
    store.revoke("old");
    const keys = store.snapshot();
    const asked: [string[], number][] = [];
    addSharedBudgets(keys, accounts, (clients, since) => {
      asked.push([[...clients].sort(), since]);
      return { tokens: clients.length, nanos: 0 };
    }, { now: Date.UTC(2026, 11, 2, 12), zone: "UTC" });
    const byName = new Map(keys.map((k) => [k.name, k]));
    const alice = {
      slot: "user:alice",
      holder: "user",
      name: "alice",
      budget: week,
      used: { period: Date.UTC(2026, 10, 30), tokens: 2, nanos: 0 },
    };
    const core = {
      slot: "team:core",
      holder: "team",
      name: "core",
      budget: day,
      used: { period: Date.UTC(2026, 11, 2), tokens: 4, nanos: 0 },
    };
    assert.deepEqual(byName.get("a1")!.shared, [alice, core]);
    assert.deepEqual(byName.get("a2")!.shared, [alice, core]);
    assert.deepEqual(byName.get("b1")!.shared, [core]);
    assert.equal(byName.get("nobodys")!.shared, undefined);
    assert.equal(byName.get("old")!.shared, undefined);
    // Each budget is seeded once; the team's counts the revoked key's requests too.
    assert.deepEqual(
      asked.sort(),
      [
        [["a1", "a2"], Date.UTC(2026, 10, 30)],
        [["a1", "a2", "b1", "old"], Date.UTC(2026, 11, 2)],
      ].sort(),
    );
    // Moving a user out of the team moves the stamp the store worker watches.
    await accounts.updateUser("bob", { team: null }, CLI);
    assert.notEqual(accounts.budgetStamp(), stampBefore);
  });
});

Deno.test("keys create with a budget and keys budget are audited as key.set_budget", async () => {
  await withDb(async (db, dir) => {
    const io: CommandIo = {
      env: { USER: "ops" },
      cwd: dir,
      stdout: () => {},
      stderr: () => {},
    };
    const create = [
      "create",
      "--name",
      "ci",
      "--budget-tokens",
      "300",
      "--db",
      db,
    ];
    assert.equal(await keysCommand(create, io), 0);
    assert.equal(
      await keysCommand(
        ["budget", "ci", "--max-parallel", "2", "--db", db],
        io,
      ),
      0,
    );
    assert.equal(
      await keysCommand(["budget", "ci", "--clear", "--db", db], io),
      0,
    );
    // A refused change (no such key) changes nothing and records nothing.
    assert.equal(
      await keysCommand(["budget", "nope", "--clear", "--db", db], io),
      1,
    );
    using accounts = openAccounts(db);
    const records = accounts.listAudit({ action: "key.set_budget" }).reverse();
    assert.deepEqual(records.map((r) => [r.actor, r.target, r.detail]), [
      ["cli:ops", "ci", {
        period: "month",
        tokens: 300,
        spendNanos: null,
        maxParallel: null,
      }],
      ["cli:ops", "ci", {
        period: "month",
        tokens: null,
        spendNanos: null,
        maxParallel: 2,
      }],
      ["cli:ops", "ci", { cleared: true }],
    ]);
  });
});
