/**
 * Signals that arrive together count as one: `Ctrl+C` under `deno task start`
 * reaches both the task runner and the proxy (same process group), and the
 * runner forwards it, so the proxy sees two SIGINTs a few ms apart.
 */
import assert from "node:assert/strict";
import { SIGNAL_WINDOW_MS } from "../../src/cli/serve.ts";
import { openAiEvents } from "../support/mock_upstream.ts";
import { startStack } from "../support/stack.ts";
import { within } from "../support/within.ts";

const WORDS = Array.from({ length: 10 }, (_, i) => `w${i}`);

Deno.test("serve: two SIGINTs within the signal window drain in-flight streams and exit 0", async () => {
  await using stack = await startStack({
    behave: () => ({
      kind: "sse",
      events: openAiEvents("gpt-4o", WORDS),
      delayMs: 150,
    }),
    args: ["--shutdown-timeout", "20s"],
  });
  const { proxy } = stack;
  const res = await fetch(`${proxy.url}/v1/chat/completions`, {
    method: "POST",
    body: "{}",
  });
  assert.equal(res.status, 200);
  const body = res.text();
  // What the task runner does: the terminal's SIGINT, then its own forward.
  proxy.child.kill("SIGINT");
  await proxy.waitForLog("SIGINT received");
  proxy.child.kill("SIGINT");
  const text = await body;
  assert.match(text, /"content":"w9"/);
  assert.match(text, /data: \[DONE\]\n\n$/);
  const status = await proxy.child.status;
  assert.equal(status.code, 0);
  await proxy.stop();
  const logs = proxy.logs();
  assert.doesNotMatch(logs, /exiting now/);
  assert.match(logs, /All in-flight requests finished/);
});

Deno.test("serve: a SIGINT after the signal window still exits at once", async () => {
  const arrived = Promise.withResolvers<void>();
  await using stack = await startStack({
    behave: () => {
      arrived.resolve();
      return { kind: "hang" };
    },
    args: ["--shutdown-timeout", "60s"],
  });
  const { proxy } = stack;
  const pending = fetch(`${proxy.url}/v1/models`).then((r) => r.text()).catch(
    () => "cut",
  );
  await within(arrived.promise, {
    ms: 10_000,
    what: "the request reached the upstream",
  });
  proxy.child.kill("SIGINT");
  await proxy.waitForLog("SIGINT received");
  // The window is a span of time: only waiting it out shows what follows it.
  await new Promise((r) => setTimeout(r, SIGNAL_WINDOW_MS + 200));
  proxy.child.kill("SIGINT");
  const status = await proxy.child.status;
  assert.equal(status.code, 130);
  await proxy.stop();
  assert.match(proxy.logs(), /Second SIGINT: exiting now/);
  await pending;
});
