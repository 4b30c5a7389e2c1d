import assert from "node:assert/strict";
import { ClientLink } from "../../src/proxy/client_link.ts";

function request(signal: AbortSignal): Request {
  return new Request("http://127.0.0.1:8899/v1/models", { signal });
}

Deno.test("ClientLink does not read the client's signal until watched", () => {
  const client = new AbortController();
  const link = new ClientLink(request(client.signal));
  const attempt = new AbortController();
  link.attach(attempt);
  client.abort();
  assert.equal(link.gone, false, "not watched yet");
  assert.equal(attempt.signal.aborted, false);
  link.watch();
  assert.equal(link.gone, true, "a client that left is seen once watched");
  assert.equal(attempt.signal.aborted, true);
});

Deno.test("ClientLink.watch() aborts the attached attempt when the client leaves", () => {
  const client = new AbortController();
  const link = new ClientLink(request(client.signal));
  link.watch();
  link.watch(); // once only
  const first = new AbortController();
  const second = new AbortController();
  link.attach(first);
  link.attach(second);
  client.abort(new DOMException("gone", "AbortError"));
  assert.equal(link.gone, true);
  assert.equal(first.signal.aborted, false, "only the current attempt");
  assert.equal(second.signal.aborted, true);
  const third = new AbortController();
  link.attach(third);
  assert.equal(third.signal.aborted, true, "attached after leaving");
});

Deno.test("ClientLink.left() tells a client that left from one that stays", async (t) => {
  await t.step("left", async () => {
    const client = new AbortController();
    const link = new ClientLink(request(client.signal));
    const answer = link.left();
    client.abort();
    assert.equal(await answer, true);
  });
  await t.step("stays: false after the short wait", async () => {
    const client = new AbortController();
    const link = new ClientLink(request(client.signal));
    assert.equal(await link.left(), false);
    assert.equal(link.gone, false);
  });
});
