import assert from "node:assert/strict";
import { MAX_MODEL_LENGTH, sniffModel } from "../../src/models/model_sniff.ts";

const encoder = new TextEncoder();

function sniff(text: string) {
  return sniffModel(encoder.encode(text));
}

Deno.test("sniffModel() agrees with JSON.parse on the top-level model", async (t) => {
  const bodies = [
    '{"model":"gpt-4o","messages":[]}',
    '{ "messages": [], "model" : "anthropic.claude-4-5-sonnet" }',
    '\ufeff {"model":"gpt-4o"}',
    '{"\\u006dodel":"gpt-5"}',
    '{"mo\\u0064el":"gpt-5","x":1}',
    '{"model":"we\\"ird\\u00e9\\\\"}',
    '{"messages":[{"content":"say \\"model\\": \\"x\\""}],"model":"real"}',
    '{"metadata":{"model":"nested"},"model":"gpt-4o"}',
    '{"a":[1,[2,{"model":"deep"}],"]"],"b":"}","model":"top"}',
    '{"a":true,"b":null,"c":-1.5e3,"d":NaN,"model":"m"}',
    '{"a":"\\\\","model":"after-escaped-backslash"}',
    '{"model":"gpt-4o","model":"gpt-4o"}',
    '{"messages":[]}',
    "{}",
    '{"Model":"not-this-one"}',
    '{"model":{"name":"x"}}',
  ];
  for (const body of bodies) {
    await t.step(body, () => {
      const parsed = JSON.parse(
        body.replace("NaN", "0").replace(/^\ufeff/, ""),
      );
      const expected = typeof parsed.model === "string" ? parsed.model : null;
      const found = sniff(body);
      assert.deepEqual([found.model, found.ambiguous], [expected, false]);
    });
  }
});

Deno.test("sniffModel() calls a top-level model named twice differently ambiguous", async (t) => {
  const bodies = [
    '{"model":"gpt-4o","model":"gpt-5"}',
    '{"model":"gpt-4o","messages":[],"\\u006dodel":"gpt-5"}',
    '{"model":"gpt-4o","model":42}',
    '{"model":null,"model":"gpt-5"}',
    `{"model":"gpt-4o","pad":"${"x".repeat(70 * 1024)}","model":"gpt-5"}`,
    `{"model":"gpt-4o","messages":[${
      '{"role":"user","content":"hi"},'.repeat(3000)
    }{}],"model":"gpt-5"}`,
  ];
  for (const body of bodies) {
    await t.step(body.slice(0, 60), () => {
      assert.deepEqual(sniff(body), {
        model: null,
        ambiguous: true,
        spans: [],
      });
    });
  }
});

Deno.test("sniffModel() gives no model for what is not a JSON object", async (t) => {
  const bodies = [
    "",
    "not json",
    '["model","gpt-4o"]',
    '"model"',
    '{"model":"gpt-4o"',
    '{"model" "gpt-4o"}',
    '{"model":"gpt-4o" "x":1}',
    '{"a":{"model":"gpt-4o"}',
    '{"model":""}',
    '{"model":"bad \\q escape"}',
    `{"model":"${"m".repeat(MAX_MODEL_LENGTH + 1)}"}`,
    '{\u000b"model":"gpt-4o"}',
    "model=gpt-4o",
  ];
  for (const body of bodies) {
    await t.step(JSON.stringify(body.slice(0, 40)), () => {
      assert.equal(sniff(body).model, null);
      assert.equal(sniff(body).ambiguous, false);
    });
  }
  await t.step("UTF-16 bytes", () => {
    const utf16 = new Uint8Array(
      new Uint16Array([...'{"model":"gpt-4o"}'].map((c) => c.charCodeAt(0)))
        .buffer,
    );
    assert.equal(sniffModel(utf16).model, null);
  });
});

Deno.test("sniffModel() reads a model after 70 KB of padding", () => {
  const body = `{"pad":"${"x".repeat(70 * 1024)}","model":"gpt-5"}`;
  assert.equal(sniff(body).model, "gpt-5");
});
