/**
 * A database deleted or replaced while `serve` runs is noticed: logged at
 * ERROR, and the new file's keys (created with the CLI) and revocations reach
 * the running proxy.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runCli } from "../support/proxy.ts";
import { type Stack, startStack } from "../support/stack.ts";

async function createKey(db: string, name: string): Promise<string> {
  const out = await runCli([
    "keys",
    "create",
    "--name",
    name,
    "--db",
    db,
    "--json",
  ]);
  assert.equal(out.code, 0, out.stderr);
  return JSON.parse(out.stdout).key;
}

async function revokeKey(db: string, name: string): Promise<void> {
  const out = await runCli(["keys", "revoke", name, "--db", db]);
  assert.equal(out.code, 0, out.stderr);
}

async function status(stack: Stack, key: string): Promise<number> {
  const res = await fetch(`${stack.proxy.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-api-key": key },
    body: JSON.stringify({ model: "gpt-4o", messages: [] }),
  });
  await res.body?.cancel();
  return res.status;
}

/** Waits (bounded: 10 s) until `key` gets `expected` from every worker. */
async function eventuallyStatus(
  stack: Stack,
  key: string,
  expected: number,
): Promise<void> {
  let last = 0;
  for (let i = 0; i < 100; i++) {
    // Several in a row, so that every worker's answer counts.
    const seen = await Promise.all([1, 2, 3, 4].map(() => status(stack, key)));
    if (seen.every((s) => s === expected)) return;
    last = seen.find((s) => s !== expected)!;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`The key never got ${expected} (last ${last})`);
}

function removeDatabase(db: string): void {
  Deno.removeSync(db);
  for (const file of [`${db}-wal`, `${db}-shm`]) {
    try {
      Deno.removeSync(file);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
}

Deno.test("serve notices a deleted database, and takes keys and revocations from the one created after it", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "flow-proxy-db-deleted-" });
  const db = join(dir, "flow-proxy.db");
  const old = await createKey(db, "old");
  await using stack = await startStack({
    dir,
    args: ["--num-workers", "2", "--db", db],
  });
  assert.equal(await status(stack, old), 200);

  removeDatabase(db);
  await stack.proxy.waitForLog(
    /ERROR\s+\[store\] Database ".*flow-proxy\.db" was deleted/,
  );
  // Until a database is back, the keys already loaded stay in force.
  assert.equal(await status(stack, old), 200);

  const fresh = await createKey(db, "fresh");
  await eventuallyStatus(stack, fresh, 200);
  await stack.proxy.waitForLog(
    /ERROR\s+\[store\] Database ".*flow-proxy\.db" is back after it was deleted: reopened it/,
  );
  assert.equal(await status(stack, old), 401, "the deleted file's key is gone");

  await revokeKey(db, "fresh");
  await eventuallyStatus(stack, fresh, 401);
});

Deno.test("serve notices a database replaced by another file, and applies its keys and revocations", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "flow-proxy-db-replaced-" });
  const db = join(dir, "flow-proxy.db");
  const old = await createKey(db, "old");
  await using stack = await startStack({
    dir,
    args: ["--num-workers", "2", "--db", db],
  });
  assert.equal(await status(stack, old), 200);

  // Built beside it, then renamed over it: the path now names another inode.
  const other = join(dir, "restored.db");
  const replacement = await createKey(other, "restored");
  removeDatabase(db);
  Deno.renameSync(other, db);
  await eventuallyStatus(stack, replacement, 200);
  assert.match(
    await stack.proxy.settledLogs(),
    /ERROR\s+\[store\] Database ".*flow-proxy\.db" (was replaced by another file \(inode \d+ → \d+\)|is back after it was deleted): reopened it/,
  );
  assert.equal(await status(stack, old), 401);

  await revokeKey(db, "restored");
  await eventuallyStatus(stack, replacement, 401);
});
