/**
 * What Redis-backed limits cost a request (`--redis-url`): two flow-proxy
 * instances (one worker each) in front of the same mock upstream, one
 * alone and one with a redis-server (Debian's package, started here on a
 * free port), each sent the same sequential keyed requests — a key with a
 * rate limit, and a key with a budget — interleaved in rounds so drift
 * hits both alike. Prints the p50 and p99 latency seen by the client and
 * the CPU time per request of the proxy (and of redis-server), and the
 * difference on against off.
 *
 *   deno task bench:redis [--requests 2000] [--rounds 5]
 *
 * @module
 */
import { parseArgs } from "node:util";
import {
  type ProxyProcess,
  startProxy,
  testCredentials,
  writeSecrets,
} from "../tests/support/proxy.ts";
import { MockUpstream } from "../tests/support/mock_upstream.ts";
import { startRedis } from "../tests/support/redis.ts";
import { clockTicks, cpuTicks, processTree } from "./lib/procs.ts";
import { write } from "./lib/report.ts";

/** One line of the report on stdout. */
const line = (text: string) => write(`${text}\n`);

const { values } = parseArgs({
  args: Deno.args,
  options: {
    requests: { type: "string", default: "2000" },
    rounds: { type: "string", default: "5" },
  },
});
const REQUESTS = Number(values.requests);
const ROUNDS = Number(values.rounds);
if (!(REQUESTS > 0 && ROUNDS > 0)) {
  throw new RangeError("--requests and --rounds must be positive numbers");
}
const ADMIN = "bench-admin-token-redis";
const BODY = JSON.stringify({
  model: "gpt-4o",
  messages: [{ role: "user", content: "hi" }],
});

async function createKey(
  proxy: ProxyProcess,
  body: Record<string, unknown>,
): Promise<string> {
  const res = await fetch(`${proxy.url}/_flow-proxy/admin/keys`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${ADMIN}`,
      "content-type": "application/json",
    },
    body: JSON.stringify(body),
  });
  const made = await res.json();
  if (res.status !== 201) {
    throw new Error(`Cannot create a key: ${JSON.stringify(made)}`);
  }
  return String(made.key);
}

/** Sequential requests with `key`: the latency of each, ms, and the proxy's CPU ticks. */
async function run(
  proxy: ProxyProcess,
  key: string,
  count: number,
): Promise<{ latencies: number[]; ticks: number }> {
  const pids = processTree(proxy.child.pid);
  const latencies: number[] = [];
  const before = cpuTicks(pids);
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    const res = await fetch(`${proxy.url}/v1/chat/completions`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${key}`,
        "content-type": "application/json",
      },
      body: BODY,
    });
    await res.arrayBuffer();
    latencies.push(performance.now() - start);
    if (res.status !== 200) throw new Error(`Request answered ${res.status}`);
  }
  return { latencies, ticks: cpuTicks(pids) - before };
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

