import assert from "node:assert/strict";
import { costNanos, formatCost } from "../../src/models/price.ts";
import { validateModelsConfig } from "../../src/models/config_file.ts";
import { formatModelsTable } from "../../src/models/report.ts";

const PRICE = { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 };

Deno.test("costNanos: Anthropic's input tokens leave the cache out; OpenAI's count it", () => {
  const tokens = {
    tokensIn: 1000,
    tokensOut: 200,
    cacheReadTokens: 4000,
    cacheWriteTokens: 100,
  };
  // 1000 × 3 + 200 × 15 + 4000 × 0.3 + 100 × 3.75 = 7575 millionths = 7 575 000 nanos.
  assert.equal(costNanos(PRICE, tokens, false), 7_575_000);
  // The same numbers as OpenAI reports them: 1000 prompt tokens of which 900
  // are cached or written, so 0 fresh ones.
  assert.equal(
    costNanos(PRICE, { ...tokens, cacheReadTokens: 800 }, true),
    // max(0, 1000 − 800 − 100) = 100 fresh × 3 + 200 × 15 + 800 × 0.3 + 100 × 3.75
    (100 * 3 + 200 * 15 + 800 * 0.3 + 100 * 3.75) * 1000,
  );
});

Deno.test("costNanos: unknown without a price or without tokens, never 0", () => {
  const tokens = {
    tokensIn: 10,
    tokensOut: 10,
    cacheReadTokens: null,
    cacheWriteTokens: null,
  };
  assert.equal(costNanos(undefined, tokens, true), null);
  assert.equal(costNanos(null, tokens, true), null);
  assert.equal(
    costNanos(PRICE, { ...tokens, tokensIn: null, tokensOut: null }, true),
    null,
  );
  assert.equal(formatCost(7_575_000), "0.007575");
});

Deno.test("a models file's prices and currency are read, and every bad value named", () => {
  const ok = validateModelsConfig(
    JSON.stringify({
      currency: "BRL",
      models: [{
        name: "anthropic.claude-4-5-sonnet",
        price: { input: 3, output: 15, cacheRead: 0.3 },
      }],
    }),
    "models.json",
  );
  assert.deepEqual(ok.errors, []);
  assert.equal(ok.config!.currency, "BRL");
  assert.deepEqual(
    ok.config!.catalogue.byName.get("anthropic.claude-4-5-sonnet")!.price,
    // A cache write without a price costs as fresh input: never undercounted.
    { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3 },
  );
  const table = formatModelsTable(ok.config!);
  assert.match(table, /PRICE BRL\/M IN,OUT,CACHE R,W$/m);
  assert.match(table, /^anthropic\.claude-4-5-sonnet \* .* 3,15,0\.3,3$/m);
  assert.match(table, /^gpt-5 .* unknown$/m);
  const bad = validateModelsConfig(
    `{"currency": "dollars", "models": [
  {"name": "gpt-5", "price": {"input": -1, "output": "15", "colour": 1}},
  {"name": "gpt-5-mini", "price": {"output": 2}},
  {"name": "gpt-4.1", "price": 3}
]}`,
    "models.json",
  );
  const messages = bad.errors.map((e) =>
    e.message.replace(/^models\.json:\d+:\d+: /, "")
  );
  for (
    const expected of [
      'currency must be a three-letter ISO 4217 code such as "USD" or "BRL", got a string "dollars"',
      "models[0].price.input must be a price per million tokens from 0 to 1000000, got the number -1",
      "models[0].price.output must be a price per million tokens from 0 to 1000000, got a string",
      "models[0].price.colour is not a known field",
      'models[1].price has no "input" (a price per million tokens)',
      'models[2].price must be an object such as {"input": 3, "output": 15}, got the number 3',
    ]
  ) {
    assert.ok(
      messages.some((m) => m.startsWith(expected)),
      `missing ${expected} in:\n${messages.join("\n")}`,
    );
  }
  assert.equal(bad.config, null);
});
