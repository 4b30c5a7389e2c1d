/**
 * Three real flow-proxy processes behind one test Redis, each with its own
 * directory (secrets file and database), for the tests of what instances
 * share: started and stopped together.
 */
import {
  type ProxyProcess,
  startProxy,
  testCredentials,
  writeSecrets,
} from "../support/proxy.ts";
import { MockUpstream, type SeenRequest } from "../support/mock_upstream.ts";
import { type RedisServer, startRedis } from "../support/redis.ts";

/** Key prefix of the instances in Redis. */
export const PREFIX = "fp-it:";

/** What {@linkcode startInstances} started. */
export interface Instances extends AsyncDisposable {
  redis: RedisServer;
  upstream: MockUpstream;
  proxies: ProxyProcess[];
  credentials: ReturnType<typeof testCredentials>;
  /** Database file of instance `i`. */
  db(i: number): string;
}

/** Options of {@linkcode startInstances}. */
export interface InstancesOptions {
  credentials?: number;
  /** Extra `serve` flags of every instance. */
  args?: string[];
  behave?: (req: SeenRequest) => ReturnType<MockUpstream["behave"]>;
}

/** Starts Redis, a mock upstream and three instances sharing them. */
export async function startInstances(
  options: InstancesOptions = {},
): Promise<Instances> {
  const credentials = testCredentials(options.credentials ?? 3);
  const redis = await startRedis();
  const upstream = MockUpstream.start({
    credentials,
    behave: options.behave,
  });
  const dirs: string[] = [];
  const proxies: ProxyProcess[] = [];
  const db = (i: number) => `${dirs[i]}/flow-proxy.db`;
  async function stop(): Promise<void> {
    await Promise.all(proxies.map((p) => p[Symbol.asyncDispose]()));
    await upstream.close();
    await redis.stop();
    for (const dir of dirs) Deno.removeSync(dir, { recursive: true });
  }
  try {
    for (let i = 0; i < 3; i++) {
      dirs.push(Deno.makeTempDirSync({ prefix: "flow-proxy-cluster-" }));
    }
    const started = await Promise.all(dirs.map((dir, i) =>
      startProxy({
        upstream: upstream.url,
        secretsFile: writeSecrets(credentials, dir),
        args: [
          "--num-workers",
          "1",
          "--redis-url",
          redis.url(),
          "--redis-prefix",
          PREFIX,
          "--db",
          db(i),
          ...(options.args ?? []),
        ],
      })
    ));
    proxies.push(...started);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    redis,
    upstream,
    proxies,
    credentials,
    db,
    [Symbol.asyncDispose]: stop,
  };
}

/** A chat request to `url`; resolves with the status and body. */
export async function chat(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ model: "gpt-4o", messages: [] }),
  });
  return { status: res.status, body: await res.text() };
}

/** Credential `name`'s state on `url`'s `/healthz`. */
export async function credentialState(
  url: string,
  name: string,
): Promise<string | undefined> {
  const res = await fetch(`${url}/healthz`);
  const body = await res.json();
  return body.credentials.states.find((s: { name: string }) => s.name === name)
    ?.state;
}

/** Polls `check` every 25 ms for at most `ms`; throws naming `what` when it never held. */
export async function eventually(
  ms: number,
  what: string,
  check: () => Promise<boolean> | boolean,
): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) {
      throw new Error(`Not within ${ms} ms: ${what}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}