const credentials = testCredentials(1);
const upstream = MockUpstream.start({ credentials });
await using redis = await startRedis();
const dirs: string[] = [];
const proxies: Record<"off" | "on", ProxyProcess> = {} as never;
try {
  for (const variant of ["off", "on"] as const) {
    const dir = Deno.makeTempDirSync({ prefix: "flow-proxy-redis-bench-" });
    dirs.push(dir);
    proxies[variant] = await startProxy({
      upstream: upstream.url,
      secretsFile: writeSecrets(credentials, dir),
      args: [
        "--num-workers",
        "1",
        "--admin-token",
        ADMIN,
        "--db",
        `${dir}/flow-proxy.db`,
        ...(variant === "on" ? ["--redis-url", redis.url()] : []),
      ],
    });
  }
  const keys: Record<string, Record<"off" | "on", string>> = {
    "rate limit": { off: "", on: "" },
    "budget": { off: "", on: "" },
  };
  for (const variant of ["off", "on"] as const) {
    keys["rate limit"][variant] = await createKey(proxies[variant], {
      name: "bench-rate",
      rpm: 1_000_000,
      burst: 1_000_000,
    });
    keys["budget"][variant] = await createKey(proxies[variant], {
      name: "bench-budget",
      budget: { period: "month", tokens: 1_000_000_000, max_parallel: 1000 },
    });
  }
  // A new key reaches the worker a moment after the store made it.
  for (const byVariant of Object.values(keys)) {
    for (const variant of ["off", "on"] as const) {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const res = await fetch(`${proxies[variant].url}/v1/chat/completions`, {
          method: "POST",
          headers: { authorization: `Bearer ${byVariant[variant]}` },
          body: BODY,
        });
        const text = await res.text();
        if (res.status === 200) break;
        if (Date.now() > deadline) {
          throw new Error(
            `A new key on ${variant} still answers ${res.status} after 10 s: ${text}`,
          );
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }
  const hz = await clockTicks();
  const redisPids = processTree(redis.pid);
  line(
    `flow-proxy Redis limits: ${ROUNDS} rounds × ${REQUESTS} sequential requests per variant and key (1 worker, mock upstream, loopback)\n`,
  );
  line(
    "| key | Redis | p50 ms | p99 ms | proxy CPU µs/req | redis-server CPU µs/req |",
  );
  line("|---|---|---|---|---|---|");
  for (const [name, byVariant] of Object.entries(keys)) {
    const all = { off: [] as number[], on: [] as number[] };
    const ticks = { off: 0, on: 0 };
    let redisTicks = 0;
    // Warm-up: JIT, connections, script load.
    for (const variant of ["off", "on"] as const) {
      await run(proxies[variant], byVariant[variant], 200);
    }
    for (let round = 0; round < ROUNDS; round++) {
      for (const variant of ["off", "on"] as const) {
        const redisBefore = cpuTicks(redisPids);
        const { latencies, ticks: used } = await run(
          proxies[variant],
          byVariant[variant],
          REQUESTS,
        );
        all[variant].push(...latencies);
        ticks[variant] += used;
        if (variant === "on") redisTicks += cpuTicks(redisPids) - redisBefore;
      }
    }
    const total = REQUESTS * ROUNDS;
    const rows: Record<
      "off" | "on",
      { p50: number; p99: number; cpu: number }
    > = {} as never;
    for (const variant of ["off", "on"] as const) {
      const sorted = all[variant].sort((x, y) => x - y);
      rows[variant] = {
        p50: quantile(sorted, 0.5),
        p99: quantile(sorted, 0.99),
        cpu: (ticks[variant] / hz) * 1e6 / total,
      };
      line(
        `| ${name} | ${variant} | ${rows[variant].p50.toFixed(3)} | ${
          rows[variant].p99.toFixed(3)
        } | ${rows[variant].cpu.toFixed(0)} | ${
          variant === "on" ? ((redisTicks / hz) * 1e6 / total).toFixed(0) : "–"
        } |`,
      );
    }
    line(
      `| ${name} | added | ${(rows.on.p50 - rows.off.p50).toFixed(3)} | ${
        (rows.on.p99 - rows.off.p99).toFixed(3)
      } | ${(rows.on.cpu - rows.off.cpu).toFixed(0)} | |`,
    );
  }
  line(
    `\nCPU from /proc at ${hz} ticks/s: a tick is ${
      (1e6 / hz).toFixed(0)
    } µs; over ${ROUNDS} measurements of ${REQUESTS} requests the per-request CPU figures are good to about ±${
      ((1e6 / hz) * ROUNDS / (REQUESTS * ROUNDS)).toFixed(1)
    } µs.`,
  );
} finally {
  for (const proxy of Object.values(proxies)) {
    await proxy?.[Symbol.asyncDispose]();
  }
  await upstream.close();
  for (const dir of dirs) Deno.removeSync(dir, { recursive: true });
}
