/**
 * Credential health across three real instances behind one Redis: a 401
 * on one takes the credential out of all three within a second, each
 * backoff round sends ONE probe in total, a 429's cool-down is shared, an
 * instance killed while it holds the probe lease lets another probe, and
 * with Redis down every instance keeps serving on its own health.
 */
import assert from "node:assert/strict";
import {
  chat,
  credentialState,
  eventually,
  PREFIX,
  startInstances,
} from "./three_instances.ts";
import type { Behaviour, SeenRequest } from "../support/mock_upstream.ts";

const ARGS = [
  "--backoff-base",
  "2s",
  "--backoff-max",
  "30s",
  "--connect-timeout",
  "1s",
  "--headers-timeout",
  "2s",
];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function ok(): Response {
  return Response.json({
    id: "chatcmpl-1",
    object: "chat.completion",
    choices: [{
      index: 0,
      message: { role: "assistant", content: "hi" },
      finish_reason: "stop",
    }],
  });
}

/** Chat requests the mock saw for `clientId`. */
function seen(requests: SeenRequest[], clientId: string): number {
  return requests.filter((r) =>
    r.clientId === clientId && r.path.endsWith("/chat/completions")
  ).length;
}

Deno.test("shared health: a 401 on one instance is skipped by all within a second; one probe per round in total; recovery reaches all", async () => {
  let mode: "refuse" | "slow" | "ok" = "refuse";
  let probeAnswered = false;
  await using cluster = await startInstances({
    args: ARGS,
    behave: (req): Behaviour | undefined => {
      if (req.clientId !== "client-cred-1") return undefined;
      if (mode === "refuse") return { kind: "status", status: 401 };
      if (mode === "slow") {
        return {
          kind: "respond",
          respond: () =>
            sleep(800).then(() => {
              probeAnswered = true;
              return ok();
            }),
        };
      }
      return undefined;
    },
  });
  const [a, b, c] = cluster.proxies;
  const requests = cluster.upstream.requests;
  // Instance A meets the 401 (its round-robin reaches cred-1 within three).
  for (let i = 0; i < 6 && seen(requests, "client-cred-1") === 0; i++) {
    assert.equal((await chat(a.url)).status, 200);
  }
  assert.equal(seen(requests, "client-cred-1"), 1);
  const refused = Date.now();
  await eventually(
    1_000,
    "B and C to mark cred-1 failed",
    async () =>
      (await credentialState(b.url, "cred-1")) !== "ok" &&
      (await credentialState(c.url, "cred-1")) !== "ok",
  );
  assert.ok(Date.now() - refused < 1_000);
  // B and C never send it during the backoff.
  for (let i = 0; i < 6; i++) {
    assert.equal((await chat(i % 2 ? b.url : c.url)).status, 200);
  }
  assert.equal(seen(requests, "client-cred-1"), 1);

  // The backoff ends: traffic on all three, yet ONE probe (refused again).
  await sleep(2_000);
  for (let round = 0; round < 8; round++) {
    const answers = await Promise.all(
      cluster.proxies.map((p) => chat(p.url)),
    );
    assert.deepEqual(answers.map((x) => x.status), [200, 200, 200]);
  }
  assert.equal(seen(requests, "client-cred-1"), 2);

  // Next round (4 s backoff) the credential answers, slowly: while its
  // probe is in flight, traffic on all three sends no other.
  mode = "slow";
  const pending: Promise<unknown>[] = [];
  const fire = () => {
    for (const p of cluster.proxies) pending.push(chat(p.url));
  };
  await eventually(8_000, "the second probe", () => {
    fire();
    return seen(requests, "client-cred-1") >= 3;
  });
  for (let i = 0; i < 8; i++) {
    fire();
    await sleep(40);
  }
  assert.ok(!probeAnswered, "the probe took longer than the check");
  assert.equal(seen(requests, "client-cred-1"), 3);
  await Promise.all(pending);
  mode = "ok";
  await eventually(
    3_000,
    "cred-1 to be ok on all three",
    async () =>
      (await Promise.all(
        cluster.proxies.map((p) => credentialState(p.url, "cred-1")),
      )).every((s) => s === "ok"),
  );
});

