import assert from "node:assert/strict";
import { INFO, modelsSetup, post, recorded } from "./models_setup.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** An event stream the test feeds and never closes (the upstream keeps it open). */
function openStream(events: string[]): Response {
  const body = new ReadableStream<Uint8Array>({
    start(ctrl) {
      for (const e of events) ctrl.enqueue(encoder.encode(e));
    },
  });
  return new Response(body, {
    headers: { "content-type": "text/event-stream" },
  });
}

/** Reads until `marker` has arrived, then hangs up. */
async function readUntil(res: Response, marker: string): Promise<void> {
  const reader = res.body!.getReader();
  let text = "";
  while (!text.includes(marker)) {
    const { done, value } = await reader.read();
    if (done) break;
    text += decoder.decode(value);
  }
  await reader.cancel();
}

const RESPONSES = [
  'event: response.created\ndata: {"type":"response.created"}\n\n',
  'event: response.completed\ndata: {"type":"response.completed","response":{}}\n\n',
];
const MESSAGES = [
  'event: message_start\ndata: {"type":"message_start"}\n\n',
  'event: message_stop\ndata: {"type":"message_stop"}\n\n',
];

Deno.test("a client that hangs up after response.completed is recorded as completed", async () => {
  using s = modelsSetup(() => openStream(RESPONSES));
  const res = await s.handler(
    post("/v1/responses", { model: "gpt-5", stream: true }),
    INFO,
  );
  await readUntil(res, "response.completed");
  await recorded(s, 1);
  assert.deepEqual([s.records[0].status, s.records[0].error], [200, null]);
  assert.ok(!s.logs.some((l) => l.message.includes("client_cancel")));
});

Deno.test("a client that hangs up after message_stop is recorded as completed", async () => {
  using s = modelsSetup(() => openStream(MESSAGES));
  const res = await s.handler(
    post("/v1/messages", {
      model: "anthropic.claude-4-5-haiku",
      max_tokens: 10,
      stream: true,
      messages: [],
    }),
    INFO,
  );
  await readUntil(res, "message_stop");
  await recorded(s, 1);
  assert.deepEqual([s.records[0].status, s.records[0].error], [200, null]);
});

Deno.test("a client that hangs up before the final event is still a client_cancel", async () => {
  using s = modelsSetup(() => openStream(RESPONSES.slice(0, 1)));
  const res = await s.handler(
    post("/v1/responses", { model: "gpt-5", stream: true }),
    INFO,
  );
  await readUntil(res, "response.created");
  await recorded(s, 1);
  assert.deepEqual([s.records[0].status, s.records[0].error], [
    200,
    "client_cancel",
  ]);
});

Deno.test("another API's final event does not count: message_stop on /v1/responses", async () => {
  using s = modelsSetup(() => openStream(MESSAGES));
  const res = await s.handler(
    post("/v1/responses", { model: "gpt-5", stream: true }),
    INFO,
  );
  await readUntil(res, "message_stop");
  await recorded(s, 1);
  assert.equal(s.records[0].error, "client_cancel");
});
