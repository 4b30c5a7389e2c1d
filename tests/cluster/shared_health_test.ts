/**
 * The credential-health bridge against a real redis-server: two
 * "instances" (each its own shared memory, link and bridge) agree on
 * failures, cool-downs and recoveries, hold one probe between them, and
 * converge again after Redis was down.
 */
import assert from "node:assert/strict";
import { openRedisLink, type RedisLink } from "../../src/cluster/redis_link.ts";
import {
  credentialId,
  type SharedHealth,
  shareHealth,
} from "../../src/cluster/shared_health.ts";
import { parseRedisUrl } from "../../src/config/redis_url.ts";
import {
  createSharedState,
  type SharedState,
} from "../../src/base/shared_state.ts";
import { CREDENTIAL_STATE, HealthTable } from "../../src/upstream/health.ts";
import { type RedisServer, startRedis } from "../support/redis.ts";

const CREDENTIALS = [
  { name: "alpha", clientId: "client-alpha" },
  { name: "beta", clientId: "client-beta" },
];
const TABLE = { backoffBase: 400, backoffMax: 4_000, probeLease: 600 };
const quiet = { warn() {}, info() {} };

interface Instance {
  state: SharedState;
  table: HealthTable;
  link: RedisLink;
  bridge: SharedHealth;
  close(): Promise<void>;
}

async function instance(redis: RedisServer, name: string): Promise<Instance> {
  const state = createSharedState();
  const link = await openRedisLink({
    url: parseRedisUrl(redis.url(), "--redis-url"),
    prefix: "fp-health:",
    timeoutMs: 200,
    name: `flow-proxy-test-${name}`,
    logger: quiet,
  });
  const bridge = shareHealth({
    link,
    state,
    table: TABLE,
    probeLeaseMs: TABLE.probeLease,
    credentials: CREDENTIALS,
    instance: name,
    logger: quiet,
  });
  return {
    state,
    table: new HealthTable(state, TABLE),
    link,
    bridge,
    async close() {
      await bridge.close();
      await link.close();
    },
  };
}

async function until(what: string, check: () => boolean, ms = 3_000) {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

Deno.test("credentialId() names a credential by its name and a digest of its clientId, never the id itself", () => {
  const id = credentialId("alpha", "client-alpha");
  assert.match(id, /^alpha:[0-9a-f]{16}$/);
  assert.ok(!id.includes("client-alpha"));
  assert.notEqual(id, credentialId("alpha", "client-other"));
});

Deno.test("shared health: a failure on one instance reaches the other within a second, with one probe lease between them", async () => {
  await using redis = await startRedis();
  const a = await instance(redis, "a");
  const b = await instance(redis, "b");
  try {
    await a.bridge.settled();
    await b.bridge.settled();
    const started = Date.now();
    assert.ok(a.table.markFailed(0, Date.now()));
    await until(
      "b to see alpha failed",
      () => b.table.state(0) === CREDENTIAL_STATE.FAILED,
    );
    assert.ok(Date.now() - started < 1_000);
    assert.equal(b.table.retryAt(0), a.table.retryAt(0));
    assert.equal(b.table.state(1), CREDENTIAL_STATE.OK);
    // The lease: exactly one instance holds it, the other holds its probe back.
    await until(
      "one lease",
      () => a.bridge.holdsProbe(0) !== b.bridge.holdsProbe(0),
    );
    await until("the other to hold back", () => {
      const other = a.bridge.holdsProbe(0) ? b : a;
      return other.table.probeLease(0) > Date.now();
    });
    const [owner, other] = a.bridge.holdsProbe(0) ? [a, b] : [b, a];
    await until("the backoff to end", () => Date.now() > a.table.retryAt(0));
    assert.equal(other.table.claimProbe(0, Date.now()), false);
    assert.equal(owner.table.claimProbe(0, Date.now()), true);
    // The probe answers well: both see alpha ok again.
    assert.ok(owner.table.restore(0, CREDENTIAL_STATE.FAILED));
    await until(
      "the other to see the recovery",
      () => other.table.state(0) === CREDENTIAL_STATE.OK,
    );
    assert.equal(other.table.probeLease(0), 0);
    assert.equal(
      await redis.cli(
        "EXISTS",
        `fp-health:probe:${credentialId("alpha", "client-alpha")}`,
      ),
      "0",
    );
  } finally {
    await a.close();
    await b.close();
  }
});

Deno.test("shared health: a failed probe doubles the backoff on both; a 429 cool-down is shared", async () => {
  await using redis = await startRedis();
  const a = await instance(redis, "a");
  const b = await instance(redis, "b");
  try {
    await a.bridge.settled();
    await b.bridge.settled();
    a.table.markFailed(0, Date.now());
    await until(
      "a lease",
      () => a.bridge.holdsProbe(0) || b.bridge.holdsProbe(0),
    );
    const owner = a.bridge.holdsProbe(0) ? a : b;
    const other = owner === a ? b : a;
    await until(
      "the backoff to end",
      () => Date.now() > owner.table.retryAt(0),
    );
    assert.ok(owner.table.claimProbe(0, Date.now()));
    const wait = owner.table.failProbe(0, Date.now());
    assert.equal(wait, 800);
    await until(
      "the other to see two failures",
      () => other.table.snapshot(0).failures === 2,
    );
    assert.equal(other.table.retryAt(0), owner.table.retryAt(0));

    const until429 = Date.now() + 5_000;
    b.table.coolDown(1, until429);
    await until(
      "a to cool beta",
      () => a.table.state(1) === CREDENTIAL_STATE.COOLING,
    );
    assert.equal(a.table.retryAt(1), until429);
    assert.deepEqual(a.table.view(2, Date.now()).usable, []);
  } finally {
    await a.close();
    await b.close();
  }
});

Deno.test("shared health: an instance gone while it holds the lease lets it expire, and the other probes", async () => {
  await using redis = await startRedis();
  const a = await instance(redis, "a");
  const b = await instance(redis, "b");
  try {
    await a.bridge.settled();
    await b.bridge.settled();
    a.table.markFailed(0, Date.now());
    // A wins the lease: it contested first, on its own failure.
    await until("a's lease", () => a.bridge.holdsProbe(0));
    await until("b to hold back", () => b.table.probeLease(0) > Date.now());
    // A dies without a word: no release, its lease runs out in Redis.
    await a.bridge.close();
    a.link.client.disconnect();
    await until("b to take the lease", () => b.bridge.holdsProbe(0), 5_000);
    await until(
      "b's probe to be free",
      () => b.table.claimProbe(0, Date.now()),
    );
  } finally {
    await a.link.close();
    await b.close();
  }
});

Deno.test("shared health: while Redis is down each instance keeps its own; after it is back they converge", async () => {
  const redis = await startRedis();
  try {
    const a = await instance(redis, "a");
    const b = await instance(redis, "b");
    try {
      await a.bridge.settled();
      await b.bridge.settled();
      await redis.kill();
      await until("a to notice", () => !a.link.up);
      assert.ok(a.table.markFailed(1, Date.now()));
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(b.table.state(1), CREDENTIAL_STATE.OK);
      await redis.restart();
      await until(
        "b to see beta failed after the restart",
        () => b.table.state(1) === CREDENTIAL_STATE.FAILED,
        8_000,
      );
      assert.equal(b.table.retryAt(1), a.table.retryAt(1));
    } finally {
      await a.close();
      await b.close();
    }
  } finally {
    await redis.stop();
  }
});
