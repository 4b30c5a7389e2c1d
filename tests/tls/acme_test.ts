/**
 * `serve --acme-domain` against a real ACME server (Debian's pebble, on
 * 127.0.0.1): the first order over HTTP-01, the stored files, reuse on a
 * restart, renewal while serving, and failed orders retried and reported.
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
import { hasOpenssl } from "./test_ca.ts";
import { servedFingerprint } from "./tls_proxy.ts";
import {
  acmeServeArgs,
  hasPebble,
  type Pebble,
  startPebble,
} from "./pebble.ts";

const ignore = !hasPebble() || !hasOpenssl();

/** Starts `serve` ordering a certificate for localhost from `pebble`. */
async function startAcmeProxy(
  pebble: Pebble,
  stateDir: string,
  upstream: MockUpstream,
  secretsFile: string,
  args: string[] = [],
): Promise<ProxyProcess> {
  return await startProxy({
    upstream: upstream.url,
    secretsFile,
    waitHealthy: false,
    args: [...acmeServeArgs(pebble, stateDir), ...args],
  });
}

async function healthz(port: number, root: string) {
  const client = Deno.createHttpClient({ caCerts: [root] });
  try {
    const res = await fetch(`https://localhost:${port}/healthz`, { client });
    return await res.json();
  } finally {
    client.close();
  }
}

function modeOf(path: string): number {
  return Deno.statSync(path).mode! & 0o777;
}

Deno.test({
  name:
    "serve --acme-domain orders from pebble, stores mode 600 and reuses the stored certificate on a restart",
  ignore,
  async fn() {
    await using pebble = await startPebble();
    const creds = testCredentials(1);
    await using upstream = MockUpstream.start({ credentials: creds });
    const secrets = writeSecrets(creds);
    const stateDir = Deno.makeTempDirSync({ prefix: "flow-proxy-acme-" });
    const root = await pebble.root();
    let first: string;
    {
      await using proxy = await startAcmeProxy(
        pebble,
        stateDir,
        upstream,
        secrets,
      );
      await proxy.waitForLog(" ready on https://", 60_000);
      assert.match(proxy.logs(), /ACME certificate issued: localhost/);
      assert.equal(pebble.issued(), 1);
      // Trusting pebble's root only: the served chain goes through its intermediate.
      const health = await healthz(proxy.port, root);
      assert.deepEqual(health.tls.names, ["localhost"]);
      first = health.tls.sha256;
      for (const name of ["account.key", "cert.pem", "key.pem"]) {
        assert.equal(modeOf(`${stateDir}/${name}`), 0o600, name);
      }
      const intermediate = (await pebble.intermediate()).trim();
      assert.ok(
        Deno.readTextFileSync(`${stateDir}/cert.pem`).includes(
          intermediate.split("\n").slice(1, 3).join("\n"),
        ),
        "the stored chain carries pebble's intermediate",
      );
      assert.doesNotMatch(proxy.logs(), /PRIVATE KEY/);
    }
    await using again = await startAcmeProxy(
      pebble,
      stateDir,
      upstream,
      secrets,
    );
    await again.waitForLog(" ready on https://", 30_000);
    assert.match(again.logs(), /Using the stored ACME certificate: localhost/);
    assert.doesNotMatch(again.logs(), /Ordering a certificate/);
    assert.equal(pebble.issued(), 1, "no second order");
    assert.equal((await healthz(again.port, root)).tls.sha256, first);
  },
});

Deno.test({
  name:
    "serve --acme-domain renews at two thirds of the lifetime while serving, and reports failed renewals",
  ignore,
  async fn() {
    await using pebble = await startPebble({ validitySeconds: 15 });
    const creds = testCredentials(1);
    await using upstream = MockUpstream.start({ credentials: creds });
    const stateDir = Deno.makeTempDirSync({ prefix: "flow-proxy-acme-" });
    await using proxy = await startAcmeProxy(
      pebble,
      stateDir,
      upstream,
      writeSecrets(creds),
    );
    await proxy.waitForLog(" ready on https://", 60_000);
    const before = await servedFingerprint(proxy.port);
    await proxy.waitForLog(
      "Reloaded the TLS certificate (ACME renewal)",
      30_000,
    );
    assert.equal(pebble.issued(), 2);
    const after = await servedFingerprint(proxy.port);
    assert.notEqual(after, before, "new connections get the renewed one");
    // The CA goes away: the next renewal fails, is logged and counted, and retried.
    await pebble.stop();
    await proxy.waitForLog(
      /ERROR.*ACME renewal for localhost failed \(attempt 1;/,
      30_000,
    );
    await proxy.waitForLog(
      /ACME renewal for localhost failed \(attempt 2;/,
      30_000,
    );
    const metrics = await curlMetrics(proxy.port);
    assert.match(metrics, /flow_proxy_acme_orders_total\{outcome="issued"\} 2/);
    assert.match(
      metrics,
      /flow_proxy_acme_orders_total\{outcome="failed"\} [2-9]/,
    );
  },
});

async function curlMetrics(port: number): Promise<string> {
  const out = await new Deno.Command("curl", {
    args: ["-sSk", `https://127.0.0.1:${port}/metrics`],
    stdin: "null",
  }).output();
  return new TextDecoder().decode(out.stdout);
}

Deno.test({
  name:
    "serve --acme-domain retries a failed first order with backoff, then stops with the reason",
  ignore,
  async fn() {
    await using pebble = await startPebble();
    const creds = testCredentials(1);
    await using upstream = MockUpstream.start({ credentials: creds });
    const stateDir = Deno.makeTempDirSync({ prefix: "flow-proxy-acme-" });
    // pebble validates on its httpPort; the challenge listener is elsewhere.
    const wrong = { ...pebble, httpPort: freePort() };
    await using proxy = await startAcmeProxy(
      wrong as Pebble,
      stateDir,
      upstream,
      writeSecrets(creds),
    );
    const status = await Promise.race([
      proxy.child.status,
      new Promise<null>((r) => setTimeout(() => r(null), 60_000)),
    ]);
    assert.ok(status !== null, "serve gave up within the bound");
    assert.equal(status.code, 1);
    const logs = await proxy.settledLogs();
    assert.match(
      logs,
      /ERROR.*ACME order failed \(attempt 1 of 3; next in 1 s\)/,
    );
    assert.match(logs, /ACME order failed \(attempt 2 of 3; next in 2 s\)/);
    assert.match(logs, /No certificate over ACME after 3 attempts: .+/);
    assert.equal(pebble.issued(), 0);
  },
});
