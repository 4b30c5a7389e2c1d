import assert from "node:assert/strict";
import {
  childPath,
  JsonSyntaxError,
  parseWithPositions,
} from "../../src/models/json_positions.ts";
import { lineLocator } from "../../src/base/text_position.ts";

Deno.test("parseWithPositions() parses what JSON.parse parses", () => {
  const texts = [
    `{"a": [1, -2.5e3, true, false, null, "x\\u00e9\\n\\"\\/"], "b": {}}`,
    `[]`,
    `"s"`,
    `0`,
    ` \n\t{ "nested": [[[{"k": [ ]}]]] } `,
  ];
  for (const text of texts) {
    assert.deepEqual(parseWithPositions(text).value, JSON.parse(text), text);
  }
});

Deno.test("parseWithPositions() records where each value and key starts, by path", () => {
  const text = `{\n  "models": [\n    { "name": "x", "out-limit": 5 }\n  ]\n}`;
  const doc = parseWithPositions(text);
  const at = (path: string) => doc.locate(doc.values.get(path)!);
  assert.deepEqual(at(""), { line: 1, column: 1 });
  assert.deepEqual(at("models"), { line: 2, column: 13 });
  assert.deepEqual(at("models[0]"), { line: 3, column: 5 });
  assert.deepEqual(at("models[0].name"), { line: 3, column: 15 });
  assert.deepEqual(at('models[0]["out-limit"]'), { line: 3, column: 33 });
  assert.deepEqual(doc.locate(doc.keys.get("models[0].name")!), {
    line: 3,
    column: 7,
  });
});

Deno.test("parseWithPositions() reports repeated keys with every offset", () => {
  const doc = parseWithPositions(`{"a": {"k": 1, "k": 2, "k": 3}}`);
  assert.deepEqual(doc.duplicates, [{ path: "a.k", offsets: [7, 15, 23] }]);
  assert.deepEqual(doc.value, { a: { k: 3 } });
});

Deno.test("parseWithPositions() throws JsonSyntaxError with the place of the problem", () => {
  const cases: [string, number, number, string][] = [
    [`{"a": }`, 1, 7, 'unexpected "}", expected a value'],
    [`[1,]`, 1, 4, 'unexpected "]", expected a value'],
    [`{"a": "x`, 1, 7, "unterminated string"],
    [`{"a": "\\q"}`, 1, 8, "invalid escape in a string"],
    [`{"a": "\\u12"}`, 1, 8, "invalid \\u escape"],
    [`\n\n  nope`, 3, 3, 'unexpected "n", expected a value'],
    [`{'a': 1}`, 1, 2, `unexpected "'", expected a key in double quotes`],
    [`[NaN]`, 1, 2, 'unexpected "N", expected a value'],
  ];
  for (const [text, line, column, reason] of cases) {
    let caught: unknown = null;
    try {
      parseWithPositions(text);
    } catch (e) {
      caught = e;
    }
    assert.ok(caught instanceof JsonSyntaxError, text);
    assert.deepEqual([caught.line, caught.column, caught.reason], [
      line,
      column,
      reason,
    ], text);
    assert.equal(
      caught.message,
      `Invalid JSON at line ${line}, column ${column}: ${reason}`,
    );
  }
});

Deno.test("parseWithPositions() refuses nesting deeper than its limit", () => {
  assert.throws(
    () => parseWithPositions("[".repeat(100) + "]".repeat(100)),
    /nested deeper than 64/,
  );
});

Deno.test("parseWithPositions() skips a byte-order mark", () => {
  const doc = parseWithPositions('\ufeff{"a": 1}');
  assert.deepEqual(doc.value, { a: 1 });
  assert.deepEqual(doc.locate(doc.values.get("a")!), { line: 1, column: 8 });
});

Deno.test("childPath() quotes keys that are not identifiers", () => {
  assert.equal(childPath("", "models"), "models");
  assert.equal(childPath("models", 3), "models[3]");
  assert.equal(
    childPath("aliases", "claude-opus-4-8"),
    'aliases["claude-opus-4-8"]',
  );
  assert.equal(childPath("a", "b_c"), "a.b_c");
});

Deno.test("lineLocator() counts lines and columns from 1", () => {
  const locate = lineLocator("ab\ncd\n\ne");
  assert.deepEqual(locate(0), { line: 1, column: 1 });
  assert.deepEqual(locate(4), { line: 2, column: 2 });
  assert.deepEqual(locate(7), { line: 4, column: 1 });
});
