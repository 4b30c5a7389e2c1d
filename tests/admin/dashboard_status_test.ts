import assert from "node:assert/strict";
import {
  ADMIN_TOKEN,
  dashboardFixture,
  login,
  record,
} from "./dashboard_fixture.ts";
import { ACTIONS, PERMISSIONS, ROLES } from "../../src/accounts/permissions.ts";
import { OverviewSampler } from "../../src/observe/overview.ts";
import type { MetricsSnapshot } from "../../src/observe/metrics_snapshot.ts";

const STATUS_ROUTES = ["about", "credentials", "overview"];

Deno.test("dashboard status routes: admin, operator and viewer read them, a member is refused", async (t) => {
  await using f = await dashboardFixture();
  const expected = { admin: 200, operator: 200, member: 403, viewer: 200 };
  for (const route of STATUS_ROUTES) {
    for (const role of ROLES) {
      await t.step(`${role}: GET ${route}`, async () => {
        const res = await f.call(route, { bearer: f.tokens[role] });
        const body = await res.json();
        assert.equal(res.status, expected[role], JSON.stringify(body));
        if (res.status === 403) {
          assert.match(body.error.message, /status\.read/);
        }
      });
    }
  }
});

Deno.test("GET about: version, uptime, workers, every option with its source, and no secret", async () => {
  const secret = "admin-token-0123456789abcdef";
  await using f = await dashboardFixture({
    args: [
      "--port",
      "9100",
      "--redis-url",
      "redis://:hunter2-redis-pw@127.0.0.1:6379/0",
      "--clickhouse-url",
      "http://127.0.0.1:8123",
    ],
    env: {
      FLOW_PROXY_ADMIN_TOKEN: secret,
      FLOW_PROXY_HOST: "127.0.0.2",
      FLOW_PROXY_CLICKHOUSE_PASSWORD: "ch-env-password",
    },
  });
  const res = await f.call("about", { bearer: ADMIN_TOKEN });
  assert.equal(res.status, 200);
  const text = await res.text();
  for (
    const leak of [secret, "hunter2-redis-pw", "ch-env-password"]
  ) {
    assert.ok(!text.includes(leak), `About shows ${leak}`);
  }
  const body = JSON.parse(text);
  assert.equal(typeof body.version, "string");
  assert.equal(body.uptime_seconds, 90);
  assert.deepEqual(body.workers, { ready: 1, expected: 1 });
  assert.equal(body.tls, null);
  assert.ok(
    body.docs.length > 0 &&
      body.docs.every((d: { url: string }) => d.url.startsWith("https://")),
  );
  const row = (option: string) =>
    body.configuration.find((c: { option: string }) => c.option === option);
  assert.deepEqual(row("--port"), {
    option: "--port",
    env: "FLOW_PROXY_PORT",
    value: "9100",
    source: "flag",
  });
  assert.deepEqual(row("--host"), {
    option: "--host",
    env: "FLOW_PROXY_HOST",
    value: "127.0.0.2",
    source: "env",
  });
  assert.equal(row("--admin-token").value, "***");
  assert.equal(row("--admin-token").source, "env");
  assert.equal(row("--redis-url").value, "redis://:***@127.0.0.1:6379/0");
  assert.equal(row("--max-attempts").source, "default");
  const password = body.configuration.find((c: { env: string }) =>
    c.env === "FLOW_PROXY_CLICKHOUSE_PASSWORD"
  );
  assert.equal(password.value, "***");
});

Deno.test("GET credentials: state, failures, next probe, last error and share of traffic", async () => {
  await using f = await dashboardFixture();
  for (let i = 0; i < 3; i++) {
    f.metrics.observe(record({ id: `r${i}`, ts: f.clock.now }), 0, undefined);
  }
  f.metrics.observe(record({ id: "r9", ts: f.clock.now }), 1, undefined);
  const pick = f.balancer.next()!;
  const backup = pick.name === "backup" ? pick : f.balancer.next()!;
  f.balancer.failed(backup, "401 from Flow");
  const res = await f.call("credentials", { bearer: f.tokens.viewer });
  const { items } = await res.json();
  assert.deepEqual(items, [
    {
      name: "primary",
      state: "ok",
      failures_in_row: 0,
      next_probe_at: null,
      last_error: null,
      requests: 3,
      share: 0.75,
    },
    {
      name: "backup",
      state: "failed",
      failures_in_row: 1,
      next_probe_at: new Date(f.clock.now + 60_000).toISOString(),
      last_error: "401 from Flow",
      requests: 1,
      share: 0.25,
    },
  ]);
});

