import assert from "node:assert/strict";
import {
  carriesUsage,
  eventModel,
  findKeyValue,
  isContentEvent,
  matchingBrace,
  stringEnd,
} from "../../src/observe/usage_json.ts";

Deno.test("findKeyValue() finds a key's value, not the same text as a string", () => {
  const text = '{"a":"\\"usage\\"","usage" : {"x":1}}';
  const at = findKeyValue(text, '"usage"', true);
  assert.equal(text[at], "{");
  assert.equal(text.slice(at, matchingBrace(text, at) + 1), '{"x":1}');
  assert.equal(findKeyValue('{"model":1}', '"usage"', false), -1);
});

Deno.test("matchingBrace() and stringEnd() skip braces and quotes inside strings", () => {
  const text = '{"a":"}\\"{","b":[{}]}';
  assert.equal(matchingBrace(text, 0), text.length - 1);
  assert.equal(stringEnd('"a\\"b"', 0), 5);
  assert.equal(matchingBrace("{", 0), -1);
});

Deno.test("carriesUsage() ignores OpenAI's usage:null", () => {
  assert.equal(carriesUsage('{"usage":null}'), false);
  assert.equal(carriesUsage('{"usage":{"prompt_tokens":1}}'), true);
  assert.equal(carriesUsage('{"choices":[]}'), false);
});

Deno.test("isContentEvent() and eventModel() read an event's shape", () => {
  assert.equal(
    isContentEvent({ choices: [{ delta: { role: "assistant" } }] }, null),
    false,
  );
  assert.equal(
    isContentEvent({ choices: [{ delta: { content: "hi" } }] }, null),
    true,
  );
  assert.equal(isContentEvent({ type: "content_block_delta" }, null), true);
  assert.equal(eventModel({ message: { model: "claude" } }), "claude");
  assert.equal(eventModel({ model: "" }), null);
});
