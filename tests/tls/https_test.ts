/**
 * HTTPS end to end: `serve --tls-cert --tls-key` with a test CA, HTTP/2 and
 * HTTP/1.1 by ALPN, both workers serving, fetch and the OpenAI SDK with the
 * CA trusted, the certificate on `/healthz` and `/metrics`.
 */
import assert from "node:assert/strict";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { hasOpenssl, makeCa, makeLeaf } from "./test_ca.ts";
import { curl, startTlsStack } from "./tls_proxy.ts";

const ignore = !hasOpenssl();

Deno.test({
  name: "serve speaks HTTPS with h2 and http/1.1 on both workers",
  ignore,
  async fn(t) {
    const ca = makeCa();
    const leaf = makeLeaf(ca, "leaf");
    await using stack = await startTlsStack({
      ca,
      leaf,
      args: ["--num-workers", "2"],
    });
    const { url, client, proxy } = stack;
    try {
      await t.step("curl --http2 negotiates h2", async () => {
        const out = await curl([
          "--cacert",
          ca.caFile,
          "--http2",
          "-o",
          "/dev/null",
          "-w",
          "%{http_version} %{response_code}",
          `${url}/healthz`,
        ]);
        assert.equal(out.stdout, "2 200", out.stderr);
      });

      await t.step("curl --http1.1 gets HTTP/1.1", async () => {
        const out = await curl([
          "--cacert",
          ca.caFile,
          "--http1.1",
          "-o",
          "/dev/null",
          "-w",
          "%{http_version} %{response_code}",
          `${url}/healthz`,
        ]);
        assert.equal(out.stdout, "1.1 200", out.stderr);
      });

      await t.step(
        "a client that does not trust the CA is refused",
        async () => {
          const out = await curl(["-o", "/dev/null", `${url}/healthz`]);
          assert.notEqual(out.code, 0);
          assert.match(out.stderr, /certificate/i);
        },
      );

      await t.step("plain HTTP on the port is not served", async () => {
        const out = await curl([
          "--max-time",
          "5",
          "-o",
          "/dev/null",
          `http://127.0.0.1:${proxy.port}/healthz`,
        ]);
        assert.notEqual(out.code, 0);
      });

      await t.step("/healthz shows the names and expiry, no key", async () => {
        const res = await fetch(`${url}/healthz`, { client });
        const body = await res.json();
        assert.deepEqual(body.tls.names, ["localhost", "127.0.0.1"]);
        assert.match(body.tls.notAfter, /^\d{4}-\d\d-\d\dT/);
        assert.ok(body.tls.expiresInSeconds > 80_000);
        assert.match(body.tls.sha256, /^[0-9a-f]{64}$/);
        const text = JSON.stringify(body);
        assert.doesNotMatch(text, /PRIVATE|BEGIN/);
      });

      await t.step("/metrics has the expiry gauge", async () => {
        const res = await fetch(`${url}/metrics`, { client });
        const text = await res.text();
        const line =
          /^flow_proxy_tls_certificate_expiry_seconds\{names="localhost,127\.0\.0\.1"\} (\d+)$/m
            .exec(text);
        assert.ok(line, text);
        const inADay = Date.now() / 1000 + 86400;
        assert.ok(Math.abs(Number(line[1]) - inADay) < 120);
      });

      await t.step("the OpenAI SDK with the CA trusted", async () => {
        const openai = new OpenAI({
          baseURL: `${url}/v1`,
          apiKey: "unused-by-flow-proxy",
          maxRetries: 0,
          fetch: (input: string | URL | Request, init?: RequestInit) =>
            fetch(input, { ...init, client }),
        });
        const completion = await openai.chat.completions.create({
          model: "gpt-4o",
          messages: [{ role: "user", content: "hi" }],
        });
        assert.equal(completion.choices[0].message.content, "Hello from mock");
        const stream = await openai.chat.completions.create({
          model: "gpt-4o",
          messages: [{ role: "user", content: "hi" }],
          stream: true,
        });
        let text = "";
        for await (const chunk of stream) {
          text += chunk.choices[0]?.delta?.content ?? "";
        }
        assert.equal(text, "Hello from mock");
      });

      await t.step("the Anthropic SDK with the CA trusted", async () => {
        const anthropic = new Anthropic({
          baseURL: url,
          apiKey: "unused-by-flow-proxy",
          maxRetries: 0,
          fetch: (input: string | URL | Request, init?: RequestInit) =>
            fetch(input, { ...init, client }),
        });
        const message = await anthropic.messages.create({
          model: "anthropic.claude-4-5-sonnet",
          max_tokens: 16,
          messages: [{ role: "user", content: "hi" }],
        });
        assert.equal(
          (message.content[0] as { text: string }).text,
          "Hello from mock",
        );
      });

      await t.step("both workers serve HTTPS", async () => {
        // A new connection each time, so the kernel spreads them.
        for (let i = 0; i < 24; i++) {
          const one = Deno.createHttpClient({
            caCerts: [ca.caPem],
            poolMaxIdlePerHost: 0,
          });
          try {
            const res = await fetch(`${url}/v1/chat/completions`, {
              client: one,
              method: "POST",
              headers: { "content-type": "application/json" },
              body: JSON.stringify({ model: "gpt-4o", messages: [] }),
            });
            assert.equal(res.status, 200);
            await res.body?.cancel();
          } finally {
            one.close();
          }
        }
        const workers = new Set(
          (await proxy.settledLogs()).match(/\[worker-\d\] Using/g),
        );
        assert.equal(workers.size, 2, "both workers served");
      });
    } finally {
      Deno.removeSync(ca.dir, { recursive: true });
    }
  },
});
