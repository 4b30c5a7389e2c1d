/**
 * Every option of `serve` refuses its invalid values where it is parsed, as
 * a usage error that names the flag or variable, the value, and what is
 * allowed — from a flag (either spelling), the environment and a `.env` file.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { resolveSettings } from "../../src/config/settings.ts";
import { ArgumentError } from "../../src/config/arguments.ts";
import {
  expectedMessage,
  INVALID_CASES,
  UNCOVERED_FLAGS,
} from "./invalid_options_table.ts";

function usageMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ArgumentError, `not a ArgumentError: ${err}`);
    return err.message;
  }
  assert.fail("no usage error");
}

Deno.test("the invalid-value table covers every option of serve", () => {
  assert.deepEqual(UNCOVERED_FLAGS, []);
});

Deno.test("resolveSettings refuses each option's invalid values, naming the source", async (t) => {
  const dir = Deno.makeTempDirSync();
  try {
    for (const c of INVALID_CASES) {
      await t.step(`--${c.flag} ${JSON.stringify(c.value)}`, () => {
        const opts = { env: {}, cwd: dir, cpus: 2 };
        if (!c.switch) {
          const flag = `--${c.flag}`;
          // Space-separated first: `--port -1` must reach the validator.
          const spaced = usageMessage(() =>
            resolveSettings([flag, c.value], opts)
          );
          assert.match(spaced, expectedMessage(c, flag));
          const joined = usageMessage(() =>
            resolveSettings([`${flag}=${c.value}`], opts)
          );
          assert.match(joined, expectedMessage(c, flag));
        }
        // An empty variable means "unset", so "" is a flag-only case.
        if (c.env === null || c.value === "") return;
        const fromEnv = usageMessage(() =>
          resolveSettings([], { ...opts, env: { [c.env!]: c.value } })
        );
        assert.match(fromEnv, expectedMessage(c, c.env));

        const envFile = join(dir, ".env");
        Deno.writeTextFileSync(
          envFile,
          `${c.env}=${JSON.stringify(c.value)}\n`,
        );
        const fromFile = usageMessage(() => resolveSettings([], opts));
        assert.match(
          fromFile,
          expectedMessage(c, `${c.env} (from ${envFile})`),
        );
        Deno.removeSync(envFile);
      });
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("resolveSettings accepts the bounds of each numeric option", () => {
  const s = resolveSettings([
    "--port",
    "65535",
    "--num-workers",
    "256",
    "--max-attempts",
    "100",
    "--retry-body-limit",
    "0",
    "--max-body-size",
    "1",
    "--idle-timeout",
    "2147483647ms",
    "--default-rpm",
    "0",
  ], { env: {}, cpus: 2 });
  assert.equal(s.help, false);
  if (s.help) return;
  assert.equal(s.settings.port, 65535);
  assert.equal(s.settings.numWorkers, 256);
  assert.equal(s.settings.maxAttempts, 100);
  assert.equal(s.settings.retryBodyLimit, 0);
  assert.equal(s.settings.maxBodySize, 1);
  assert.equal(s.settings.idleTimeout, 2 ** 31 - 1);
  assert.equal(s.settings.defaultRpm, 0);
});

Deno.test("resolveSettings refuses a backoff cap below the first backoff", async (t) => {
  const opts = { env: {}, cpus: 2 };
  await t.step("--backoff-base above the default cap", () => {
    assert.equal(
      usageMessage(() => resolveSettings(["--backoff-base", "10m"], opts)),
      "--backoff-base must not be longer than --backoff-max (300000 ms), got 600000 ms",
    );
  });
  await t.step("--backoff-max below the default base", () => {
    assert.equal(
      usageMessage(() =>
        resolveSettings([], { ...opts, env: { FLOW_PROXY_BACKOFF_MAX: "1s" } })
      ),
      "FLOW_PROXY_BACKOFF_MAX must not be shorter than --backoff-base (10000 ms), got 1000 ms",
    );
  });
});

Deno.test("resolveSettings explains a value that starts with a dash", () => {
  assert.equal(
    usageMessage(() => resolveSettings(["--host", "-x"], { env: {} })),
    `Option '--host' needs a value (write --host=-… for a value that starts with "-")`,
  );
  const s = resolveSettings(["--host=-x"], { env: {}, cpus: 1 });
  assert.ok(!s.help && s.settings.host === "-x");
});
