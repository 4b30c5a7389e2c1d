import assert from "node:assert/strict";
import { join } from "node:path";
import { usersCommand } from "../../src/cli/users.ts";
import { teamsCommand } from "../../src/cli/teams.ts";
import { auditCommand } from "../../src/cli/audit.ts";
import type { CommandIo } from "../../src/cli/command.ts";
import type { PasswordSource } from "../../src/cli/password_input.ts";
import { openAccounts } from "../../src/accounts/accounts.ts";
import { FAST_SCRYPT, PASSWORD } from "./helpers.ts";
import { openKeyStore } from "../../src/access/key_store.ts";

interface Run {
  code: number;
  out: string;
  err: string;
  prompts: string[];
}

/** A terminal that answers each prompt with the next of `typed`. */
function terminal(
  typed: string[],
  stdin = "",
  isTerminal = true,
): PasswordSource & { prompts: string[] } {
  const prompts: string[] = [];
  return {
    prompts,
    isTerminal: () => isTerminal,
    prompt: (text) => {
      prompts.push(text);
      return Promise.resolve(typed.shift() ?? "");
    },
    readStdin: () => Promise.resolve(stdin),
  };
}

async function withDb(
  fn: (db: string, dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "flow-proxy-users-cli-" });
  try {
    await fn(join(dir, "flow-proxy.db"), dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function io(dir: string, sink: { out: string; err: string }): CommandIo {
  return {
    env: { USER: "ops" },
    cwd: dir,
    stdout: (t) => void (sink.out += t),
    stderr: (t) => void (sink.err += t),
  };
}

async function users(
  dir: string,
  args: string[],
  passwords = terminal([]),
): Promise<Run> {
  const sink = { out: "", err: "" };
  const code = await usersCommand(args, io(dir, sink), {
    passwords,
    scrypt: FAST_SCRYPT,
  });
  return { code, ...sink, prompts: passwords.prompts };
}

Deno.test("users create asks the password twice at a hidden prompt and prints how to log in", async () => {
  await withDb(async (db, dir) => {
    const run = await users(dir, [
      "create",
      "--name",
      "admin",
      "--role",
      "admin",
      "--db",
      db,
    ], terminal([PASSWORD, PASSWORD]));
    assert.equal(run.code, 0, run.err);
    assert.deepEqual(run.prompts, ['Password for "admin": ', "Repeat it: "]);
    assert.match(run.out, /Created user "admin" \(role admin\)/);
    assert.match(run.out, /_flow-proxy\/admin\/login/);
    assert.equal(run.out.includes(PASSWORD), false);
    using accounts = openAccounts(db);
    assert.equal(accounts.getUser("admin")?.role, "admin");
    assert.equal((await accounts.login("admin", PASSWORD, "::1")).ok, true);
    assert.deepEqual(
      accounts.listAudit({ action: "user.create" }).map((r) => r.actor),
      ["cli:ops"],
    );
  });
});

Deno.test("users create refuses a --password flag, different entries, no terminal, and bad input", async (t) => {
  await withDb(async (db, dir) => {
    const cases: [
      string,
      string[],
      PasswordSource & { prompts: string[] },
      number,
      RegExp,
    ][] = [
      [
        "--password VALUE",
        ["create", "--name", "a", "--role", "admin", "--password", PASSWORD],
        terminal([]),
        2,
        /--password is refused: a password on the command line is visible to other users/,
      ],
      [
        "--password=VALUE",
        ["create", "--name", "a", "--role", "admin", `--password=${PASSWORD}`],
        terminal([]),
        2,
        /--password is refused/,
      ],
      [
        "entries differ",
        ["create", "--name", "a", "--role", "admin"],
        terminal([PASSWORD, PASSWORD + "!"]),
        1,
        /The two passwords differ/,
      ],
      [
        "no terminal",
        ["create", "--name", "a", "--role", "admin"],
        terminal([], "", false),
        1,
        /not a terminal.*--password-stdin/,
      ],
      [
        "weak password",
        ["create", "--name", "a", "--role", "admin", "--password-stdin"],
        terminal([], "short\n"),
        1,
        /Password too short/,
      ],
      [
        "unknown role",
        ["create", "--name", "a", "--role", "root", "--password-stdin"],
        terminal([], PASSWORD),
        1,
        /Unknown role "root"/,
      ],
      [
        "no role",
        ["create", "--name", "a"],
        terminal([]),
        2,
        /users create needs --role ROLE/,
      ],
      [
        "unknown command",
        ["promote", "a"],
        terminal([]),
        2,
        /Unknown users command 'promote'/,
      ],
      [
        "flag of another command",
        ["list", "--role", "admin"],
        terminal([]),
        2,
        /users list does not take --role/,
      ],
    ];
    for (const [name, args, source, code, message] of cases) {
      await t.step(name, async () => {
        const run = await users(dir, [...args, "--db", db], source);
        assert.equal(run.code, code, run.err);
        assert.match(run.err, message);
        assert.equal(run.err.includes(PASSWORD), false);
      });
    }
    using accounts = openAccounts(db);
    assert.deepEqual(accounts.listUsers(), [], "nothing was created");
  });
});

Deno.test("users set-role, set-team, reset-password, disable, enable, delete and list", async () => {
  await withDb(async (db, dir) => {
    const stdin = (text: string) => terminal([], text);
    assert.equal(
      (await users(dir, [
        "create",
        "--name",
        "root",
        "--role",
        "admin",
        "--password-stdin",
        "--db",
        db,
      ], stdin(PASSWORD + "\n"))).code,
      0,
    );
    assert.equal(
      (await users(dir, [
        "create",
        "--name",
        "bob",
        "--role",
        "member",
        "--password-stdin",
        "--db",
        db,
      ], stdin(PASSWORD))).code,
      0,
    );
    const team = { out: "", err: "" };
    assert.equal(
      await teamsCommand(["create", "red", "--db", db], io(dir, team)),
      0,
      team.err,
    );
    for (
      const [args, out] of [
        [["set-role", "bob", "operator"], /now has the role operator/],
        [["set-team", "bob", "red"], /is in team "red"/],
        [
          ["reset-password", "bob", "--password-stdin"],
          /Password of "bob" changed; their sessions were ended/,
        ],
        [["disable", "bob"], /disabled/],
        [["enable", "bob"], /enabled/],
      ] as const
    ) {
      const run = await users(
        dir,
        [...args, "--db", db],
        stdin("a new long password\n"),
      );
      assert.equal(run.code, 0, run.err);
      assert.match(run.out, out);
    }
    const listed = await users(dir, ["list", "--json", "--db", db]);
    assert.deepEqual(
      JSON.parse(listed.out).map((
        u: Record<string, string>,
      ) => [u.name, u.role, u.team, u.status]),
      [
        ["root", "admin", null, "active"],
        ["bob", "operator", "red", "active"],
      ],
    );
    assert.equal(
      (await users(dir, ["set-role", "root", "viewer", "--db", db])).err
        .includes("last enabled admin"),
      true,
    );
    {
      using keys = openKeyStore(db);
      keys.create({ name: "bob-laptop", owner: "bob" });
      keys.create({ name: "shared" });
    }
    const deleted = await users(dir, ["delete", "bob", "--db", db]);
    assert.equal(deleted.code, 0);
    assert.match(deleted.out, /1 client key\(s\) they owned were revoked/);
    {
      using keys = openKeyStore(db);
      assert.deepEqual(keys.list().map((k) => [k.name, k.revokedAt !== null]), [
        ["bob-laptop", true],
        ["shared", false],
      ]);
    }
    const gone = await users(dir, ["delete", "bob", "--db", db]);
    assert.deepEqual([gone.code, gone.err], [
      1,
      'error: No user named "bob"\n',
    ]);

    const trail = { out: "", err: "" };
    assert.equal(
      await auditCommand(
        ["--json", "--user", "bob", "--db", db],
        io(dir, trail),
      ),
      0,
      trail.err,
    );
    assert.deepEqual(
      JSON.parse(trail.out).map((r: Record<string, string>) =>
        `${r.action}:${r.outcome}`
      ).reverse(),
      [
        "user.create:ok",
        "user.set_role:ok",
        "user.set_team:ok",
        "user.reset_password:ok",
        "user.disable:ok",
        "user.enable:ok",
        "user.delete:ok",
        "key.revoke:ok",
        "user.delete:failed",
      ],
    );
    const table = { out: "", err: "" };
    assert.equal(
      await auditCommand(
        ["--action", "user.delete", "--db", db],
        io(dir, table),
      ),
      0,
    );
    assert.match(table.out, /^TIME +ACTOR +ROLE +ACTION/);
    assert.match(table.out, /cli:ops +- +user\.delete +bob +- +ok/);
    const bad = { out: "", err: "" };
    assert.equal(
      await auditCommand(["--since", "soon", "--db", db], io(dir, bad)),
      2,
    );
    assert.match(bad.err, /Invalid --since value "soon"/);
  });
});

Deno.test("flow-proxy users --password-stdin through main.ts; a --password flag exits 2", async () => {
  await withDb(async (db) => {
    const run = async (args: string[], stdin: string) => {
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "main.ts", "users", ...args, "--db", db],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
        env: { USER: "ci" },
      }).spawn();
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode(stdin));
      await writer.close();
      const { code, stdout, stderr } = await child.output();
      return {
        code,
        out: new TextDecoder().decode(stdout),
        err: new TextDecoder().decode(stderr),
      };
    };
    const refused = await run([
      "create",
      "--name",
      "admin",
      "--role",
      "admin",
      "--password",
      PASSWORD,
    ], "");
    assert.equal(refused.code, 2);
    assert.match(refused.err, /--password is refused/);
    const created = await run([
      "create",
      "--name",
      "admin",
      "--role",
      "admin",
      "--password-stdin",
    ], PASSWORD + "\n");
    assert.equal(created.code, 0, created.err);
    assert.match(created.out, /Created user "admin"/);
  });
});

