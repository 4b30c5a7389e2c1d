import assert from "node:assert/strict";
import { join } from "node:path";
import { openDatabase, SqliteOpenError } from "../../src/base/sqlite.ts";

Deno.test("openDatabase() creates a private file with WAL, NORMAL sync and the given busy timeout", async (t) => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "x.db");
    const db = openDatabase(path, { busyTimeoutMs: 1234 });
    try {
      await t.step("pragmas", () => {
        const pragma = (name: string) =>
          Object.values(db.prepare(`PRAGMA ${name}`).get()!)[0];
        assert.equal(pragma("busy_timeout"), 1234);
        assert.equal(pragma("journal_mode"), "wal");
        assert.equal(pragma("synchronous"), 1);
      });
      if (Deno.build.os !== "windows") {
        await t.step("mode 0600", () => {
          assert.equal(Deno.statSync(path).mode! & 0o777, 0o600);
        });
      }
    } finally {
      db.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

function openError(fn: () => unknown): SqliteOpenError {
  try {
    fn();
  } catch (err) {
    assert(err instanceof SqliteOpenError);
    return err;
  }
  throw new Error("openDatabase() did not throw");
}

Deno.test("openDatabase() says which stage failed", async (t) => {
  const dir = await Deno.makeTempDir();
  try {
    await t.step("a missing directory cannot be opened", () => {
      const err = openError(() =>
        openDatabase(join(dir, "no", "x.db"), { busyTimeoutMs: 0 })
      );
      assert.equal(err.stage, "open");
      assert.equal(err.message, (err.cause as Error).message);
    });
    await t.step(
      "a file that is not a database opens, then fails its pragmas",
      () => {
        const bad = join(dir, "bad.db");
        Deno.writeTextFileSync(bad, "not a database ".repeat(100));
        const err = openError(() => openDatabase(bad, { busyTimeoutMs: 0 }));
        assert.equal(err.stage, "configure");
        assert.match(err.message, /not a database/);
      },
    );
    await t.step("read-only creates nothing", () => {
      const path = join(dir, "absent.db");
      assert.throws(
        () => openDatabase(path, { readOnly: true }),
        SqliteOpenError,
      );
      assert.throws(() => Deno.statSync(path), Deno.errors.NotFound);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
