/**
 * Fault injection: credentials that go bad, an upstream that errors, hangs,
 * stalls or resets — every client request gets a correct answer or the
 * right error, and credentials come back after their backoff.
 */
import assert from "node:assert/strict";
import type { SeenRequest } from "../support/mock_upstream.ts";
import { testCredentials } from "../support/proxy.ts";
import { startStack } from "../support/stack.ts";

function countBy(requests: SeenRequest[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of requests) {
    counts.set(
      r.clientId ?? "none",
      (counts.get(r.clientId ?? "none") ?? 0) + 1,
    );
  }
  return counts;
}

async function get(
  url: string,
  init?: RequestInit,
): Promise<{ status: number; body: string; headers: Headers }> {
  const res = await fetch(url, init);
  return { status: res.status, body: await res.text(), headers: res.headers };
}

interface HealthBody {
  status: string;
  credentials: {
    usable: number;
    total: number;
    states: { name: string; state: string; retryInSeconds: number }[];
  };
}

async function health(
  url: string,
): Promise<{ status: number; body: HealthBody }> {
  const res = await fetch(`${url}/healthz`);
  return { status: res.status, body: await res.json() };
}

/**
 * Polls `/healthz` until credential `name` is in a state `ready` accepts:
 * a backoff's end is an event the proxy shows, so the test waits for it
 * instead of sleeping past it.
 */
