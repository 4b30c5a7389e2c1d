/**
 * The `.env` file and `--admin-token-file` are read only when they are
 * regular files of a sane size: a FIFO, `/dev/zero` or an endless `/proc`
 * file is a usage error naming the file, returned at once.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { resolveSettings } from "../../src/config/settings.ts";
import { ArgumentError } from "../../src/config/arguments.ts";

function mkfifo(path: string): void {
  const out = new Deno.Command("mkfifo", { args: [path] }).outputSync();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
}

function usageMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ArgumentError, `not a ArgumentError: ${err}`);
    return err.message;
  }
  assert.fail("no usage error");
}

Deno.test("resolveSettings refuses an env file or admin token file that is not a regular file", async (t) => {
  const dir = Deno.makeTempDirSync();
  const fifo = join(dir, "fifo");
  mkfifo(fifo);
  const opts = { env: {}, cwd: dir, cpus: 1 };
  try {
    await t.step("--env-file is a FIFO", () => {
      assert.equal(
        usageMessage(() => resolveSettings(["--env-file", fifo], opts)),
        `Cannot read env file "${fifo}": is a named pipe (FIFO), not a regular file`,
      );
    });
    await t.step("--env-file /dev/zero", () => {
      assert.equal(
        usageMessage(() => resolveSettings(["--env-file", "/dev/zero"], opts)),
        `Cannot read env file "/dev/zero": is a character device, not a regular file`,
      );
    });
    await t.step(".env in the working directory is a FIFO", () => {
      const cwd = Deno.makeTempDirSync({ dir });
      mkfifo(join(cwd, ".env"));
      assert.equal(
        usageMessage(() => resolveSettings([], { ...opts, cwd })),
        `Cannot read env file "${
          join(cwd, ".env")
        }": is a named pipe (FIFO), not a regular file`,
      );
    });
    await t.step("--admin-token-file is a FIFO", () => {
      assert.equal(
        usageMessage(() => resolveSettings(["--admin-token-file", fifo], opts)),
        `Cannot read admin token file "${fifo}": is a named pipe (FIFO), not a regular file`,
      );
    });
    await t.step("--admin-token-file reads without end but stat says 0", () => {
      assert.equal(
        usageMessage(() =>
          resolveSettings(
            ["--admin-token-file", "/proc/self/pagemap"],
            opts,
          )
        ),
        `Cannot read admin token file "/proc/self/pagemap": too large (more than 1048576 bytes)`,
      );
    });
    await t.step("a regular token file is still read", () => {
      const file = join(dir, "token");
      Deno.writeTextFileSync(file, "0123456789abcdef-token\n");
      const s = resolveSettings(["--admin-token-file", file], opts);
      assert.ok(!s.help && s.settings.adminToken === "0123456789abcdef-token");
    });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
