/**
 * `serve` refuses to start, before listening, with a clear message: only one
 * of --tls-cert/--tls-key (exit 2), a missing file, a key that is not the
 * certificate's, an expired certificate (exit 1); `--tls-allow-expired`
 * serves the expired one.
 */
import assert from "node:assert/strict";
import {
  freePort,
  runCli,
  testCredentials,
  writeSecrets,
} from "../support/proxy.ts";
import { MockUpstream } from "../support/mock_upstream.ts";
import { startProxy } from "../support/proxy.ts";
import { fingerprintOf, hasOpenssl, makeCa, makeLeaf } from "./test_ca.ts";
import { curl, servedFingerprint } from "./tls_proxy.ts";

const ignore = !hasOpenssl();

function serve(dir: string, args: string[], env: Record<string, string> = {}) {
  return runCli([
    "serve",
    "--port",
    String(freePort()),
    "--no-db",
    "--secrets-file",
    writeSecrets(testCredentials(1), dir),
    ...args,
  ], { cwd: dir, env });
}

Deno.test({
  name: "serve refuses a bad TLS configuration before listening",
  ignore,
  async fn(t) {
    const ca = makeCa();
    const a = makeLeaf(ca, "a");
    const b = makeLeaf(ca, "b");
    const old = makeLeaf(ca, "old", { days: -1 });
    try {
      await t.step("--tls-cert alone: exit 2", async () => {
        const out = await serve(ca.dir, ["--tls-cert", a.certFile]);
        assert.equal(out.code, 2, out.stderr);
        assert.match(out.stderr, /error: --tls-cert needs --tls-key too/);
      });
      await t.step("FLOW_PROXY_TLS_KEY alone: exit 2", async () => {
        const out = await serve(ca.dir, [], { FLOW_PROXY_TLS_KEY: a.keyFile });
        assert.equal(out.code, 2, out.stderr);
        assert.match(out.stderr, /error: --tls-key needs --tls-cert too/);
      });
      await t.step("--hsts without TLS: exit 2", async () => {
        const out = await serve(ca.dir, ["--hsts"]);
        assert.equal(out.code, 2, out.stderr);
        assert.match(
          out.stderr,
          /error: --hsts needs --tls-cert and --tls-key/,
        );
      });
      await t.step(
        "a redirect port in use: exit 1, before serving",
        async () => {
          using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
          const out = await serve(ca.dir, [
            "--tls-cert",
            a.certFile,
            "--tls-key",
            a.keyFile,
            "--http-redirect-port",
            String((taken.addr as Deno.NetAddr).port),
          ]);
          assert.equal(out.code, 1, out.stderr);
          assert.match(
            out.stderr,
            /error: Cannot listen on 127\.0\.0\.1:\d+ \(--http-redirect-port\): /,
          );
        },
      );
      await t.step("a missing file: exit 1", async () => {
        const out = await serve(ca.dir, [
          "--tls-cert",
          "missing.pem",
          "--tls-key",
          a.keyFile,
        ]);
        assert.equal(out.code, 1, out.stderr);
        assert.match(
          out.stderr,
          /error: Cannot read TLS certificate file ".*\/missing\.pem": /,
        );
        assert.doesNotMatch(out.stderr, /ready on/);
      });
      await t.step("the key of another certificate: exit 1", async () => {
        const out = await serve(ca.dir, [
          "--tls-cert",
          a.certFile,
          "--tls-key",
          b.keyFile,
        ]);
        assert.equal(out.code, 1, out.stderr);
        assert.match(
          out.stderr,
          /error: TLS key file ".*b\.key" does not match the certificate in ".*a\.pem"/,
        );
        assert.doesNotMatch(out.stderr, /PRIVATE KEY/);
      });
      await t.step("an expired certificate: exit 1", async () => {
        const out = await serve(ca.dir, [
          "--tls-cert",
          old.certFile,
          "--tls-key",
          old.keyFile,
        ]);
        assert.equal(out.code, 1, out.stderr);
        assert.match(
          out.stderr,
          /error: TLS certificate in ".*old\.pem" expired on .*--tls-allow-expired/,
        );
      });
      await t.step("relative names from $CREDENTIALS_DIRECTORY", async () => {
        const out = await serve(Deno.makeTempDirSync(), [
          "--tls-cert",
          "a.pem",
          "--tls-key",
          "b.key",
        ], { CREDENTIALS_DIRECTORY: ca.dir });
        assert.equal(out.code, 1, out.stderr);
        assert.match(out.stderr, /does not match the certificate in "/);
        assert.ok(out.stderr.includes(`${ca.dir}/a.pem`), out.stderr);
      });
    } finally {
      Deno.removeSync(ca.dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "--tls-allow-expired serves an expired certificate",
  ignore,
  async fn() {
    const ca = makeCa();
    const old = makeLeaf(ca, "old", { days: -1 });
    const creds = testCredentials(1);
    await using upstream = MockUpstream.start({ credentials: creds });
    await using proxy = await startProxy({
      upstream: upstream.url,
      secretsFile: writeSecrets(creds, ca.dir),
      waitHealthy: false,
      args: [
        "--no-db",
        "--no-threaded",
        "--tls-allow-expired",
        "--tls-cert",
        old.certFile,
        "--tls-key",
        old.keyFile,
      ],
    });
    try {
      await proxy.waitForLog(" ready on https://");
      assert.equal(
        await servedFingerprint(proxy.port),
        fingerprintOf(old.certFile),
      );
      const strict = await curl([
        "--cacert",
        ca.caFile,
        `https://localhost:${proxy.port}/healthz`,
      ]);
      assert.notEqual(strict.code, 0);
      assert.match(strict.stderr, /expired/i);
    } finally {
      Deno.removeSync(ca.dir, { recursive: true });
    }
  },
});
