/**
 * The dashboard's About (`GET /_flow-proxy/admin/about`) names the listener's
 * certificate and its expiry, and the new one after a reload.
 */
import assert from "node:assert/strict";
import { hasOpenssl, install, makeCa, makeLeaf } from "./test_ca.ts";
import { startTlsStack } from "./tls_proxy.ts";

const ignore = !hasOpenssl();
const TOKEN = "about-tls-admin-token-0123456789";

function notAfterOf(certFile: string): string {
  const out = new Deno.Command("openssl", {
    args: ["x509", "-in", certFile, "-noout", "-enddate"],
  }).outputSync();
  const text = new TextDecoder().decode(out.stdout).trim();
  return new Date(text.slice("notAfter=".length)).toISOString();
}

Deno.test({
  name:
    "About shows the served certificate's names and expiry, and the new one after SIGHUP",
  ignore,
  async fn() {
    const ca = makeCa();
    const one = makeLeaf(ca, "one", { days: 30 });
    const two = makeLeaf(ca, "two", {
      days: 90,
      names: ["DNS:localhost", "DNS:proxy.test"],
    });
    const target = {
      certFile: `${ca.dir}/served.pem`,
      keyFile: `${ca.dir}/served.key`,
    };
    install(one, target);
    await using stack = await startTlsStack({
      ca,
      leaf: target,
      args: [
        "--num-workers",
        "2",
        "--no-watch-secrets",
        "--admin-token",
        TOKEN,
      ],
    });
    const about = async () => {
      const res = await fetch(`${stack.url}/_flow-proxy/admin/about`, {
        client: stack.client,
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      assert.equal(res.status, 200);
      const text = await res.text();
      assert.ok(!text.includes(TOKEN), "the admin token is masked");
      return JSON.parse(text).tls.certificates as {
        names: string[];
        not_after: string;
      }[];
    };
    const first = await about();
    assert.equal(first.length, 1);
    assert.deepEqual([...first[0].names].sort(), ["127.0.0.1", "localhost"]);
    assert.equal(first[0].not_after, notAfterOf(one.certFile));

    install(two, target);
    stack.proxy.child.kill("SIGHUP");
    await stack.proxy.waitForLog("Reloaded the TLS certificate", 20_000);
    // Several answers, from whichever of the two workers takes each.
    for (let i = 0; i < 6; i++) {
      const now = await about();
      assert.deepEqual([...now[0].names].sort(), ["localhost", "proxy.test"]);
      assert.equal(now[0].not_after, notAfterOf(two.certFile));
    }
  },
});
