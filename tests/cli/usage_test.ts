import assert from "node:assert/strict";
import { join } from "node:path";
import { USAGE_HELP, usageCommand } from "../../src/cli/usage.ts";
import type { CommandIo } from "../../src/cli/command.ts";
import type { RequestRecord } from "../../src/request_log/record.ts";
import { openRequestLog } from "../../src/request_log/sqlite_store.ts";
import { openKeyStore } from "../../src/access/key_store.ts";
import { openAccounts } from "../../src/accounts/accounts.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function record(overrides: Partial<RequestRecord> = {}): RequestRecord {
  return {
    id: crypto.randomUUID(),
    ts: Date.now() - HOUR,
    client: null,
    credential: "primary",
    method: "POST",
    path: "/v1/chat/completions",
    model: "gpt-4o",
    status: 200,
    durationMs: 900,
    ttftMs: 120,
    bytesIn: 300,
    bytesOut: 3000,
    tokensIn: 1000,
    tokensOut: 250,
    cacheReadTokens: null,
    cacheWriteTokens: null,
    error: null,
    attempts: 1,
    stream: true,
    ...overrides,
  };
}

function fakeIo(cwd: string, env: Record<string, string | undefined> = {}) {
  const out = { stdout: "", stderr: "" };
  const io: CommandIo = {
    env,
    cwd,
    stdout: (text) => out.stdout += text,
    stderr: (text) => out.stderr += text,
  };
  return { io, out };
}

