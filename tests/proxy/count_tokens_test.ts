import assert from "node:assert/strict";
import { INFO, modelsSetup, post } from "./models_setup.ts";

const decoder = new TextDecoder();
const BODY = {
  model: "claude-sonnet-4-5-20250929",
  messages: [{ role: "user", content: "hi" }],
};

Deno.test("count_tokens is forwarded with the mapping", async () => {
  using s = modelsSetup(() => Response.json({ input_tokens: 7 }));
  const res = await s.handler(post("/v1/messages/count_tokens", BODY), INFO);
  assert.deepEqual(await res.json(), { input_tokens: 7 });
  assert.ok(s.calls[0].url.endsWith("/v1/messages/count_tokens"));
  const sent = JSON.parse(decoder.decode(s.calls[0].body!));
  assert.equal(sent.model, "anthropic.claude-4-5-sonnet");
  assert.equal(s.records[0].upstreamModel, "anthropic.claude-4-5-sonnet");
});

for (const status of [401, 403, 429]) {
  Deno.test(`a ${status} on count_tokens passes through, with no failover and no failed credential`, async () => {
    const error = { error: { message: "route refused", code: String(status) } };
    using s = modelsSetup(() => Response.json(error, { status }));
    const res = await s.handler(post("/v1/messages/count_tokens", BODY), INFO);
    assert.equal(res.status, status);
    assert.deepEqual(await res.json(), error);
    assert.equal(s.calls.length, 1);
    assert.equal(s.heard.failovers, 0);
    // Both credentials are still usable: the next two requests use a, then b.
    const names: (string | null)[] = [];
    for (let i = 0; i < 2; i++) {
      const again = await s.handler(post("/v1/messages", BODY), INFO);
      await again.body?.cancel();
      names.push(s.records.at(-1)!.credential);
    }
    assert.equal(new Set(names).size, 2);
  });
}

Deno.test("the same 401 on /v1/messages does fail over (the contrast)", async () => {
  using s = modelsSetup((_, n) =>
    n === 0 ? Response.json({}, { status: 401 }) : Response.json({ ok: 1 })
  );
  const res = await s.handler(post("/v1/messages", BODY), INFO);
  await res.body?.cancel();
  assert.equal(res.status, 200);
  assert.equal(s.calls.length, 2);
});
