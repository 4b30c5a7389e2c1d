/**
 * Client-key limits across three real instances behind one Redis, requests
 * spread over all three: a rate limit, a concurrency limit and a token
 * budget hold exactly; 900 requests round-robin over the instances spread
 * 300 ± 3 % over 3 credentials; Redis killed under load fails no request,
 * sets `flow_proxy_redis_up` to 0 and logs one WARNING per instance, and
 * the spend made meanwhile reaches Redis once after the restart; an
 * instance killed with SIGKILL mid-stream leaves the others serving and its
 * concurrency leases expire.
 */
import assert from "node:assert/strict";
import { eventually, PREFIX, startInstances } from "./three_instances.ts";
import { openAiEvents } from "../support/mock_upstream.ts";
import { LEASE_MS } from "../../src/cluster/shared_limits.ts";

const ADMIN = "admin-token-for-shared-limits-8c2e";
const SLOW_HEADER = "x-test-slow";

async function createKey(
  url: string,
  body: Record<string, unknown>,
): Promise<string> {
  const res = await fetch(`${url}/_flow-proxy/admin/keys`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${ADMIN}`,
      "content-type": "application/json",
    },
    body: JSON.stringify(body),
  });
  const made = await res.json();
  assert.equal(res.status, 201, JSON.stringify(made));
  return String(made.key);
}

/** One chat request with `key`; `slow` makes the mock hold its answer. */
async function send(
  url: string,
  key: string,
  slow?: "stream" | number,
): Promise<{ status: number; body: string }> {
  const headers: Record<string, string> = {
    "content-type": "application/json",
    authorization: `Bearer ${key}`,
  };
  if (slow !== undefined) headers[SLOW_HEADER] = String(slow);
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers,
    body: JSON.stringify({ model: "gpt-4o", messages: [] }),
  });
  return { status: res.status, body: await res.text() };
}

async function redisGauge(url: string): Promise<string | undefined> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return /^flow_proxy_redis_up (\d)$/m.exec(text)?.[1];
}

Deno.test("shared limits over three real instances", async (t) => {
  const released = Promise.withResolvers<void>();
  await using cluster = await startInstances({
    args: ["--admin-token", ADMIN],
    behave(req) {
      const slow = req.headers.get(SLOW_HEADER);
      if (slow === null) return undefined;
      // A stream that sends its first event, then nothing more.
      if (slow === "stream") {
        return {
          kind: "sse",
          events: openAiEvents("gpt-4o"),
          stopAfter: 1,
          then: "stall",
        };
      }
      return {
        kind: "respond",
        respond: async () => {
          await Promise.race([
            released.promise,
            new Promise((r) => setTimeout(r, Number(slow))),
          ]);
          return Response.json({
            id: "chatcmpl-slow",
            object: "chat.completion",
            model: "gpt-4o",
            choices: [],
            usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 },
          });
        },
      };
    },
  });
  const proxies = cluster.proxies;
  const [a, b, c] = proxies;
  try {
    const keys = {
      rate: await createKey(a.url, { name: "rate", rpm: 1, burst: 30 }),
      parallel: await createKey(a.url, {
        name: "parallel",
        budget: { period: "day", max_parallel: 3 },
      }),
      tokens: await createKey(a.url, {
        name: "tokens",
        budget: { period: "day", tokens: 200 },
      }),
      spent: await createKey(a.url, {
        name: "spent",
        budget: { period: "day", tokens: 1_000_000 },
      }),
      outage: await createKey(a.url, {
        name: "outage",
        budget: { period: "day", tokens: 1_000_000 },
      }),
      lease: await createKey(a.url, {
        name: "lease",
        budget: { period: "day", max_parallel: 2 },
      }),
      after: await createKey(a.url, { name: "after", rpm: 1, burst: 4 }),
      fallback: await createKey(a.url, { name: "fallback", rpm: 1, burst: 2 }),
      free: await createKey(a.url, { name: "free" }),
    };
    await eventually(10_000, "every key works on B and C", async () => {
      for (const proxy of [b, c]) {
        if ((await send(proxy.url, keys.free)).status !== 200) return false;
      }
      return true;
    });
    // The limited keys reached B and C too (they are synced as one batch).
    assert.equal((await send(c.url, keys.spent)).status, 200);

    await t.step(
      "a rate limit holds exactly over parallel requests spread over all three",
      async () => {
        // 1 rpm, burst 30: nothing refills during the step.
        const results = await Promise.all(
          Array.from(
            { length: 90 },
            (_, i) => send(proxies[i % 3].url, keys.rate),
          ),
        );
        const ok = results.filter((r) => r.status === 200).length;
        assert.equal(ok, 30);
        assert.equal(results.filter((r) => r.status === 429).length, 60);
        assert.match(
          results.find((r) => r.status === 429)!.body,
          /rate_limited/,
        );
      },
    );

    await t.step(
      "a concurrency limit holds exactly over parallel requests spread over all three",
      async () => {
        const results = await Promise.all(
          Array.from(
            { length: 12 },
            (_, i) => send(proxies[i % 3].url, keys.parallel, 4_000),
          ),
        );
        assert.equal(results.filter((r) => r.status === 200).length, 3);
        const refused = results.filter((r) => r.status === 429);
        assert.equal(refused.length, 9);
        assert.match(refused[0].body, /3 requests in flight/);
      },
    );

    await t.step(
      "a token budget holds exactly: 200 tokens at 10 a request serve 20 requests over all three",
      async () => {
        const served = [0, 0, 0];
        const deadline = Date.now() + 30_000;
        await Promise.all(proxies.map(async (proxy, i) => {
          for (let n = 0; n < 200 && Date.now() < deadline; n++) {
            const r = await send(proxy.url, keys.tokens);
            if (r.status === 200) served[i]++;
            else if (/has used/.test(r.body)) return;
            // Refused while another instance's request holds the remainder.
            else await new Promise((r) => setTimeout(r, 20));
          }
        }));
        assert.equal(served[0] + served[1] + served[2], 20, String(served));
        assert.equal(
          await cluster.redis.cli("HGET", `${PREFIX}bg:{tokens}`, "tokens"),
          "200",
        );
      },
    );

    await t.step(
      "900 requests round-robin over 3 instances spread 300 ± 3 % over 3 credentials",
      async () => {
        const before = cluster.upstream.requests.length;
        for (let round = 0; round < 30; round++) {
          await Promise.all(
            Array.from(
              { length: 30 },
              (_, i) => send(proxies[i % 3].url, keys.free),
            ),
          );
        }
        const seen = cluster.upstream.requests.slice(before);
        assert.equal(seen.length, 900);
        for (const credential of cluster.credentials) {
          const served = seen.filter((r) =>
            r.clientId === credential.clientId
          ).length;
          assert.ok(
            served >= 291 && served <= 309,
            `${credential.name} served ${served}`,
          );
        }
      },
    );

    await t.step(
      "Redis killed under load: no request fails, the gauge goes 0, one WARNING per instance; back: spend arrives once",
      async () => {
        for (const proxy of proxies) {
          assert.equal(await redisGauge(proxy.url), "1");
        }
        let stop = false;
        const failures: string[] = [];
        let served = 0;
        const load = Promise.all(proxies.map(async (proxy) => {
          for (let n = 0; n < 2_000 && !stop; n++) {
            const r = await send(proxy.url, keys.spent);
            if (r.status === 200) served++;
            else failures.push(`${r.status} ${r.body}`);
          }
        }));
        await eventually(10_000, "load is running", () => served >= 10);
        await cluster.redis.kill();
        await eventually(
          10_000,
          "every instance shows flow_proxy_redis_up 0",
          async () => {
            for (const proxy of proxies) {
              if (await redisGauge(proxy.url) !== "0") return false;
            }
            return true;
          },
        );
        const servedDown = served;
        await eventually(
          10_000,
          "load goes on without Redis",
          () => served >= servedDown + 30,
        );
        stop = true;
        await load;
        assert.deepEqual(failures, []);
        for (const proxy of proxies) {
          const logs = await proxy.settledLogs();
          const warnings =
            logs.match(/WARNING.*Redis at \S+ is unreachable.*/g) ??
              [];
          assert.equal(warnings.length, 1, logs);
          assert.match(warnings[0], /counted per instance/);
        }
        // 12 requests of another key over all three while Redis is away:
        // exactly their 120 tokens must reach it once it is back.
        for (let i = 0; i < 12; i++) {
          assert.equal(
            (await send(proxies[i % 3].url, keys.outage)).status,
            200,
          );
        }
        // The documented fallback: each instance grants the full limit on
        // its own counters (a burst of 2 each, 6 for the three).
        for (const proxy of proxies) {
          const statuses = [];
          for (let i = 0; i < 4; i++) {
            statuses.push((await send(proxy.url, keys.fallback)).status);
          }
          assert.deepEqual(statuses, [200, 200, 429, 429]);
        }
        await cluster.redis.restart();
        await eventually(
          20_000,
          "every instance shows flow_proxy_redis_up 1",
          async () => {
            for (const proxy of proxies) {
              if (await redisGauge(proxy.url) !== "1") return false;
            }
            return true;
          },
        );
        // The restarted Redis kept nothing: what it counts for the key is what
        // was spent while it was away (buffered), each request once.
        await eventually(
          20_000,
          "the buffered spend arrives",
          async () =>
            Number(
              await cluster.redis.cli("HGET", `${PREFIX}bg:{spent}`, "tokens"),
            ) > 0,
        );
        // Requests let through before the kill were charged to the old Redis;
        // those after it were buffered. The buffered ones sum to 10 per request.
        const counted = Number(
          await cluster.redis.cli("HGET", `${PREFIX}bg:{spent}`, "tokens"),
        );
        assert.equal(counted % 10, 0);
        assert.ok(counted >= 30 * 10 && counted <= served * 10, `${counted}`);
        // Shared again: a burst of 4 holds for the three instances together.
        const again = await Promise.all(
          Array.from(
            { length: 12 },
            (_, i) => send(proxies[i % 3].url, keys.after),
          ),
        );
        assert.equal(again.filter((r) => r.status === 200).length, 4);
        // Nothing more arrives later (nothing is flushed twice).
        await new Promise((r) => setTimeout(r, 1_500));
        assert.equal(
          Number(
            await cluster.redis.cli("HGET", `${PREFIX}bg:{spent}`, "tokens"),
          ),
          counted,
        );
      },
    );

    await t.step(
      "an instance killed with SIGKILL mid-stream: the others serve, its leases expire",
      async () => {
        // Two streams held open on C, each with its first event received;
        // they fail when C dies (caught, so no rejection goes unhandled).
        const held = await Promise.all([1, 2].map(async () => {
          const res = await fetch(`${c.url}/v1/chat/completions`, {
            method: "POST",
            headers: {
              "content-type": "application/json",
              authorization: `Bearer ${keys.lease}`,
              [SLOW_HEADER]: "stream",
            },
            body: JSON.stringify({
              model: "gpt-4o",
              messages: [],
              stream: true,
            }),
          });
          assert.equal(res.status, 200);
          const reader = res.body!.getReader();
          const first = await reader.read();
          assert.match(new TextDecoder().decode(first.value), /data:/);
          return { rest: reader.read().catch((err: unknown) => err) };
        }));
        await eventually(
          10_000,
          "both are in flight in Redis",
          async () =>
            (await cluster.redis.cli("ZCARD", `${PREFIX}bl:{lease}`)) === "2",
        );
        assert.equal((await send(a.url, keys.lease)).status, 429);
        await c.stop("SIGKILL");
        await Promise.all(held.map((h) => h.rest));
        assert.equal((await send(a.url, keys.free)).status, 200);
        assert.equal((await send(b.url, keys.free)).status, 200);
        const killed = Date.now();
        await eventually(
          LEASE_MS * 3,
          "C's leases expire",
          async () => (await send(b.url, keys.lease)).status === 200,
        );
        assert.ok(Date.now() - killed >= LEASE_MS / 2, "expired too early");
      },
    );
  } finally {
    released.resolve();
  }
});
