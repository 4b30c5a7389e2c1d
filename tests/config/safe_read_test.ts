import assert from "node:assert/strict";
import { join } from "node:path";
import {
  MAX_SMALL_FILE_BYTES,
  readRegularFile,
  readRegularFileSync,
  readSmallTextFileSync,
  RefusedFileError,
} from "../../src/config/safe_read.ts";

const READERS = [
  ["readRegularFile", readRegularFile],
  [
    "readRegularFileSync",
    (path: string, max: number) =>
      Promise.resolve().then(() => readRegularFileSync(path, max)),
  ],
] as const;

Deno.test("readRegularFile() and readRegularFileSync() read regular files and refuse the rest", async (t) => {
  const dir = await Deno.makeTempDir();
  try {
    const small = join(dir, "small");
    await Deno.writeTextFile(small, "hello");
    const big = join(dir, "big");
    await Deno.writeFile(big, new Uint8Array(2048));
    for (const [name, read] of READERS) {
      await t.step(`${name}: a regular file`, async () => {
        const { bytes, info } = await read(small, 1024);
        assert.equal(new TextDecoder().decode(bytes), "hello");
        assert.ok(info.isFile);
      });
      await t.step(`${name}: a directory`, async () => {
        await assert.rejects(() => read(dir, 1024), RefusedFileError);
      });
      await t.step(`${name}: larger than the limit by stat`, async () => {
        const err = await read(big, 1024).catch((e) => e);
        assert.ok(err instanceof RefusedFileError);
        assert.equal(err.message, "too large (2048 bytes; at most 1024)");
        assert.equal(err.statSize, 2048);
      });
      if (Deno.build.os === "linux") {
        await t.step(`${name}: /dev/zero is not read`, async () => {
          const err = await read("/dev/zero", 1024).catch((e) => e);
          assert.ok(err instanceof RefusedFileError);
          assert.equal(
            err.message,
            "is a character device, not a regular file",
          );
        });
        await t.step(`${name}: larger than stat says`, async () => {
          const err = await read("/proc/self/pagemap", 1024).catch((e) => e);
          assert.ok(err instanceof RefusedFileError);
          assert.equal(
            err.message,
            "too large (more than 1024 bytes, the most that is read)",
          );
          assert.equal(err.statSize, null);
        });
      }
      await t.step(
        `${name}: a missing file is the file system's error`,
        async () => {
          await assert.rejects(
            () => read(join(dir, "missing"), 1024),
            Deno.errors.NotFound,
          );
        },
      );
    }
    await t.step("readSmallTextFileSync words every size refusal alike", () => {
      const huge = join(dir, "huge");
      Deno.writeFileSync(huge, new Uint8Array(MAX_SMALL_FILE_BYTES + 1));
      assert.throws(
        () => readSmallTextFileSync(huge),
        RefusedFileError,
        `too large (more than ${MAX_SMALL_FILE_BYTES} bytes)`,
      );
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
