/**
 * `--http-redirect-port` (plain HTTP that only answers 308 to the HTTPS URL)
 * and `--hsts` (Strict-Transport-Security on HTTPS answers, off by default);
 * both refused without TLS.
 */
import assert from "node:assert/strict";
import { freePort } from "../support/proxy.ts";
import {
  redirectLocation,
  redirectResponse,
} from "../../src/server/tls_redirect.ts";
import { checkTlsOptions } from "../../src/server/tls.ts";
import { ArgumentError } from "../../src/config/arguments.ts";
import { hasOpenssl, makeCa, makeLeaf } from "./test_ca.ts";
import { curl, startTlsStack } from "./tls_proxy.ts";

const ignore = !hasOpenssl();

Deno.test("the redirect keeps host, path and query and names the HTTPS port unless 443", () => {
  assert.equal(
    redirectLocation("http://proxy.example.com:8080/v1/models?a=1&b=%20", 8443),
    "https://proxy.example.com:8443/v1/models?a=1&b=%20",
  );
  assert.equal(
    redirectLocation("http://proxy.example.com/x", 443),
    "https://proxy.example.com/x",
  );
  const res = redirectResponse(
    new Request("http://[::1]:80/v1/messages", { method: "POST" }),
    8443,
  );
  assert.equal(res.status, 308);
  assert.equal(res.headers.get("location"), "https://[::1]:8443/v1/messages");
});

Deno.test("--http-redirect-port and --hsts need TLS; the redirect port is not the HTTPS one", () => {
  const base = {
    tlsCert: null,
    httpRedirectPort: null,
    hsts: false,
    port: 8899,
  };
  checkTlsOptions(base);
  for (
    const [settings, message] of [
      [{ ...base, hsts: true }, /^--hsts needs --tls-cert and --tls-key/],
      [
        { ...base, httpRedirectPort: 80 },
        /^--http-redirect-port needs --tls-cert and --tls-key/,
      ],
      [
        { ...base, tlsCert: "c.pem", httpRedirectPort: 8899 },
        /^--http-redirect-port must differ from --port \(8899\)/,
      ],
    ] as const
  ) {
    assert.throws(
      () => checkTlsOptions(settings),
      (err: unknown) =>
        err instanceof ArgumentError && message.test(err.message),
    );
  }
  checkTlsOptions({
    ...base,
    tlsCert: "c.pem",
    httpRedirectPort: 80,
    hsts: true,
  });
});

Deno.test({
  name:
    "serve: plain HTTP on the redirect port answers 308 to HTTPS; --hsts adds the header",
  ignore,
  async fn(t) {
    const ca = makeCa();
    const leaf = makeLeaf(ca, "leaf");
    const redirectPort = freePort();
    await using stack = await startTlsStack({
      ca,
      leaf,
      args: [
        "--num-workers",
        "2",
        "--http-redirect-port",
        String(redirectPort),
        "--hsts",
      ],
    });
    const { proxy, url, client } = stack;
    try {
      await t.step("308 with the same host, path and query", async () => {
        const out = await curl([
          "-o",
          "/dev/null",
          "-w",
          "%{http_code} %{redirect_url}",
          `http://localhost:${redirectPort}/v1/models?x=1`,
        ]);
        assert.equal(
          out.stdout,
          `308 https://localhost:${proxy.port}/v1/models?x=1`,
          out.stderr,
        );
      });
      await t.step("curl -L follows it to the HTTPS answer", async () => {
        const out = await curl([
          "-L",
          "--cacert",
          ca.caFile,
          "-o",
          "/dev/null",
          "-w",
          "%{http_code} %{url_effective}",
          `http://localhost:${redirectPort}/healthz`,
        ]);
        assert.equal(out.stdout, `200 https://localhost:${proxy.port}/healthz`);
      });
      await t.step(
        "HTTPS answers carry Strict-Transport-Security",
        async () => {
          for (const path of ["/healthz", "/v1/models"]) {
            const res = await fetch(`${url}${path}`, { client });
            await res.body?.cancel();
            assert.equal(
              res.headers.get("strict-transport-security"),
              "max-age=31536000",
              path,
            );
          }
        },
      );
      await t.step("the redirect itself carries no HSTS", async () => {
        const res = await fetch(`http://127.0.0.1:${redirectPort}/`, {
          redirect: "manual",
        });
        await res.body?.cancel();
        assert.equal(res.status, 308);
        assert.equal(res.headers.get("strict-transport-security"), null);
      });
    } finally {
      Deno.removeSync(ca.dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "serve: no HSTS header without --hsts",
  ignore,
  async fn() {
    const ca = makeCa();
    const leaf = makeLeaf(ca, "leaf");
    await using stack = await startTlsStack({
      ca,
      leaf,
      args: ["--no-threaded"],
    });
    try {
      const res = await fetch(`${stack.url}/healthz`, { client: stack.client });
      await res.body?.cancel();
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("strict-transport-security"), null);
    } finally {
      Deno.removeSync(ca.dir, { recursive: true });
    }
  },
});
