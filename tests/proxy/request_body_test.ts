import assert from "node:assert/strict";
import {
  findModel,
  PayloadTooLarge,
  planBody,
  sendOnce,
} from "../../src/proxy/request_body.ts";

const encoder = new TextEncoder();
const URL_ = "http://127.0.0.1:8899/v1/chat/completions";

/** A POST whose body arrives in `chunks`, without a declared length. */
function chunked(chunks: string[]): Request {
  const body = new ReadableStream<Uint8Array>({
    start(ctrl) {
      for (const chunk of chunks) ctrl.enqueue(encoder.encode(chunk));
      ctrl.close();
    },
  });
  return new Request(URL_, { method: "POST", body });
}

async function text(body: BodyInit | null): Promise<string> {
  return await new Response(body).text();
}

Deno.test("planBody() keeps a small body for replay and reads its model", async () => {
  const req = new Request(URL_, {
    method: "POST",
    headers: { "content-length": "18" },
    body: '{"model":"gpt-4o"}',
  });
  const plan = await planBody(req, 1024, 4096);
  assert.equal(plan.replayable, true);
  assert.equal(plan.model, "gpt-4o");
  assert.equal(plan.ambiguousModel, false);
  assert.equal(plan.sent(), 18);
  assert.equal(await text(plan.take()), '{"model":"gpt-4o"}');
  assert.equal(await text(plan.take()), '{"model":"gpt-4o"}', "sent again");
  assert.equal(plan.tooLarge(), false);
});

Deno.test("planBody() keeps a chunked body up to the limit, whole", async () => {
  const plan = await planBody(chunked(['{"model":', '"a"}']), 1024, 4096);
  assert.equal(plan.replayable, true);
  assert.equal(plan.model, "a");
  assert.equal(plan.sent(), 13);
});

Deno.test("planBody() flags a body naming two models", async () => {
  const plan = await planBody(
    chunked(['{"model":"a","model":"b"}']),
    1024,
    4096,
  );
  assert.equal(plan.ambiguousModel, true);
});

Deno.test("planBody() gives GET and HEAD no body", async () => {
  for (const method of ["GET", "HEAD"]) {
    const plan = await planBody(new Request(URL_, { method }), 1024, 4096);
    assert.equal(plan.replayable, true);
    assert.equal(plan.take(), null);
    assert.equal(plan.sent(), 0);
  }
});

Deno.test("planBody() refuses a declared length over the maximum before reading", async () => {
  const req = new Request(URL_, {
    method: "POST",
    headers: { "content-length": "5000" },
    body: "x".repeat(5000),
  });
  await assert.rejects(() => planBody(req, 1024, 4096), PayloadTooLarge);
  assert.equal(req.bodyUsed, false);
});

Deno.test("planBody() streams a body too large to keep once, the kept prefix first", async () => {
  const plan = await planBody(chunked(["abcd", "efgh", "ij"]), 5, 4096);
  assert.equal(plan.replayable, false);
  assert.equal(plan.model, null, "never guessed from a prefix");
  assert.equal(await text(plan.take()), "abcdefghij");
  assert.equal(plan.sent(), 10);
  assert.equal(plan.tooLarge(), false);
  assert.throws(() => plan.take(), /sent once/);
});

Deno.test("planBody() errors a streamed body that grows over the maximum", async () => {
  const plan = await planBody(chunked(["abcd", "efgh", "ijkl"]), 5, 10);
  await assert.rejects(() => text(plan.take()), PayloadTooLarge);
  assert.equal(plan.tooLarge(), true);
});

Deno.test("sendOnce() wraps a non-idempotent body in a stream, passes others as they are", async () => {
  const bytes = encoder.encode("{}");
  const once = sendOnce("POST", bytes);
  assert.ok(once instanceof ReadableStream);
  assert.equal(await text(once), "{}");
  assert.equal(sendOnce("PUT", bytes), bytes);
  assert.equal(sendOnce("POST", null), null);
});

Deno.test("findModel reads the top-level model without parsing the body", async (t) => {
  const cases: [string, string | null][] = [
    ['{"model":"gpt-4o","messages":[]}', "gpt-4o"],
    [
      '{ "messages": [], "model" : "anthropic.claude-4-5-sonnet" }',
      "anthropic.claude-4-5-sonnet",
    ],
    ['{"model":"we\\"ird\\u00e9"}', 'we"irdé'],
    [
      '{"messages":[{"content":"say \\"model\\": \\"x\\""}],"model":"real"}',
      "real",
    ],
    ['{"messages":[]}', null],
    ['{"model":42}', null],
    ["", null],
    ["not json", null],
  ];
  for (const [text, expected] of cases) {
    await t.step(text.slice(0, 50) || "(empty)", () => {
      assert.equal(findModel(encoder.encode(text)), expected);
    });
  }
  await t.step("undefined", () => {
    assert.equal(findModel(undefined), null);
  });
});