Deno.test("shared health: a 429 with Retry-After on one instance cools the credential on all", async () => {
  let limited = true;
  await using cluster = await startInstances({
    args: ARGS,
    behave: (req): Behaviour | undefined =>
      req.clientId === "client-cred-2" && limited
        ? { kind: "status", status: 429, headers: { "retry-after": "20" } }
        : undefined,
  });
  const [a, b, c] = cluster.proxies;
  const requests = cluster.upstream.requests;
  for (let i = 0; i < 6 && seen(requests, "client-cred-2") === 0; i++) {
    await chat(a.url);
  }
  assert.equal(seen(requests, "client-cred-2"), 1);
  limited = false;
  await eventually(
    1_000,
    "B and C to cool cred-2",
    async () =>
      (await credentialState(b.url, "cred-2")) === "cooling" &&
      (await credentialState(c.url, "cred-2")) === "cooling",
  );
  for (let i = 0; i < 6; i++) {
    assert.equal((await chat(i % 2 ? b.url : c.url)).status, 200);
  }
  assert.equal(seen(requests, "client-cred-2"), 1);
});

Deno.test("shared health: an instance killed (SIGKILL) while it holds the probe lease: the lease expires and another probes", async () => {
  let mode: "refuse" | "hang" | "ok" = "refuse";
  await using cluster = await startInstances({
    args: ARGS,
    behave: (req): Behaviour | undefined => {
      if (req.clientId !== "client-cred-3") return undefined;
      if (mode === "refuse") return { kind: "status", status: 401 };
      if (mode === "hang") return { kind: "hang" };
      return undefined;
    },
  });
  const requests = cluster.upstream.requests;
  const [a] = cluster.proxies;
  for (let i = 0; i < 6 && seen(requests, "client-cred-3") === 0; i++) {
    await chat(a.url);
  }
  assert.equal(seen(requests, "client-cred-3"), 1);
  // Who holds the lease: its value names the process.
  const leaseKey = `${PREFIX}probe:${
    (await cluster.redis.cli("HKEYS", `${PREFIX}health`)).split("\n")
      .find((k) => k.startsWith("cred-3:"))
  }`;
  let holder = "";
  await eventually(2_000, "a lease holder", async () => {
    holder = await cluster.redis.cli("GET", leaseKey);
    return holder !== "";
  });
  const owner = cluster.proxies.find((p) =>
    holder.includes(`-${p.child.pid}-`)
  );
  assert.ok(owner, `no instance holds ${holder}`);
  // Its probe hangs upstream; then it dies without a word.
  mode = "hang";
  await eventually(6_000, "the owner's probe", async () => {
    void chat(owner.url).catch(() => {});
    await sleep(100);
    return seen(requests, "client-cred-3") === 2;
  });
  await owner.stop("SIGKILL");
  mode = "ok";
  const others = cluster.proxies.filter((p) => p !== owner);
  // The lease (backoff left + 3 s probe time) runs out; one of the others probes.
  await eventually(
    8_000,
    "cred-3 back on the other two",
    async () => {
      await Promise.all(others.map((p) => chat(p.url)));
      return (await Promise.all(
        others.map((p) => credentialState(p.url, "cred-3")),
      )).every((s) => s === "ok");
    },
  );
  assert.notEqual(await cluster.redis.cli("GET", leaseKey), holder);
});

Deno.test("shared health: with Redis down no request fails and health stays local; after a restart it is shared again", async () => {
  let refuse = false;
  await using cluster = await startInstances({
    args: ARGS,
    behave: (req): Behaviour | undefined =>
      refuse && req.clientId === "client-cred-1"
        ? { kind: "status", status: 401 }
        : undefined,
  });
  const [a, b] = cluster.proxies;
  await cluster.redis.kill();
  await a.waitForLog("is unreachable", 5_000);
  refuse = true;
  for (let i = 0; i < 9; i++) {
    const p = cluster.proxies[i % 3];
    assert.equal((await chat(p.url)).status, 200);
  }
  // Each instance met the 401 itself: nothing was shared.
  assert.equal(
    seen(cluster.upstream.requests, "client-cred-1"),
    3,
  );
  refuse = false;
  await cluster.redis.restart();
  await eventually(
    8_000,
    "the failure back in Redis",
    async () => (await cluster.redis.cli("HLEN", `${PREFIX}health`)) === "3",
  );
  assert.notEqual(await credentialState(b.url, "cred-1"), "ok");
});