Deno.test("flow-proxy keys create and revoke are audited as the command line's user", async () => {
  const { keysCommand } = await import("../../src/cli/keys.ts");
  await withDb(async (db, dir) => {
    const sink = { out: "", err: "" };
    assert.equal(
      await keysCommand(["create", "--name", "ci", "--db", db], io(dir, sink)),
      0,
      sink.err,
    );
    assert.equal(
      await keysCommand(["revoke", "ci", "--db", db], io(dir, sink)),
      0,
      sink.err,
    );
    assert.equal(
      await keysCommand(["revoke", "ci", "--db", db], io(dir, sink)),
      1,
    );
    using accounts = openAccounts(db);
    assert.deepEqual(
      accounts.listAudit().map((r) => [r.action, r.target, r.actor, r.outcome])
        .reverse(),
      [
        ["key.create", "ci", "cli:ops", "ok"],
        ["key.revoke", "ci", "cli:ops", "ok"],
      ],
    );
  });
});

Deno.test("flow-proxy tokens create prints a token once that opens the admin API; list and revoke; audited", async () => {
  const { tokensCommand } = await import("../../src/cli/tokens.ts");
  await withDb(async (db, dir) => {
    {
      using accounts = openAccounts(db, { scrypt: FAST_SCRYPT });
      await accounts.createUser({
        name: "ana",
        role: "operator",
        password: PASSWORD,
      }, { name: "t", role: null, address: null });
    }
    const tokens = async (args: string[]) => {
      const sink = { out: "", err: "" };
      const code = await tokensCommand([...args, "--db", db], io(dir, sink));
      return { code, ...sink };
    };
    const created = await tokens([
      "create",
      "--user",
      "ana",
      "--name",
      "ci",
      "--expires",
      "90d",
      "--json",
    ]);
    assert.equal(created.code, 0, created.err);
    const { token, user, status } = JSON.parse(created.out);
    assert.deepEqual([user, status], ["ana", "active"]);
    {
      using accounts = openAccounts(db);
      assert.equal(accounts.tokenUser(token)?.name, "ana");
    }
    const listed = await tokens(["list"]);
    assert.match(listed.out, /^USER +NAME +PREFIX +STATUS/);
    assert.equal(listed.out.includes(token), false);
    for (
      const [args, code, message] of [
        [["create", "--name", "x"], 2, /tokens create needs --user USER/],
        [
          ["create", "--user", "ana", "--name", "y", "--expires", "someday"],
          2,
          /--expires: /,
        ],
        [
          ["create", "--user", "ghost", "--name", "z"],
          1,
          /No user named "ghost"/,
        ],
        [
          ["revoke", "--user", "ana"],
          2,
          /tokens revoke takes exactly one token name/,
        ],
      ] as const
    ) {
      const run = await tokens([...args]);
      assert.equal(run.code, code, run.err);
      assert.match(run.err, message);
    }
    assert.equal((await tokens(["revoke", "--user", "ana", "ci"])).code, 0);
    using accounts = openAccounts(db);
    assert.equal(accounts.tokenUser(token), null);
    assert.deepEqual(
      accounts.listAudit({ action: "token.*" }).map((
        r,
      ) => [r.action, r.outcome, r.actor]).reverse(),
      [
        ["token.create", "ok", "cli:ops"],
        ["token.create", "failed", "cli:ops"],
        ["token.revoke", "ok", "cli:ops"],
      ],
    );
  });
});
