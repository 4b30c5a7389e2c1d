import assert from "node:assert/strict";
import { INFO, modelsSetup, PROXY } from "./models_setup.ts";

Deno.test("HEAD / and HEAD on API paths are answered locally: 200, no body, no upstream call", async () => {
  using s = modelsSetup();
  for (const path of ["/", "/v1/messages", "/v1/models"]) {
    const res = await s.handler(
      new Request(PROXY + path, { method: "HEAD" }),
      INFO,
    );
    assert.equal(res.status, 200, path);
    assert.equal(res.body, null);
    assert.ok(res.headers.has("x-request-id"));
  }
  assert.equal(s.calls.length, 0);
  assert.equal(s.records.length, 0);
  // The rotation did not move: the next request goes to the first credential.
  const res = await s.handler(new Request(PROXY + "/v1/models"), INFO);
  await res.body?.cancel();
  assert.equal(s.records[0].credential, "a");
});

Deno.test("HEAD on a path outside the API is still forwarded", async () => {
  using s = modelsSetup();
  const res = await s.handler(
    new Request(PROXY + "/other", { method: "HEAD" }),
    INFO,
  );
  await res.body?.cancel();
  assert.equal(s.calls.length, 1);
  assert.equal(s.calls[0].method, "HEAD");
});

Deno.test("a WebSocket upgrade is refused at once with 426 in the client's shape, never forwarded", async () => {
  using s = modelsSetup();
  const upgrade = (path: string) =>
    new Request(PROXY + path, {
      headers: {
        upgrade: "websocket",
        connection: "Upgrade",
        "openai-beta": "responses_websockets=2026-02-06",
      },
    });
  const res = await s.handler(upgrade("/v1/responses"), INFO);
  assert.equal(res.status, 426);
  assert.equal(res.headers.get("connection"), "close");
  const body = await res.json();
  assert.equal(body.error.type, "upgrade_required");
  const anthropic = await s.handler(upgrade("/v1/messages"), INFO);
  assert.equal(anthropic.status, 426);
  assert.equal((await anthropic.json()).type, "error");
  const elsewhere = await s.handler(upgrade("/anything"), INFO);
  await elsewhere.body?.cancel();
  assert.equal(elsewhere.status, 426);
  assert.equal(s.calls.length, 0);
});