async function withLog(
  records: RequestRecord[],
  fn: (dir: string, path: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "flow-proxy-usage-" });
  try {
    const path = join(dir, "flow-proxy.db");
    const store = openRequestLog(path);
    await store.write(records);
    await store.close();
    await fn(dir, path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const RECENT = [
  record(),
  record({
    credential: "primary",
    model: "claude-sonnet-4-5",
    upstreamModel: "anthropic.claude-4-5-sonnet",
    tokensIn: 20,
    tokensOut: 10,
  }),
  record({
    credential: "backup",
    status: 502,
    error: "upstream_5xx",
    tokensIn: null,
    tokensOut: null,
  }),
  record({
    ts: Date.now() - 10 * DAY,
    credential: "old",
    tokensIn: 5,
    tokensOut: 5,
  }),
];

Deno.test("usageCommand prints aligned tables by credential, model and day", async () => {
  await withLog(RECENT, async (dir, path) => {
    const { io, out } = fakeIo(dir);
    assert.equal(await usageCommand(["--db", path], io), 0);
    assert.equal(out.stderr, "");
    const sections = out.stdout.split("\n\n");
    assert.match(
      sections[0],
      new RegExp(`^Request log ${path}, the beginning to now`),
    );
    assert.equal(sections.length, 4);
    const [credential, model, day] = sections.slice(1).map((s) =>
      s.trimEnd().split("\n")
    );
    assert.match(
      credential[0],
      /^Credential\s+Requests\s+Errors\s+Tokens in\s+Tokens out\s+Cache read\s+Cache write\s+Usage unknown\s+Spend$/,
    );
    // No model has a price: spend is unknown, never 0.
    assert.match(
      credential[1],
      /^primary\s+2\s+0\s+1020\s+260\s+0\s+0\s+0\s+unknown \(tokens only\)$/,
    );
    assert.match(credential[2], /^backup\s+1\s+1\s+0\s+0\s+0\s+0\s+0\s+-$/);
    assert.match(
      credential[3],
      /^old\s+1\s+0\s+5\s+5\s+0\s+0\s+0\s+unknown \(tokens only\)$/,
    );
    assert.match(
      credential[4],
      /^Total\s+4\s+1\s+1025\s+265\s+0\s+0\s+0\s+unknown \(tokens only\)$/,
    );
    assert.match(model[0], /^Model\s+Sent as\s+Requests/);
    assert.match(model[1], /^gpt-4o\s+-\s+3\s+1\s+1005\s/);
    assert.match(
      model[2],
      /^claude-sonnet-4-5\s+anthropic\.claude-4-5-sonnet\s+1\s+0\s+20\s/,
    );
    assert.match(day[0], /^Day \(UTC\)\s+Requests/);
    assert.equal(day.length, 4);
    for (const table of [credential, model, day]) {
      // Numbers are right-aligned, so every row ends in the same column.
      assert.equal(
        new Set(table.map((line) => line.length)).size,
        1,
        table.join("\n"),
      );
    }
  });
});

Deno.test("usageCommand --json prints one object with the selected groups", async (t) => {
  await withLog(RECENT, async (dir, path) => {
    await t.step("all groups", async () => {
      const { io, out } = fakeIo(dir);
      assert.equal(await usageCommand(["--db", path, "--json"], io), 0);
      const report = JSON.parse(out.stdout);
      assert.equal(report.db, path);
      assert.equal(report.since, null);
      assert.equal(report.total.requests, 4);
      assert.equal(report.total.tokensIn, 1025);
      assert.deepEqual(
        report.byCredential.map((c: { credential: string }) => c.credential),
        [
          "primary",
          "backup",
          "old",
        ],
      );
      assert.equal(report.byModel.length, 2);
      assert.equal(report.byDay.length, 2);
    });
    await t.step("--by model", async () => {
      const { io, out } = fakeIo(dir);
      assert.equal(
        await usageCommand(["--db", path, "--json", "--by", "model"], io),
        0,
      );
      const report = JSON.parse(out.stdout);
      assert.deepEqual(Object.keys(report), [
        "db",
        "since",
        "until",
        "total",
        "byModel",
      ]);
    });
  });
});

Deno.test("usageCommand --since and --until limit the period", async (t) => {
  await withLog(RECENT, async (dir, path) => {
    await t.step("an age", async () => {
      const { io, out } = fakeIo(dir);
      assert.equal(
        await usageCommand(["--db", path, "--json", "--since", "7d"], io),
        0,
      );
      const report = JSON.parse(out.stdout);
      assert.equal(report.total.requests, 3);
      assert.ok(
        !report.byCredential.some((c: { credential: string }) =>
          c.credential === "old"
        ),
      );
      assert.ok(
        Math.abs(Date.parse(report.since) - (Date.now() - 7 * DAY)) < HOUR,
      );
    });
    await t.step("dates, UTC when no zone is given", async () => {
      const tenDaysAgo = new Date(Date.now() - 10 * DAY).toISOString().slice(
        0,
        10,
      );
      const nineDaysAgo = new Date(Date.now() - 9 * DAY).toISOString().slice(
        0,
        10,
      );
      const { io, out } = fakeIo(dir);
      assert.equal(
        await usageCommand([
          "--db",
          path,
          "--json",
          "--since",
          tenDaysAgo,
          "--until",
          nineDaysAgo,
        ], io),
        0,
      );
      const report = JSON.parse(out.stdout);
      assert.equal(report.since, `${tenDaysAgo}T00:00:00.000Z`);
      assert.deepEqual(
        report.byCredential.map((c: { credential: string }) => c.credential),
        ["old"],
      );
    });
    await t.step("a period without requests", async () => {
      const { io, out } = fakeIo(dir);
      assert.equal(
        await usageCommand(["--db", path, "--until", "2000-01-01T00:00"], io),
        0,
      );
      assert.match(
        out.stdout,
        /to 2000-01-01 00:00 UTC\nNo requests recorded in this period\.\n$/,
      );
    });
  });
});

Deno.test("usageCommand finds the database as serve does", async (t) => {
  await withLog([record()], async (dir, path) => {
    await t.step("FLOW_PROXY_DB", async () => {
      const { io, out } = fakeIo("/", { FLOW_PROXY_DB: path });
      assert.equal(await usageCommand(["--json"], io), 0);
      assert.equal(JSON.parse(out.stdout).db, path);
    });
    await t.step("$STATE_DIRECTORY/flow-proxy.db", async () => {
      const { io, out } = fakeIo("/", { STATE_DIRECTORY: `${dir}:/elsewhere` });
      assert.equal(await usageCommand(["--json"], io), 0);
      assert.equal(JSON.parse(out.stdout).db, path);
    });
    await t.step("flow-proxy.db in the working directory", async () => {
      const { io, out } = fakeIo(dir);
      assert.equal(await usageCommand(["--json"], io), 0);
      assert.equal(JSON.parse(out.stdout).db, path);
    });
    await t.step("FLOW_PROXY_DB from .env", async () => {
      const envDir = join(dir, "project");
      await Deno.mkdir(envDir);
      await Deno.writeTextFile(join(envDir, ".env"), `FLOW_PROXY_DB=${path}\n`);
      const { io, out } = fakeIo(envDir);
      assert.equal(await usageCommand(["--json"], io), 0);
      assert.equal(JSON.parse(out.stdout).db, path);
    });
  });
});

Deno.test("usageCommand exits 1 naming the database it cannot read", async () => {
  const dir = await Deno.makeTempDir({ prefix: "flow-proxy-usage-" });
  try {
    const missing = join(dir, "nope.db");
    const { io, out } = fakeIo(dir);
    assert.equal(await usageCommand(["--db", missing], io), 1);
    assert.equal(
      out.stderr,
      `error: Cannot open request log "${missing}": no such file\n`,
    );
    assert.equal(out.stdout, "");
    await assert.rejects(Deno.stat(missing), Deno.errors.NotFound);

    const garbage = join(dir, "garbage.db");
    await Deno.writeTextFile(garbage, "this is not sqlite ".repeat(100));
    const second = fakeIo(dir);
    assert.equal(await usageCommand(["--db", "garbage.db"], second.io), 1);
    assert.equal(
      second.out.stderr,
      `error: Cannot read request log "${garbage}": file is not a database\n`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("usageCommand exits 2 with usage on bad flags", async (t) => {
  const cases: [string[], string][] = [
    [["--bogus"], "Unknown option '--bogus'"],
    [["extra"], "Unexpected argument 'extra'"],
    [["--since"], "Option '--since' needs a value"],
    [
      ["--since", "yesterday"],
      `--since must be a date (2026-11-01), a date and time (2026-11-01T08:00) or an age (24h, 7d), got "yesterday"`,
    ],
    [["--until", "2026-02-30"], `--until must be a date`],
    [
      ["--since", "1d", "--until", "2d"],
      "--since must be earlier than --until",
    ],
    [
      ["--by", "tenant"],
      `--by must be credential, key, user, team, model or day, got "tenant"`,
    ],
    [["--db", ""], "--db must not be empty"],
  ];
  for (const [args, message] of cases) {
    await t.step(args.join(" "), async () => {
      const { io, out } = fakeIo("/nonexistent");
      assert.equal(await usageCommand(args, io), 2);
      assert.ok(out.stderr.startsWith(`error: ${message}`), out.stderr);
      assert.ok(out.stderr.endsWith(USAGE_HELP));
      assert.equal(out.stdout, "");
    });
  }
  await t.step("--help", async () => {
    const { io, out } = fakeIo("/nonexistent");
    assert.equal(await usageCommand(["-h"], io), 0);
    assert.equal(out.stdout, USAGE_HELP);
  });
});

Deno.test("usageCommand shows what priced requests cost and counts the unpriced ones apart", async () => {
  await withLog([
    record({ costNanos: 2_500_000, costCurrency: "USD" }),
    record({ costNanos: 1_250_000, costCurrency: "USD", credential: "b" }),
    record({ model: "mystery", credential: "b" }),
  ], async (dir, path) => {
    const { io, out } = fakeIo(dir);
    assert.equal(
      await usageCommand(["--db", path, "--by", "credential"], io),
      0,
    );
    const lines = out.stdout.trimEnd().split("\n");
    assert.match(lines.find((l) => l.startsWith("primary"))!, /0\.002500 USD$/);
    assert.match(
      lines.find((l) => l.startsWith("b "))!,
      /0\.001250 USD \+ 1 unpriced$/,
    );
    assert.match(lines.at(-1)!, /^Total\s.*0\.003750 USD \+ 1 unpriced$/);
    const json = { io: fakeIo(dir) };
    assert.equal(await usageCommand(["--db", path, "--json"], json.io.io), 0);
    const total = JSON.parse(json.io.out.stdout).total;
    assert.equal(total.costNanos, 3_750_000);
    assert.equal(total.currency, "USD");
    assert.equal(total.unpriced, 1);
  });
});

Deno.test("usageCommand --by key totals each client key, requests without one apart", async () => {
  await withLog([
    record({ client: "team-a" }),
    record({ client: "team-a", tokensIn: 5, tokensOut: 5 }),
    record({ client: "ci" }),
    record(),
  ], async (dir, path) => {
    const { io, out } = fakeIo(dir);
    assert.equal(await usageCommand(["--db", path, "--by", "key"], io), 0);
    const lines = out.stdout.trimEnd().split("\n");
    assert.match(lines[2], /^Key\s+Requests/);
    assert.match(lines[3], /^team-a\s+2\s+0\s+1005\s+255\s/);
    assert.match(
      lines.find((l) => l.startsWith("(no key)"))!,
      /\s1\s+0\s+1000\s/,
    );
    const json = fakeIo(dir);
    assert.equal(
      await usageCommand(["--db", path, "--by", "key", "--json"], json.io),
      0,
    );
    const report = JSON.parse(json.out.stdout);
    assert.deepEqual(report.byKey.map((k: { key: string | null }) => k.key), [
      "team-a",
      "ci",
      null,
    ]);
    assert.equal(report.byCredential, undefined);
  });
});

Deno.test("usageCommand --by user and --by team follow each key to its owner and team, with spend", async () => {
  const priced = { costNanos: 2_000_000, costCurrency: "USD" };
  await withLog([
    record({ client: "alice-laptop", ...priced }),
    record({ client: "alice-ci", ...priced }),
    record({ client: "bob-laptop", ...priced }),
    record({ client: "carol-key" }),
    record({ client: "ops-key" }),
    record(),
  ], async (dir, path) => {
    {
      const actor = { name: "cli:test", role: null, address: null };
      using accounts = openAccounts(path, {
        scrypt: { logN: 10, r: 8, p: 1 },
      });
      accounts.createTeam("core", actor);
      for (
        const [name, team] of [["alice", "core"], ["bob", "core"], [
          "carol",
          null,
        ]]
      ) {
        await accounts.createUser({
          name: name!,
          role: "member",
          team,
          password: "correct horse battery",
        }, actor);
      }
      using keys = openKeyStore(path);
      keys.create({ name: "alice-laptop", owner: "alice" });
      keys.create({ name: "alice-ci", owner: "ALICE" });
      keys.create({ name: "bob-laptop", owner: "bob" });
      keys.create({ name: "carol-key", owner: "carol" });
      keys.create({ name: "ops-key" });
    }
    const { io, out } = fakeIo(dir);
    assert.equal(
      await usageCommand(["--db", path, "--by", "user,team"], io),
      0,
      out.stderr,
    );
    const lines = out.stdout.trimEnd().split("\n");
    assert.match(lines[2], /^User\s+Requests.*Spend$/);
    assert.match(lines[3], /^alice\s+2\s+0\s+2000\s+500\s.*0\.004\d* USD$/);
    assert.match(
      lines.find((l) => l.startsWith("(none)"))!,
      /^\(none\)\s+2\s/,
    );
    const team = lines.findIndex((l) => /^Team\s+Requests/.test(l));
    assert.ok(team > 0, out.stdout);
    assert.match(lines[team + 1], /^core\s+3\s+0\s+3000\s/);
    assert.match(lines[team + 2], /^\(none\)\s+3\s/);
    const json = fakeIo(dir);
    assert.equal(
      await usageCommand(
        ["--db", path, "--by", "user", "--by", "team", "--json"],
        json.io,
      ),
      0,
    );
    const report = JSON.parse(json.out.stdout);
    assert.deepEqual(
      report.byUser.map((u: { user: string | null; requests: number }) => [
        u.user,
        u.requests,
      ]),
      [["alice", 2], [null, 2], ["bob", 1], ["carol", 1]],
    );
    assert.deepEqual(
      report.byTeam.map((t: { team: string | null; costNanos: number }) => [
        t.team,
        t.costNanos,
      ]),
      [["core", 6_000_000], [null, 0]],
    );
    assert.equal(report.byKey, undefined);
  });
});

Deno.test("usageCommand --by user puts everything under (none) in a log without keys or accounts", async () => {
  await withLog([record(), record({ client: "gone" })], async (dir, path) => {
    const { io, out } = fakeIo(dir);
    assert.equal(
      await usageCommand(["--db", path, "--by", "user", "--json"], io),
      0,
      out.stderr,
    );
    const report = JSON.parse(out.stdout);
    assert.deepEqual(
      report.byUser.map((u: { user: string | null; requests: number }) => [
        u.user,
        u.requests,
      ]),
      [[null, 2]],
    );
  });
});
