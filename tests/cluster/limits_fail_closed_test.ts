/**
 * `--redis-limits-fail closed` on a real instance: while its Redis is away a
 * key with a rate limit is refused with 503 `limits_unavailable` in the
 * shape of the API the client speaks, a key without limits is served, and
 * once Redis is back the limited key is served again.
 */
import assert from "node:assert/strict";
import { startProxy, testCredentials, writeSecrets } from "../support/proxy.ts";
import { MockUpstream } from "../support/mock_upstream.ts";
import { startRedis } from "../support/redis.ts";
import { eventually } from "./three_instances.ts";

const ADMIN = "admin-token-for-fail-closed-51d0";

Deno.test("--redis-limits-fail closed: limited keys get 503 limits_unavailable while Redis is away", async () => {
  const credentials = testCredentials(1);
  await using redis = await startRedis();
  const upstream = MockUpstream.start({ credentials });
  const dir = Deno.makeTempDirSync({ prefix: "flow-proxy-fail-closed-" });
  try {
    await using proxy = await startProxy({
      upstream: upstream.url,
      secretsFile: writeSecrets(credentials, dir),
      args: [
        "--num-workers",
        "1",
        "--admin-token",
        ADMIN,
        "--db",
        `${dir}/flow-proxy.db`,
        "--redis-url",
        redis.url(),
      ],
      env: { FLOW_PROXY_REDIS_LIMITS_FAIL: "closed" },
    });
    const create = async (body: Record<string, unknown>) => {
      const res = await fetch(`${proxy.url}/_flow-proxy/admin/keys`, {
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
    };
    const limited = await create({ name: "limited", rpm: 600 });
    const free = await create({ name: "free" });
    const call = async (key: string, path = "/v1/chat/completions") => {
      const res = await fetch(`${proxy.url}${path}`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${key}`,
          "content-type": "application/json",
        },
        body: JSON.stringify({
          model: "gpt-4o",
          messages: [],
          max_tokens: 10,
        }),
      });
      return {
        status: res.status,
        retryAfter: res.headers.get("retry-after"),
        body: await res.json(),
      };
    };
    await eventually(
      10_000,
      "the keys work",
      async () =>
        (await call(limited)).status === 200 &&
        (await call(free)).status === 200,
    );

    await redis.kill();
    await eventually(
      10_000,
      "the limited key is refused",
      async () => (await call(limited)).status === 503,
    );
    const openAi = await call(limited);
    assert.equal(openAi.body.error.type, "limits_unavailable");
    assert.equal(openAi.body.error.code, "limits_unavailable");
    assert.equal(openAi.retryAfter, "1");
    const anthropic = await call(limited, "/v1/messages");
    assert.equal(anthropic.status, 503);
    assert.equal(anthropic.body.type, "error");
    assert.equal(anthropic.body.error.type, "limits_unavailable");
    // A key without limits needs no Redis.
    assert.equal((await call(free)).status, 200);
    const logs = await proxy.settledLogs();
    assert.equal(
      (logs.match(/WARNING.*Redis at \S+ is unreachable.*/g) ?? []).length,
      1,
      logs,
    );
    assert.match(logs, /503 limits_unavailable \(--redis-limits-fail closed\)/);

    await redis.restart();
    await eventually(
      20_000,
      "the limited key is served again",
      async () => (await call(limited)).status === 200,
    );
  } finally {
    await upstream.close();
    Deno.removeSync(dir, { recursive: true });
  }
});