async function waitForCredential(
  url: string,
  name: string,
  ready: (state: HealthBody["credentials"]["states"][number]) => boolean,
): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const h = await health(url);
    const state = h.body.credentials.states.find((s) => s.name === name);
    if (state !== undefined && ready(state)) return;
    if (Date.now() > deadline) {
      throw new Error(
        `Credential ${name} not ready within 10 s: ${JSON.stringify(state)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

Deno.test("a credential answered 401/403 fails over, leaves the rotation in every worker, and recovers after its backoff", async (t) => {
  const creds = testCredentials(3);
  let badId: string | null = creds[0].clientId;
  await using stack = await startStack({
    credentials: creds,
    behave: (r) =>
      r.clientId === badId ? { kind: "status", status: 401 } : undefined,
    args: [
      "--num-workers",
      "2",
      "--backoff-base",
      "1500ms",
      "--backoff-max",
      "3s",
    ],
  });
  const { upstream, proxy } = stack;

  await t.step(
    "the client never sees the 401 while another credential works",
    async () => {
      for (let i = 0; i < 12; i++) {
        const res = await get(`${proxy.url}/v1/chat/completions`, {
          method: "POST",
          body: '{"model":"gpt-4o"}',
        });
        assert.equal(res.status, 200, res.body);
      }
      // The bad credential was tried exactly once: after that every worker skipped it.
      assert.equal(countBy(upstream.requests).get(creds[0].clientId), 1);
      await proxy.waitForLog(
        "Configuration 'cred-1' marked as failed (upstream answered 401). Remaining: 2/3",
      );
      await proxy.waitForLog("Failover successful - using config 'cred-2'");
    },
  );

  await t.step("the usable credentials share the load evenly", () => {
    const counts = countBy(upstream.requests.slice(1));
    assert.equal(
      counts.get(creds[1].clientId)! + counts.get(creds[2].clientId)!,
      12,
    );
    assert.ok(
      Math.abs(
        counts.get(creds[1].clientId)! - counts.get(creds[2].clientId)!,
      ) <= 1,
      JSON.stringify([...counts]),
    );
  });

  await t.step(
    "/healthz shows the failed credential by name, still 200",
    async () => {
      const h = await health(proxy.url);
      assert.equal(h.status, 200);
      const states = h.body.credentials.states;
      assert.equal(states.find((s) => s.name === "cred-1")!.state, "failed");
      assert.equal(h.body.credentials.usable, 2);
      assert.ok(!JSON.stringify(h.body).includes(creds[0].clientSecret));
    },
  );

  await t.step("after the backoff one probe brings it back", async () => {
    badId = null;
    // Due for its probe: failed, with no wait left.
    await waitForCredential(
      proxy.url,
      "cred-1",
      (s) => s.state === "failed" && s.retryInSeconds === 0,
    );
    for (let i = 0; i < 6; i++) {
      const res = await get(`${proxy.url}/v1/models`);
      assert.equal(res.status, 200);
    }
    await proxy.waitForLog("Configuration 'cred-1' recovered. Available: 3/3");
    const h = await health(proxy.url);
    assert.equal(h.body.credentials.usable, 3);
  });
});

Deno.test("when every credential is refused, the last upstream answer passes through, then 503 with Retry-After", async () => {
  await using stack = await startStack({
    credentials: 2,
    behave: () => ({
      kind: "status",
      status: 403,
      body: '{"error":{"message":"forbidden by flow"}}',
    }),
    args: ["--backoff-base", "20s"],
  });
  const { upstream, proxy } = stack;
  const first = await get(`${proxy.url}/v1/chat/completions`, {
    method: "POST",
    body: "{}",
  });
  assert.equal(first.status, 403);
  assert.equal(first.body, '{"error":{"message":"forbidden by flow"}}');
  assert.equal(upstream.requests.length, 2);

  const second = await get(`${proxy.url}/v1/chat/completions`, {
    method: "POST",
    body: "{}",
  });
  assert.equal(second.status, 503);
  assert.equal(JSON.parse(second.body).error.type, "no_credentials_available");
  const retryAfter = Number(second.headers.get("retry-after"));
  assert.ok(retryAfter >= 1 && retryAfter <= 20, `retry-after ${retryAfter}`);
  assert.equal(
    upstream.requests.length,
    2,
    "no upstream call without a usable credential",
  );

  const h = await health(proxy.url);
  assert.equal(h.status, 503);
  assert.equal(h.body.status, "no_credentials_available");
});

Deno.test("a 429 cools the credential for Retry-After and the request fails over", async () => {
  const creds = testCredentials(2);
  let limited = true;
  await using stack = await startStack({
    credentials: creds,
    behave: (r) =>
      limited && r.clientId === creds[0].clientId
        ? { kind: "status", status: 429, headers: { "retry-after": "1" } }
        : undefined,
  });
  const { upstream, proxy } = stack;
  const res = await get(`${proxy.url}/v1/models`);
  assert.equal(res.status, 200);
  assert.deepEqual(upstream.requests.map((r) => r.clientId), [
    creds[0].clientId,
    creds[1].clientId,
  ]);
  await proxy.waitForLog(
    "Configuration 'cred-1' rate limited (429); cooling down for 1.0s",
  );
  const h = await health(proxy.url);
  assert.equal(h.body.credentials.states[0].state, "cooling");
  limited = false;
  await waitForCredential(proxy.url, "cred-1", (s) => s.state === "ok");
  for (let i = 0; i < 4; i++) await get(`${proxy.url}/v1/models`);
  assert.ok(
    upstream.requests.slice(2).some((r) => r.clientId === creds[0].clientId),
    "cooled credential never came back",
  );
});

Deno.test("502/503/504 from the upstream fail over without marking the credential failed", async () => {
  let calls = 0;
  await using stack = await startStack({
    credentials: 2,
    behave: () => calls++ === 0 ? { kind: "status", status: 503 } : undefined,
  });
  const { upstream, proxy } = stack;
  const res = await get(`${proxy.url}/v1/chat/completions`, {
    method: "POST",
    body: '{"model":"m"}',
  });
  assert.equal(res.status, 200);
  assert.equal(upstream.requests.length, 2);
  assert.equal(
    upstream.requests[0].body,
    upstream.requests[1].body,
    "the body was replayed",
  );
  const h = await health(proxy.url);
  assert.equal(h.body.credentials.usable, 2);
  assert.ok(!(await proxy.settledLogs()).includes("marked as failed"));
});

Deno.test("a body larger than --retry-body-limit streams once and is not retried", async () => {
  await using stack = await startStack({
    credentials: 2,
    behave: () => ({ kind: "status", status: 503 }),
    args: ["--retry-body-limit", "1KiB"],
  });
  const { upstream, proxy } = stack;
  const body = "x".repeat(4096);
  const res = await get(`${proxy.url}/upload`, { method: "POST", body });
  assert.equal(res.status, 503);
  assert.equal(upstream.requests.length, 1);
  assert.equal(upstream.requests[0].bodyLength, 4096);
});

Deno.test("an upstream that hangs before headers gets 504 upstream_timeout", async () => {
  await using stack = await startStack({
    behave: () => ({ kind: "hang" }),
    args: ["--headers-timeout", "400ms"],
  });
  const { proxy } = stack;
  const res = await get(`${proxy.url}/v1/messages`, {
    method: "POST",
    body: "{}",
  });
  assert.equal(res.status, 504);
  const body = JSON.parse(res.body);
  assert.equal(body.type, "error");
  assert.equal(body.error.type, "upstream_timeout");
});

Deno.test("a stream that stalls or resets mid-way ends with a final SSE error event", async (t) => {
  let mode: "stall" | "reset" = "stall";
  await using stack = await startStack({
    behave: () => ({
      kind: "sse",
      events: ['data: {"n":1}\n\n', 'data: {"n":2}\n\n'],
      stopAfter: 1,
      then: mode,
    }),
    args: ["--idle-timeout", "400ms"],
  });
  const { proxy } = stack;
  await t.step("stall: the idle timeout ends the stream", async () => {
    const res = await get(`${proxy.url}/v1/chat/completions`, {
      method: "POST",
      body: "{}",
    });
    assert.equal(res.status, 200);
    assert.match(
      res.body,
      /^data: \{"n":1\}\n\nevent: error\ndata: \{"error":\{"message":"The upstream sent nothing for 400 ms","type":"upstream_timeout"/,
    );
    await proxy.waitForLog("(upstream_timeout)");
  });
  await t.step("reset: the client sees why the stream ended", async () => {
    mode = "reset";
    const res = await get(`${proxy.url}/v1/messages`, {
      method: "POST",
      body: "{}",
    });
    assert.match(
      res.body,
      /^data: \{"n":1\}\n\nevent: error\ndata: \{"type":"error","error":\{"type":"upstream_unreachable"/,
    );
    await proxy.waitForLog("(stream_error)");
  });
});
