import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { hashKey, KeyVerifier } from "../../src/access/client_keys.ts";
import { openKeyStore, watchKeys } from "../../src/access/key_store.ts";

const T0 = Date.UTC(2026, 10, 22, 12, 0, 0);
const DAY = 86_400_000;

async function withDb(
  fn: (path: string) => void | Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "flow-proxy-keys-" });
  try {
    await fn(join(dir, "flow-proxy.db"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("KeyStore.create() makes an fpk_ key and stores only its hash", async () => {
  await withDb((path) => {
    let key: string;
    {
      using store = openKeyStore(path, { now: () => T0 });
      const created = store.create({
        name: "ci",
        rpm: 60,
        burst: 10,
        models: ["gpt-4o"],
        expiresAt: T0 + DAY,
      });
      key = created.key;
      assert.match(key, /^fpk_[A-Za-z0-9_-]{43}$/);
      assert.deepEqual(created.record, {
        id: 1,
        name: "ci",
        prefix: key.slice(0, 10),
        createdAt: T0,
        expiresAt: T0 + DAY,
        rpm: 60,
        burst: 10,
        models: ["gpt-4o"],
        revokedAt: null,
        lastUsedAt: null,
        budget: null,
      });
      assert.notEqual(store.create({ name: "other" }).key, key);
    }
    const db = new DatabaseSync(path);
    try {
      const row = db.prepare(
        "SELECT hash, prefix FROM client_keys WHERE name = 'ci'",
      ).get()!;
      assert.equal(row.hash, hashKey(key));
      assert.equal(row.prefix, key.slice(0, 10));
      for (const r of db.prepare("SELECT * FROM client_keys").all()) {
        assert.ok(
          !Object.values(r).some((v) =>
            typeof v === "string" && v.includes(key.slice(10))
          ),
        );
      }
    } finally {
      db.close();
    }
    // Nowhere in the file either (WAL included, if still there).
    for (const file of [path, `${path}-wal`]) {
      let bytes: Uint8Array;
      try {
        bytes = Deno.readFileSync(file);
      } catch {
        continue;
      }
      assert.ok(
        !new TextDecoder("latin1").decode(bytes).includes(key.slice(4)),
        file,
      );
    }
  });
});

Deno.test("KeyStore.list() never returns a key or its hash", async () => {
  await withDb((path) => {
    using store = openKeyStore(path, { now: () => T0 });
    const { key } = store.create({ name: "a" });
    const listed = store.list();
    assert.equal(listed.length, 1);
    assert.equal("hash" in listed[0], false);
    assert.ok(!JSON.stringify(listed).includes(key.slice(10)));
    assert.ok(!JSON.stringify(listed).includes(hashKey(key)));
  });
});

Deno.test("KeyStore names: unique among active keys, reusable after revoke", async (t) => {
  await withDb(async (path) => {
    using store = openKeyStore(path, { now: () => T0 });
    store.create({ name: "team" });
    await t.step("duplicate refused", () => {
      assert.throws(
        () => store.create({ name: "team" }),
        /A key named "team" already exists/,
      );
    });
    await t.step("revoke, then reuse", () => {
      assert.equal(store.revoke("team"), true);
      assert.equal(store.revoke("team"), false);
      store.create({ name: "team" });
      assert.deepEqual(store.list().map((r) => [r.name, r.revokedAt]), [[
        "team",
        T0,
      ], ["team", null]]);
      assert.equal(store.count(), 2);
    });
    await t.step("revoking an unknown name", () => {
      assert.equal(store.revoke("nobody"), false);
    });
  });
});

Deno.test("KeyStore.create() validates its input", async (t) => {
  await withDb(async (path) => {
    using store = openKeyStore(path);
    const cases: [string, Parameters<typeof store.create>[0], RegExp][] = [
      ["empty name", { name: "" }, /Invalid key name ""/],
      ["name with a space", { name: "a b" }, /Invalid key name "a b"/],
      ["name too long", { name: "x".repeat(65) }, /Invalid key name/],
      ["negative rpm", { name: "a", rpm: -1 }, /Invalid rpm -1/],
      ["fractional rpm", { name: "a", rpm: 1.5 }, /Invalid rpm 1.5/],
      ["burst 0", { name: "a", burst: 0 }, /Invalid burst 0/],
      ["empty models", { name: "a", models: [] }, /Invalid models/],
      [
        "model with a space",
        { name: "a", models: ["gpt 4"] },
        /Invalid model name "gpt 4"/,
      ],
    ];
    for (const [label, input, message] of cases) {
      await t.step(
        label,
        () => assert.throws(() => store.create(input), message),
      );
    }
    assert.equal(store.count(), 0);
  });
});

Deno.test("KeyStore.touch() writes last-used times in batches", async () => {
  await withDb((path) => {
    let now = T0;
    using store = openKeyStore(path, { now: () => now, touchFlushMs: 1000 });
    using reader = openKeyStore(path);
    store.create({ name: "a" });
    store.flush();
    store.touch("a", T0 + 5);
    assert.equal(
      reader.list()[0].lastUsedAt,
      null,
      "buffered, not yet written",
    );
    now = T0 + 1000;
    store.touch("a", T0 + 1000);
    assert.equal(reader.list()[0].lastUsedAt, T0 + 1000);
    store.touch("a", T0 + 1500);
    store.touch("a", T0 + 1200);
    store.close();
    assert.equal(
      reader.list()[0].lastUsedAt,
      T0 + 1500,
      "close() flushes the latest time",
    );
  });
});

Deno.test("KeyStore.changeStamp() moves on create and revoke by another connection, not on use", async () => {
  await withDb((path) => {
    using writer = openKeyStore(path);
    using watcher = openKeyStore(path);
    const s0 = watcher.changeStamp();
    writer.create({ name: "a" });
    const s1 = watcher.changeStamp();
    assert.notEqual(s1, s0);
    writer.touch("a", T0);
    writer.flush();
    assert.equal(watcher.changeStamp(), s1);
    writer.revoke("a");
    assert.notEqual(watcher.changeStamp(), s1);
  });
});

Deno.test("KeyStore shares its database with the request log", async () => {
  await withDb((path) => {
    using store = openKeyStore(path);
    const key = store.create({ name: "a" }).key;
    const stamp = store.changeStamp();
    // Another module owns `requests` in the same file; its writes are not key changes.
    const log = new DatabaseSync(path);
    try {
      log.exec("PRAGMA busy_timeout = 5000");
      log.exec("CREATE TABLE IF NOT EXISTS requests (id TEXT, ts INTEGER)");
      log.prepare("INSERT INTO requests VALUES (?, ?)").run("r1", T0);
    } finally {
      log.close();
    }
    assert.equal(store.changeStamp(), stamp);
    assert.equal(new KeyVerifier(store.snapshot()).verify(key, T0).ok, true);
    const mode = new DatabaseSync(path);
    try {
      assert.equal(
        mode.prepare("PRAGMA journal_mode").get()!.journal_mode,
        "wal",
      );
    } finally {
      mode.close();
    }
  });
});

Deno.test("watchKeys() makes keys created or revoked elsewhere usable or refused", async (t) => {
  await withDb(async (path) => {
    using cli = openKeyStore(path);
    using workerStore = openKeyStore(path);
    const verifier = new KeyVerifier();
    const existing = cli.create({ name: "existing" }).key;

    await t.step("loaded at start", () => {
      using watch = watchKeys(workerStore, verifier, { intervalMs: 60_000 });
      assert.equal(verifier.verify(existing, T0).ok, true);
      assert.equal(watch.check(), false);
    });

    await t.step("check() picks up a change at once", () => {
      using watch = watchKeys(workerStore, verifier, { intervalMs: 60_000 });
      const fresh = cli.create({ name: "fresh" }).key;
      assert.equal(verifier.verify(fresh, T0).ok, false);
      assert.equal(watch.check(), true);
      assert.equal(verifier.verify(fresh, T0).ok, true);
    });

    await t.step("the poll timer picks up create and revoke", async () => {
      const reloads: number[] = [];
      let notify: () => void = () => {};
      using _watch = watchKeys(workerStore, verifier, {
        intervalMs: 5,
        onReload: (count) => {
          reloads.push(count);
          notify();
        },
      });
      const reloaded = () => new Promise<void>((resolve) => (notify = resolve));

      let next = reloaded();
      const live = cli.create({ name: "live" }).key;
      await next;
      assert.equal(verifier.verify(live, T0).ok, true);

      next = reloaded();
      cli.revoke("live");
      await next;
      const refused = verifier.verify(live, T0);
      assert.equal(!refused.ok && refused.reason, "revoked_key");
      assert.deepEqual(reloads, [3, 3]);
    });
  });
});

Deno.test("watchKeys() reports the first of a run of errors once", async () => {
  const errors: unknown[] = [];
  let polls = 0;
  const { promise, resolve } = Promise.withResolvers<void>();
  const flaky = {
    changeStamp(): string {
      // The first call (at start) works; then the database is gone.
      if (polls++ === 0) return "start";
      if (polls >= 5) resolve();
      throw new Error("database is locked");
    },
    snapshot: () => [],
    flush() {},
  };
  const watch = watchKeys(flaky, new KeyVerifier(), {
    intervalMs: 1,
    onError: (err) => errors.push(err),
  });
  await promise;
  watch.close();
  assert.equal(errors.length, 1);
  assert.match(String(errors[0]), /database is locked/);
});

Deno.test("openKeyStore() names a database it cannot open", () => {
  assert.throws(
    () => openKeyStore("/nonexistent-dir-for-flow-proxy/x.db"),
    (err: Error) =>
      err.message.startsWith(
        'Cannot open key database "/nonexistent-dir-for-flow-proxy/x.db"',
      ),
  );
});

Deno.test("KeyStore keeps a key's budget, changes it, and the change stamp moves", async () => {
  await withDb((path) => {
    using store = openKeyStore(path, { now: () => T0 });
    const budget = {
      period: "day" as const,
      tokens: 1000,
      spendNanos: null,
      maxParallel: 2,
    };
    assert.deepEqual(store.create({ name: "b", budget }).record.budget, budget);
    const before = store.changeStamp();
    assert.equal(
      store.setBudget("b", { ...budget, tokens: 2000 }),
      true,
    );
    assert.notEqual(store.changeStamp(), before);
    assert.equal(store.snapshot()[0].budget!.tokens, 2000);
    assert.equal(store.setBudget("b", null), true);
    assert.equal(store.list()[0].budget, null);
    assert.equal(store.setBudget("nobody", budget), false);
  });
});

Deno.test("openKeyStore adds the budget columns to a table an older flow-proxy made", async () => {
  await withDb((path) => {
    const db = new DatabaseSync(path);
    db.exec(`CREATE TABLE client_keys (
      id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, prefix TEXT NOT NULL,
      hash TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER, rpm INTEGER,
      burst INTEGER, models TEXT, revoked_at INTEGER, last_used_at INTEGER);
      INSERT INTO client_keys (name, prefix, hash, created_at) VALUES ('old', 'fpk_x', 'h', 1);`);
    db.close();
    using store = openKeyStore(path, { now: () => T0 });
    assert.equal(store.list()[0].budget, null);
    assert.equal(
      store.setBudget("old", {
        period: "month",
        tokens: 1,
        spendNanos: null,
        maxParallel: null,
      }),
      true,
    );
    assert.equal(store.list()[0].budget!.period, "month");
  });
});