Deno.test("POST credentials/<name>/probe: ends the backoff (202) for admin and operator only; 404 for an unknown name", async (t) => {
  await using f = await dashboardFixture();
  const failBackup = () => {
    for (let i = 0; i < 4; i++) {
      const pick = f.balancer.next();
      if (pick?.name === "backup") {
        f.balancer.failed(pick, "401");
        return;
      }
    }
  };
  failBackup();
  assert.equal(f.balancer.health()[1].state, "failed");
  for (const role of ["member", "viewer"] as const) {
    await t.step(`${role} is refused and the refusal audited`, async () => {
      const res = await f.call("credentials/backup/probe", {
        method: "POST",
        bearer: f.tokens[role],
      });
      assert.equal(res.status, 403);
      assert.match((await res.json()).error.message, /credentials\.probe/);
      assert.equal(f.accounts.listAudit()[0].outcome, "denied");
    });
  }
  assert.equal(f.balancer.retryAt(1), f.clock.now + 60_000);
  await t.step("operator: 202, due at once, audited", async () => {
    const res = await f.call("credentials/backup/probe", {
      method: "POST",
      bearer: f.tokens.operator,
    });
    assert.equal(res.status, 202);
    assert.deepEqual(await res.json(), { name: "backup", state: "failed" });
    assert.equal(f.balancer.retryAt(1), f.clock.now);
    const [entry] = f.accounts.listAudit();
    assert.deepEqual([entry.action, entry.target, entry.outcome], [
      "credential.probe",
      "backup",
      "ok",
    ]);
    // The next pick is the probe of the failed credential.
    const pick = f.balancer.next()!;
    assert.deepEqual([pick.name, pick.probe], ["backup", true]);
  });
  await t.step("unknown credential: 404", async () => {
    const res = await f.call("credentials/nope/probe", {
      method: "POST",
      bearer: f.tokens.admin,
    });
    assert.equal(res.status, 404);
    assert.match((await res.json()).error.message, /"nope"/);
  });
  await t.step("GET is 405", async () => {
    const res = await f.call("credentials/backup/probe", {
      bearer: f.tokens.admin,
    });
    assert.equal(res.status, 405);
    await res.body?.cancel();
  });
  await t.step("a session without the CSRF token is refused", async () => {
    const session = await login(f, "u-operator");
    const res = await f.call("credentials/backup/probe", {
      method: "POST",
      cookie: session.cookie,
    });
    assert.equal(res.status, 403);
    assert.match((await res.json()).error.message, /CSRF/);
    const ok = await f.call("credentials/backup/probe", {
      method: "POST",
      cookie: session.cookie,
      csrf: session.csrf,
    });
    assert.equal(ok.status, 202);
    await ok.body?.cancel();
  });
});

Deno.test("GET overview: series sampled from the shared metrics, totals, credentials; bad window is 400", async (t) => {
  await using f = await dashboardFixture();
  f.metrics.observe(
    record({ id: "a", ts: f.clock.now, status: 502, error: "upstream_5xx" }),
    0,
    undefined,
  );
  const res = await f.call("overview?window=60", { bearer: f.tokens.admin });
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.interval_seconds, 5);
  assert.deepEqual(body.series, []);
  assert.deepEqual(body.totals, { requests: 1, errors: 1, in_flight: 0 });
  assert.deepEqual(body.credentials.map((c: { name: string }) => c.name), [
    "primary",
    "backup",
  ]);
  for (const bad of ["0", "3601", "abc", "1.5"]) {
    await t.step(`window=${bad}`, async () => {
      const res = await f.call(`overview?window=${bad}`, {
        bearer: f.tokens.admin,
      });
      assert.equal(res.status, 400);
      assert.match((await res.json()).error.message, /"window"/);
    });
  }
});

Deno.test("OverviewSampler: rates, error rate and percentiles per interval, oldest first", () => {
  let t = 1_000_000;
  const empty = (): MetricsSnapshot => ({
    requests: 0,
    errors: 0,
    byCredential: [],
    duration: new Array(16).fill(0),
    ttft: new Array(17).fill(0),
    tokens: 0,
    inFlight: 0,
  });
  let now = empty();
  const sampler = new OverviewSampler({ read: () => now, now: () => t });
  sampler.sample();
  now = { ...empty(), requests: 10, errors: 2, tokens: 500, inFlight: 3 };
  // 10 requests in the 50..100 ms bucket (index 4).
  now.duration[4] = 10;
  t += 5000;
  sampler.sample();
  const [point] = sampler.series(60_000);
  assert.equal(point.tMs, t);
  assert.equal(point.rps, 2);
  assert.equal(point.errorRate, 0.2);
  assert.equal(point.p50Ms, 75);
  assert.equal(point.ttftP50Ms, null);
  assert.equal(point.tokensPerMin, 6000);
  assert.equal(point.inFlight, 3);
  t += 5000;
  sampler.sample();
  assert.equal(sampler.series(60_000).length, 2);
  assert.equal(sampler.series(60_000)[1].rps, 0);
  assert.equal(sampler.series(4000).length, 1);
});

Deno.test("docs/security.md prints the permission matrix of permissions.ts", async () => {
  const text = await Deno.readTextFile(
    new URL("../../docs/security.md", import.meta.url),
  );
  const printed = new Map<string, string[]>();
  for (const line of text.split("\n")) {
    const m = /^\| `([a-z]+\.[a-z]+)` +\|[^|]+\|(.+)\|$/.exec(line);
    if (m) {
      printed.set(
        m[1],
        m[2].split("|").map((c) => c.trim().replace(/ [¹²]$/, "")),
      );
    }
  }
  assert.deepEqual([...printed.keys()].sort(), [...ACTIONS].sort());
  for (const action of ACTIONS) {
    assert.deepEqual(
      printed.get(action),
      ROLES.map((role) => PERMISSIONS[role][action] ?? "—"),
      action,
    );
  }
});

Deno.test("OverviewSampler.start() samples on its timer until stopped", async () => {
  let requests = 0;
  const times: number[] = [];
  const sampler = new OverviewSampler({
    intervalMs: 40,
    read: () => {
      times.push(Date.now());
      requests += 4;
      return {
        requests,
        errors: 0,
        byCredential: [],
        duration: new Array(16).fill(0),
        ttft: new Array(17).fill(0),
        tokens: 0,
        inFlight: 0,
      };
    },
  });
  sampler.start();
  sampler.start(); // a second start changes nothing
  const deadline = Date.now() + 15_000;
  while (sampler.series(60_000).length < 3 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  sampler.stop();
  const series = sampler.series(60_000);
  assert.ok(series.length >= 3, `${series.length} points`);
  assert.ok(series.every((p) => p.rps > 0));
  // The second reading waits for the next whole interval of the clock.
  assert.ok(Math.floor(times[1] / 40) > Math.floor(times[0] / 40));
  const count = times.length;
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(times.length, count, "no reading after stop()");
});
