/**
 * Instances behind one name with `--acme-domain` and one Redis, each with a
 * state directory of its own, against a real ACME server (Debian's pebble)
 * and a real redis-server: one order serves them all, and a challenge
 * created by one instance's order is answered by another (the one the CA
 * reaches, as behind a load balancer).
 */
import assert from "node:assert/strict";
import {
  freePort,
  type ProxyProcess,
  startProxy,
  testCredentials,
  writeSecrets,
} from "../support/proxy.ts";
import { MockUpstream } from "../support/mock_upstream.ts";
import { startRedis } from "../support/redis.ts";
import { hasOpenssl } from "../tls/test_ca.ts";
import { servedFingerprint } from "../tls/tls_proxy.ts";
import {
  acmeServeArgs,
  hasPebble,
  type Pebble,
  startPebble,
} from "../tls/pebble.ts";

const ignore = !hasPebble() || !hasOpenssl();
const PREFIX = "acme-test:";

function startInstance(
  pebble: Pebble,
  redisUrl: string,
  upstream: MockUpstream,
  secretsFile: string,
  challengePort: number,
): Promise<ProxyProcess> {
  return startProxy({
    upstream: upstream.url,
    secretsFile,
    waitHealthy: false,
    args: [
      ...acmeServeArgs(
        pebble,
        Deno.makeTempDirSync({ prefix: "flow-proxy-acme-" }),
        challengePort,
      ),
      "--redis-url",
      redisUrl,
      "--redis-prefix",
      PREFIX,
    ],
  });
}

Deno.test({
  name:
    "instances sharing a Redis take one ACME certificate from one order, and answer each other's challenges",
  ignore,
  async fn() {
    await using redis = await startRedis();
    await using pebble = await startPebble();
    const creds = testCredentials(1);
    await using upstream = MockUpstream.start({ credentials: creds });
    const secrets = writeSecrets(creds);

    // A: the instance the CA reaches (pebble validates on its port).
    await using a = await startInstance(
      pebble,
      redis.url(),
      upstream,
      secrets,
      pebble.httpPort,
    );
    await a.waitForLog(" ready on https://", 60_000);
    assert.match(a.logs(), /ACME certificate issued: localhost/);
    assert.equal(pebble.issued(), 1);
    const first = await servedFingerprint(a.port);

    // B starts with an empty state directory: the shared pair, no order.
    await using b = await startInstance(
      pebble,
      redis.url(),
      upstream,
      secrets,
      freePort(),
    );
    await b.waitForLog(" ready on https://", 60_000);
    assert.match(
      b.logs(),
      /Using the ACME certificate another instance shared through Redis: localhost/,
    );
    assert.doesNotMatch(b.logs(), /Ordering a certificate/);
    assert.equal(pebble.issued(), 1, "one order for both");
    assert.equal(await servedFingerprint(b.port), first);

    // With the shared pair gone, C orders; the CA validates on A's port,
    // and A answers the challenge C created, from Redis.
    assert.equal(
      (await redis.cli("DEL", `${PREFIX}acme:cert:localhost`)).trim(),
      "1",
    );
    await using c = await startInstance(
      pebble,
      redis.url(),
      upstream,
      secrets,
      freePort(),
    );
    await c.waitForLog(" ready on https://", 60_000);
    assert.match(c.logs(), /ACME certificate issued: localhost/);
    assert.equal(pebble.issued(), 2);
    assert.notEqual(await servedFingerprint(c.port), first);

    for (const proxy of [a, b, c]) {
      assert.doesNotMatch(await proxy.settledLogs(), /PRIVATE KEY/);
    }
  },
});
