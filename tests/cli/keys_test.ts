import assert from "node:assert/strict";
import { join } from "node:path";
import { KeyVerifier } from "../../src/access/client_keys.ts";
import { openKeyStore } from "../../src/access/key_store.ts";
import { keysCommand } from "../../src/cli/keys.ts";
import type { CommandIo } from "../../src/cli/command.ts";

const T0 = Date.UTC(2026, 10, 22, 12, 0, 0);

interface Run {
  code: number;
  out: string;
  err: string;
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "flow-proxy-keys-cli-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function run(
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<Run> {
  let out = "";
  let err = "";
  const io: CommandIo = {
    env,
    cwd,
    stdout: (t) => (out += t),
    stderr: (t) => (err += t),
  };
  const code = await keysCommand(args, io, { now: () => T0 });
  return { code, out, err };
}

function keyIn(text: string): string {
  const match = text.match(/fpk_[A-Za-z0-9_-]{43}/);
  assert.ok(match, `no key in: ${text}`);
  return match[0];
}

Deno.test("keysCommand create prints a working key once", async () => {
  await withDir(async (dir) => {
    const created = await run(
      [
        "create",
        "--name",
        "ci",
        "--rpm",
        "60",
        "--burst",
        "10",
        "--models",
        "gpt-4o,anthropic.*",
        "--expires",
        "30d",
      ],
      dir,
    );
    assert.equal(created.code, 0, created.err);
    assert.equal(created.err, "");
    const key = keyIn(created.out);
    assert.match(
      created.out,
      /Created client key "ci" \(60 requests\/min, burst 10; models: gpt-4o, anthropic\.\*;/,
    );
    assert.match(created.out, /expires 2026-12-22 12:00Z/);
    assert.match(created.out, /only time the key is shown/);
    assert.match(created.out, /Authorization: Bearer <key>/);
    assert.match(created.out, /x-api-key: <key>/);
    assert.equal(
      created.out.split(key).length,
      2,
      "the key is printed exactly once",
    );

    using store = openKeyStore(join(dir, "flow-proxy.db"));
    const verdict = new KeyVerifier(store.snapshot()).verify(key, T0);
    assert.ok(verdict.ok);
    assert.equal(verdict.record.rpm, 60);
    assert.deepEqual(verdict.record.models, ["gpt-4o", "anthropic.*"]);
  });
});

Deno.test("keysCommand list shows keys without revealing them", async (t) => {
  await withDir(async (dir) => {
    const key = keyIn(
      (await run(["create", "--name", "ci", "--rpm", "60"], dir)).out,
    );
    await run(["create", "--name", "old"], dir);
    await run(["revoke", "old"], dir);

    await t.step("text", async () => {
      const listed = await run(["list"], dir);
      assert.equal(listed.code, 0);
      assert.ok(!listed.out.includes(key.slice(10)));
      const lines = listed.out.trimEnd().split("\n");
      assert.match(
        lines[0],
        /^NAME\s+PREFIX\s+STATUS\s+CREATED\s+EXPIRES\s+RPM\s+BURST\s+MODELS\s+BUDGET\s+OWNER\s+LAST USED$/,
      );
      assert.match(
        lines[1],
        new RegExp(
          `^ci\\s+${
            key.slice(0, 10)
          }…\\s+active\\s+2026-11-22 12:00Z\\s+never\\s+60\\s`,
        ),
      );
      assert.match(
        lines[2],
        /^old\s+fpk_\S+\s+revoked\s.*default\s+=rpm\s+any\s+none\s+-\s+never$/,
      );
    });
    await t.step("json", async () => {
      const listed = await run(["list", "--json"], dir);
      assert.equal(listed.code, 0);
      assert.ok(!listed.out.includes(key.slice(10)));
      const rows = JSON.parse(listed.out);
      assert.deepEqual(
        rows.map((r: { name: string; status: string }) => [r.name, r.status]),
        [
          ["ci", "active"],
          ["old", "revoked"],
        ],
      );
      assert.equal("key" in rows[0] || "hash" in rows[0], false);
    });
  });
});

Deno.test("keysCommand create --json prints the key and its record", async () => {
  await withDir(async (dir) => {
    const created = await run(["create", "--name", "bot", "--json"], dir);
    assert.equal(created.code, 0);
    const body = JSON.parse(created.out);
    assert.match(body.key, /^fpk_/);
    assert.equal(body.name, "bot");
    assert.equal(body.status, "active");
    assert.equal(body.expires_at, null);
  });
});

Deno.test("keysCommand revoke", async (t) => {
  await withDir(async (dir) => {
    const key = keyIn((await run(["create", "--name", "ci"], dir)).out);
    await t.step("revokes an active key", async () => {
      const revoked = await run(["revoke", "ci"], dir);
      assert.equal(revoked.code, 0);
      assert.match(revoked.out, /Revoked key "ci"/);
      using store = openKeyStore(join(dir, "flow-proxy.db"));
      const verdict = new KeyVerifier(store.snapshot()).verify(key, T0);
      assert.equal(!verdict.ok && verdict.reason, "revoked_key");
    });
    await t.step("fails for a revoked or unknown name", async () => {
      for (const name of ["ci", "nobody"]) {
        const again = await run(["revoke", name], dir);
        assert.equal(again.code, 1);
        assert.match(
          again.err,
          new RegExp(`error: No active key named "${name}"`),
        );
      }
    });
    await t.step("--json", async () => {
      await run(["create", "--name", "ci"], dir);
      const revoked = await run(["revoke", "ci", "--json"], dir);
      assert.deepEqual(JSON.parse(revoked.out), { name: "ci", revoked: true });
    });
  });
});

Deno.test("keysCommand fails with 1 on a duplicate name or an unusable database", async () => {
  await withDir(async (dir) => {
    await run(["create", "--name", "ci"], dir);
    const duplicate = await run(["create", "--name", "ci"], dir);
    assert.equal(duplicate.code, 1);
    assert.match(duplicate.err, /^error: A key named "ci" already exists/);
    assert.equal(duplicate.out, "");

    const noDir = await run([
      "create",
      "--name",
      "x",
      "--db",
      "missing/dir/keys.db",
    ], dir);
    assert.equal(noDir.code, 1);
    assert.match(
      noDir.err,
      /^error: Cannot open key database ".*missing\/dir\/keys\.db"/,
    );
  });
});

Deno.test("keysCommand usage errors exit 2", async (t) => {
  await withDir(async (dir) => {
    const cases: [string[], RegExp][] = [
      [[], /No keys command given/],
      [["rotate"], /Unknown keys command 'rotate'/],
      [["list", "--bogus"], /Unknown option '--bogus'/],
      [["create"], /needs --name NAME/],
      [["create", "--name"], /Option '--name' needs a value/],
      [["create", "--name", "a b"], /Invalid key name "a b"/],
      [
        ["create", "--name", "x", "--rpm", "fast"],
        /--rpm must be a whole number, got "fast"/,
      ],
      [["create", "--name", "x", "--burst", "0"], /Invalid burst 0/],
      [
        ["create", "--name", "x", "--expires", "someday"],
        /Invalid expiry "someday"/,
      ],
      [
        ["create", "--name", "x", "--expires", "2020-01-01"],
        /not in the future/,
      ],
      [["revoke"], /exactly one key name/],
      [["revoke", "a", "b"], /exactly one key name/],
      [["list", "extra"], /Unexpected argument 'extra'/],
      [["list", "--db", ""], /--db must not be empty/],
    ];
    for (const [args, message] of cases) {
      await t.step(args.join(" ") || "(none)", async () => {
        const result = await run(args, dir);
        assert.equal(result.code, 2);
        assert.match(result.err, message);
        assert.match(result.err, /Usage: flow-proxy keys/);
      });
    }
    let exists = true;
    try {
      await Deno.stat(join(dir, "flow-proxy.db"));
    } catch {
      exists = false;
    }
    assert.equal(exists, false, "usage errors create no database");
  });
});

Deno.test("keysCommand --help", async () => {
  for (const args of [["--help"], ["create", "--help"], ["help"]]) {
    const result = await run(args, "/");
    assert.equal(result.code, 0);
    assert.match(result.out, /^Usage: flow-proxy keys create/);
    assert.match(result.out, /--expires <when>/);
  }
});

Deno.test("keysCommand finds the database as serve does", async (t) => {
  await withDir(async (dir) => {
    const listNames = async (
      args: string[],
      env: Record<string, string> = {},
    ) =>
      JSON.parse((await run(["list", "--json", ...args], dir, env)).out).map((
        r: { name: string },
      ) => r.name);

    await t.step(
      "default: flow-proxy.db in the working directory",
      async () => {
        await run(["create", "--name", "cwd"], dir);
        await Deno.stat(join(dir, "flow-proxy.db"));
        assert.deepEqual(await listNames([]), ["cwd"]);
      },
    );
    await t.step("$STATE_DIRECTORY", async () => {
      await Deno.mkdir(join(dir, "state"));
      const env = { STATE_DIRECTORY: join(dir, "state") };
      await run(["create", "--name", "state"], dir, env);
      await Deno.stat(join(dir, "state", "flow-proxy.db"));
      assert.deepEqual(await listNames([], env), ["state"]);
    });
    await t.step(
      "FLOW_PROXY_DB, relative to the working directory",
      async () => {
        const env = {
          FLOW_PROXY_DB: "env.db",
          STATE_DIRECTORY: join(dir, "state"),
        };
        await run(["create", "--name", "env"], dir, env);
        assert.deepEqual(await listNames([], env), ["env"]);
      },
    );
    await t.step("FLOW_PROXY_DB from .env", async () => {
      await Deno.writeTextFile(join(dir, ".env"), "FLOW_PROXY_DB=dotenv.db\n");
      await run(["create", "--name", "dotenv"], dir);
      assert.deepEqual(await listNames([]), ["dotenv"]);
      await Deno.remove(join(dir, ".env"));
    });
    await t.step("--db wins", async () => {
      await run(["create", "--name", "flag", "--db", "flag.db"], dir, {
        FLOW_PROXY_DB: "env.db",
      });
      assert.deepEqual(
        await listNames(["--db", "flag.db"], { FLOW_PROXY_DB: "env.db" }),
        ["flag"],
      );
    });
    await t.step(
      "list of a missing database shows nothing and creates nothing",
      async () => {
        const listed = await run(["list", "--db", "nothing.db"], dir);
        assert.equal(listed.code, 0);
        assert.match(listed.out, /No client keys in .*nothing\.db/);
        await assert.rejects(
          () => Deno.stat(join(dir, "nothing.db")),
          Deno.errors.NotFound,
        );
      },
    );
  });
});

Deno.test("keys create and keys budget set, show and clear a key's budget; bad values are named", async () => {
  await withDir(async (dir) => {
    const db = join(dir, "k.db");
    const created = await run([
      "create",
      "--name",
      "team-a",
      "--budget-tokens",
      "100000",
      "--budget-period",
      "day",
      "--max-parallel",
      "4",
      "--db",
      db,
    ], dir);
    assert.equal(created.code, 0, created.err);
    assert.match(created.out, /budget: 100000 tokens\/day, 4 in flight/);
    const set = await run([
      "budget",
      "team-a",
      "--budget-spend",
      "12.50",
      "--db",
      db,
      "--json",
    ], dir);
    assert.equal(set.code, 0, set.err);
    assert.deepEqual(JSON.parse(set.out), {
      name: "team-a",
      budget: {
        period: "month",
        tokens: null,
        spend: 12.5,
        max_parallel: null,
      },
    });
    const listed = await run(["list", "--db", db], dir);
    assert.match(listed.out, /12\.5 spend\/month/);
    const cleared = await run(["budget", "team-a", "--clear", "--db", db], dir);
    assert.equal(cleared.code, 0);
    assert.match((await run(["list", "--db", db], dir)).out, /team-a .* none /);
    for (
      const [args, message] of [
        [
          ["budget", "team-a", "--db", db],
          /needs --budget-tokens, --budget-spend or --max-parallel/,
        ],
        [
          ["budget", "team-a", "--clear", "--max-parallel", "2", "--db", db],
          /not both/,
        ],
        [
          ["budget", "team-a", "--budget-tokens=-5", "--db", db],
          /--budget-tokens must be a whole number, got "-5"/,
        ],
        [
          ["budget", "team-a", "--budget-spend", "ten", "--db", db],
          /--budget-spend must be an amount such as 25 or 12.50, got "ten"/,
        ],
        [[
          "budget",
          "team-a",
          "--budget-tokens",
          "5",
          "--budget-period",
          "year",
          "--db",
          db,
        ], /period "year": use day, week or month/],
        [
          ["budget", "team-a", "--budget-tokens", "0", "--db", db],
          /must be a whole number from 1/,
        ],
        [
          ["create", "--name", "x", "--budget-period", "day", "--db", db],
          /--budget-period needs --budget-tokens/,
        ],
      ] as [string[], RegExp][]
    ) {
      const r = await run(args, dir);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.err}`);
      assert.match(r.err, message);
    }
    const missing = await run([
      "budget",
      "nobody",
      "--max-parallel",
      "1",
      "--db",
      db,
    ], dir);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /No active key named "nobody"/);
  });
});

Deno.test("keys create --owner gives the key to an existing user, shown in keys list; an unknown user is refused", async () => {
  await withDir(async (dir) => {
    const db = join(dir, "k.db");
    const { openAccounts } = await import("../../src/accounts/accounts.ts");
    {
      using accounts = openAccounts(db);
      await accounts.createUser(
        { name: "ana", role: "member", password: "a long enough password" },
        { name: "test", role: "admin", address: null },
      );
    }
    const made = await run([
      "create",
      "--name",
      "ana-ci",
      "--owner",
      "ana",
      "--db",
      db,
      "--json",
    ], dir);
    assert.equal(made.code, 0, made.err);
    assert.equal(JSON.parse(made.out).owner, "ana");
    assert.match(
      (await run(["list", "--db", db], dir)).out,
      /^ana-ci\s.*\sana\s+never$/m,
    );
    const unknown = await run([
      "create",
      "--name",
      "x",
      "--owner",
      "nobody",
      "--db",
      db,
    ], dir);
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /No user named "nobody"/);
    const empty = await run(
      ["create", "--name", "x", "--owner=", "--db", db],
      dir,
    );
    assert.equal(empty.code, 2);
    assert.match(empty.err, /--owner must not be empty/);
  });
});
