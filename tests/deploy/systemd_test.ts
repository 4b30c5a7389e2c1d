/**
 * deploy/systemd/flow-proxy.service: systemd accepts every line of it, the
 * hardening the docs promise is there, and the exposure score recorded in
 * docs/operations.md is the one `systemd-analyze security` computes.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const UNIT = join(ROOT, "deploy/systemd/flow-proxy.service");
const SHIPPED_EXEC_START = "ExecStart=/usr/local/bin/flow-proxy serve";

/** Directives (with their values) the unit must carry. */
const REQUIRED = [
  "DynamicUser=yes",
  SHIPPED_EXEC_START,
  "LoadCredential=secrets.json:/etc/flow-proxy/secrets.json",
  "StateDirectory=flow-proxy",
  "EnvironmentFile=-/etc/flow-proxy/flow-proxy.env",
  "ExecReload=/bin/kill -HUP $MAINPID",
  "Restart=on-failure",
  "UMask=0077",
  "NoNewPrivileges=yes",
  "CapabilityBoundingSet=",
  "ProtectSystem=strict",
  "ProtectHome=yes",
  "PrivateTmp=yes",
  "PrivateDevices=yes",
  "ProtectKernelTunables=yes",
  "ProtectKernelModules=yes",
  "ProtectKernelLogs=yes",
  "ProtectControlGroups=yes",
  "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
  "RestrictNamespaces=yes",
  "RestrictRealtime=yes",
  "RestrictSUIDSGID=yes",
  "LockPersonality=yes",
  "SystemCallArchitectures=native",
  "SystemCallFilter=@system-service",
];

async function run(
  command: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(command, {
      args,
      stdin: "null",
      env: { SYSTEMD_COLORS: "0" },
    }).output();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new Error(`${command} is not installed: apt-get install systemd`, {
        cause: err,
      });
    }
    throw err;
  }
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/**
 * `systemd-analyze verify` checks that ExecStart= names an executable, and
 * /usr/local/bin/flow-proxy is absent on a test machine: the copy runs the
 * Deno binary instead, every other line unchanged.
 */
async function verifiableCopy(dir: string, unitText: string): Promise<string> {
  assert.ok(unitText.includes(`\n${SHIPPED_EXEC_START}\n`));
  const path = join(dir, "flow-proxy.service");
  await Deno.writeTextFile(
    path,
    unitText.replace(SHIPPED_EXEC_START, `ExecStart=${Deno.execPath()} serve`),
  );
  return path;
}

Deno.test("flow-proxy.service passes systemd-analyze verify without a warning", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "flow_proxy_unit_" });
  try {
    const text = await Deno.readTextFile(UNIT);

    await t.step("the shipped unit", async () => {
      const result = await run("systemd-analyze", [
        "verify",
        await verifiableCopy(dir, text),
      ]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stderr, "");
    });

    await t.step(
      "a misspelled directive is reported, so the check above means something",
      async () => {
        const broken = text.replace("ProtectHome=yes", "ProtectHomes=yes");
        const result = await run("systemd-analyze", [
          "verify",
          await verifiableCopy(dir, broken),
        ]);
        assert.match(
          result.stderr,
          /Unknown key name 'ProtectHomes'|Unknown key 'ProtectHomes'/,
        );
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("flow-proxy.service carries the hardening and never MemoryDenyWriteExecute", async () => {
  const lines = (await Deno.readTextFile(UNIT)).split("\n").map((l) =>
    l.trim()
  );
  for (const directive of REQUIRED) {
    assert.ok(lines.includes(directive), `missing "${directive}"`);
  }
  assert.ok(
    !lines.some((l) => l.startsWith("MemoryDenyWriteExecute")),
    "V8's JIT needs W+X memory",
  );
  assert.ok(
    !lines.some((l) => /^(User|Group)=/.test(l)),
    "DynamicUser= allocates the user",
  );
});

Deno.test("docs/operations.md records the unit's systemd-analyze security score", async () => {
  const dir = await Deno.makeTempDir({ prefix: "flow_proxy_unit_" });
  try {
    const unit = await verifiableCopy(dir, await Deno.readTextFile(UNIT));
    const result = await run("systemd-analyze", [
      "security",
      "--offline=true",
      unit,
    ]);
    const score = result.stdout.match(
      /Overall exposure level for flow-proxy\.service: (\d+\.\d) (\w+)/,
    );
    assert.ok(score, result.stdout + result.stderr);
    // Whatever systemd scores it, the hardening must keep it well inside "OK".
    assert.ok(Number(score[1]) <= 2.0, `exposure ${score[1]} is above 2.0`);

    // Each systemd release weighs the checks a little differently: the exact
    // figure is compared on the release the docs name.
    const docs = await Deno.readTextFile(join(ROOT, "docs/operations.md"));
    const recorded = docs.match(
      /exposure\s+level\s+\*\*(\d+\.\d)\s+(\w+)\*\*\s+with\s+systemd\s+(\d+)/,
    );
    assert.ok(
      recorded,
      'docs/operations.md should say "exposure level **N.N WORD** with systemd NNN"',
    );
    const version = (await run("systemd-analyze", ["--version"])).stdout.match(
      /^systemd (\d+)/,
    )?.[1];
    if (version === recorded[3]) {
      assert.deepEqual([recorded[1], recorded[2]], [score[1], score[2]]);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
