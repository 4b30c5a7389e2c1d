import assert from "node:assert/strict";
import { openAccounts } from "../../src/accounts/accounts.ts";
import { SEEN_GRAIN_MS } from "../../src/accounts/replica.ts";
import { CLI, FAST_SCRYPT, PASSWORD, T0 } from "./helpers.ts";

function tempDb(): string {
  return `${Deno.makeTempDirSync({ prefix: "flow-proxy-accounts-" })}/a.db`;
}

function open(now = () => T0) {
  return openAccounts(tempDb(), { now, scrypt: FAST_SCRYPT });
}

const asReplicas = (rows: [string, string][]) =>
  rows.map(([field, text]) => ({ field, row: JSON.parse(text) }));

Deno.test("account replicas: a user, team, session and token made on one table work in another, by hash only", async () => {
  using a = open();
  using b = open();
  a.createTeam("core", CLI);
  await a.createUser({
    name: "alice",
    role: "member",
    team: "core",
    password: PASSWORD,
  }, CLI);
  const login = await a.login("alice", PASSWORD, "192.0.2.1");
  assert.ok(login.ok);
  const token = a.createToken("alice", { name: "ci", expiresAt: null }, CLI);
  const rows = a.replicaRows();
  assert.deepEqual(rows.map(([f]) => f.split(":")[0]), [
    "team",
    "user",
    "session",
    "token",
  ]);
  const text = JSON.stringify(rows);
  assert.ok(!text.includes(login.sessionId) && !text.includes(token.token));
  assert.ok(!text.includes(PASSWORD));
  // Applied in any order: teams and users first.
  const applied = b.mergeReplicas(asReplicas(rows).reverse());
  assert.equal(applied.length, 4);
  assert.equal(b.getUser("alice")?.team, "core");
  assert.equal(b.session(login.sessionId)?.user.name, "alice");
  assert.equal(b.tokenUser(token.token)?.name, "alice");
  assert.ok((await b.login("alice", PASSWORD, "192.0.2.1")).ok);
  assert.deepEqual(
    b.replicaRows().filter(([f]) => !f.startsWith("session:")),
    rows.filter(([f]) => !f.startsWith("session:")),
  );
});

Deno.test("account replicas: deletions and a disabled user end sessions; a session of an unknown user waits", async () => {
  let now = T0;
  using a = open(() => now);
  using b = open(() => now);
  await a.createUser({ name: "bob", role: "member", password: PASSWORD }, CLI);
  const login = await a.login("bob", PASSWORD, "192.0.2.1");
  assert.ok(login.ok);
  const rows = asReplicas(a.replicaRows());
  const session = rows.find((r) => r.field.startsWith("session:"))!;
  assert.deepEqual(b.mergeReplicas([session]), []);
  assert.equal(b.mergeReplicas(rows).length, 2);
  assert.ok(b.session(login.sessionId));
  // Later use on b travels rounded down; the later one wins on merge.
  now += 3 * SEEN_GRAIN_MS;
  b.session(login.sessionId);
  const used = asReplicas(b.replicaRows()).find((r) =>
    r.field === session.field
  )!;
  assert.equal(used.row!.last_seen_at, T0 + 3 * SEEN_GRAIN_MS);
  a.mergeReplicas([used, { ...session }]);
  assert.equal(
    asReplicas(a.replicaRows()).find((r) => r.field === session.field)!.row!
      .last_seen_at,
    T0 + 3 * SEEN_GRAIN_MS,
  );
  // The session ended elsewhere: gone here.
  b.mergeReplicas([{ field: session.field, row: null }]);
  assert.equal(b.session(login.sessionId), null);
  // Bob disabled elsewhere: his row says so, and he cannot log in.
  a.updateUser("bob", { disabled: true }, CLI);
  b.mergeReplicas(asReplicas(a.replicaRows()));
  assert.notEqual(b.getUser("bob")?.disabledAt, null);
  assert.equal((await b.login("bob", PASSWORD, "192.0.2.1")).ok, false);
  // Deleted elsewhere: deleted here.
  b.mergeReplicas([{ field: "user:bob", row: null }]);
  assert.equal(b.getUser("bob"), null);
  // A malformed row is left out, not thrown.
  assert.deepEqual(
    b.mergeReplicas([{ field: "session:x", row: { user: 1 } }]),
    [],
  );
});
