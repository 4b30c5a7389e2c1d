/**
 * A new certificate while serving: on SIGHUP (and on a file change) every
 * worker gives new connections the new pair, a stream in flight on the old
 * one finishes, and a bad pair keeps the one in use with an ERROR line.
 */
import assert from "node:assert/strict";
import { openAiEvents } from "../support/mock_upstream.ts";
import {
  fingerprintOf,
  hasOpenssl,
  install,
  type Leaf,
  makeCa,
  makeLeaf,
  serialOf,
} from "./test_ca.ts";
import { servedFingerprint, startTlsStack } from "./tls_proxy.ts";

const ignore = !hasOpenssl();

/** An SSE answer that sends its first event, then waits for `release`. */
function heldStream(release: Promise<void>): Response {
  const events = openAiEvents("gpt-4o");
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      controller.enqueue(encoder.encode(events[0]));
      await release;
      for (const event of events.slice(1)) {
        controller.enqueue(encoder.encode(event));
      }
      controller.close();
    },
  });
  return new Response(body, {
    headers: { "content-type": "text/event-stream" },
  });
}

function served(ca: ReturnType<typeof makeCa>): Leaf {
  return { certFile: `${ca.dir}/served.pem`, keyFile: `${ca.dir}/served.key` };
}

/** Every one of `n` new connections gets the certificate of `leaf`. */
async function assertServed(port: number, leaf: Leaf, n = 6): Promise<void> {
  const want = fingerprintOf(leaf.certFile);
  for (let i = 0; i < n; i++) {
    assert.equal(await servedFingerprint(port), want, `connection ${i + 1}`);
  }
}

function twice(text: string): RegExp {
  return new RegExp(`${text}[\\s\\S]*${text}`);
}

Deno.test({
  name:
    "SIGHUP: new connections get the new certificate on both workers; a stream in flight finishes",
  ignore,
  async fn() {
    const ca = makeCa();
    const one = makeLeaf(ca, "one");
    const two = makeLeaf(ca, "two");
    const target = served(ca);
    install(one, target);
    const release = Promise.withResolvers<void>();
    await using stack = await startTlsStack({
      ca,
      leaf: target,
      args: [
        "--num-workers",
        "2",
        "--no-watch-secrets",
        "--log-level",
        "debug",
      ],
      behave: (req) =>
        req.body.includes('"stream":true')
          ? { kind: "respond", respond: () => heldStream(release.promise) }
          : undefined,
    });
    const { proxy, url, client } = stack;
    try {
      await assertServed(proxy.port, one);
      const res = await fetch(`${url}/v1/chat/completions`, {
        client,
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "gpt-4o", messages: [], stream: true }),
      });
      assert.equal(res.status, 200);
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      let text = (await reader.read()).value ?? "";
      assert.match(text, /"role":"assistant"/);

      install(two, target);
      proxy.child.kill("SIGHUP");
      await proxy.waitForLog("Reloaded the TLS certificate (SIGHUP)");
      await proxy.waitForLog(
        twice(`get the certificate with serial ${serialOf(two.certFile)}`),
      );
      await assertServed(proxy.port, two);

      release.resolve();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += value;
      }
      assert.match(text, /data: \[DONE\]/);
      assert.match(text, /" mock"/);
      const health = await fetch(`${url}/healthz`, { client });
      assert.equal(health.status, 200);
      await health.body?.cancel();
    } finally {
      release.resolve();
      Deno.removeSync(ca.dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "a changed file is reloaded; a bad pair keeps the one in use with an ERROR line",
  ignore,
  async fn() {
    const ca = makeCa();
    const one = makeLeaf(ca, "one");
    const two = makeLeaf(ca, "two");
    const target = served(ca);
    install(one, target);
    await using stack = await startTlsStack({
      ca,
      leaf: target,
      args: ["--num-workers", "2"],
    });
    const { proxy } = stack;
    try {
      // The certificate of two with the key of one: not a pair.
      Deno.writeTextFileSync(
        target.certFile,
        Deno.readTextFileSync(two.certFile),
      );
      await proxy.waitForLog(
        /ERROR.*Reload of the TLS certificate \(file change\) rejected, keeping the one in use \(serial [0-9a-f]+\): TLS key file ".*served\.key" does not match/,
      );
      await assertServed(proxy.port, one, 4);

      Deno.writeTextFileSync(
        target.keyFile,
        Deno.readTextFileSync(two.keyFile),
      );
      await proxy.waitForLog("Reloaded the TLS certificate (file change)");
      // Each worker applies it when its message arrives; then all serve two.
      let fingerprint = "";
      for (let i = 0; i < 50; i++) {
        fingerprint = await servedFingerprint(proxy.port);
        if (fingerprint === fingerprintOf(two.certFile)) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      await assertServed(proxy.port, two);
      assert.doesNotMatch(proxy.logs(), /PRIVATE KEY/);
    } finally {
      Deno.removeSync(ca.dir, { recursive: true });
    }
  },
});
