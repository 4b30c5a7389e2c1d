import assert from "node:assert/strict";
import { parseKeepingNumbers } from "../../src/models/json_numbers.ts";

function roundTrip(text: string): string {
  const parsed = parseKeepingNumbers(text);
  return parsed.stringify(parsed.value);
}

Deno.test("parseKeepingNumbers() keeps the literals a double would change", async (t) => {
  await t.step("in objects and arrays, negative and fractional", () => {
    const text =
      '{"a":12345678901234567890,"b":[-98765432109876543210,1],"c":0.10000000000000000001}';
    assert.equal(roundTrip(text), text);
  });
  await t.step("after whitespace, in a changed value", () => {
    const parsed = parseKeepingNumbers('{"id" : 12345678901234567890}');
    const value = parsed.value as Record<string, unknown>;
    value.more = 1;
    assert.equal(
      parsed.stringify(value),
      '{"id":12345678901234567890,"more":1}',
    );
  });
  await t.step(
    "long literals a double holds are written the JavaScript way",
    () => {
      assert.equal(
        roundTrip('{"a":1234567890123456,"b":1.0}'),
        '{"a":1234567890123456,"b":1}',
      );
    },
  );
});

Deno.test("parseKeepingNumbers() leaves digits inside strings alone", () => {
  const text =
    '{"s":"x:12345678901234567890","t":"q\\":12345678901234567890\\\\","n":[12345678901234567891]}';
  const parsed = parseKeepingNumbers(text);
  const value = parsed.value as { s: string; t: string };
  assert.equal(value.s, "x:12345678901234567890");
  assert.equal(value.t, 'q":12345678901234567890\\');
  assert.equal(parsed.stringify(parsed.value), text);
});

Deno.test("parseKeepingNumbers() throws on text that is not JSON", () => {
  assert.throws(
    () => parseKeepingNumbers('{"a":12345678901234567890'),
    SyntaxError,
  );
});
