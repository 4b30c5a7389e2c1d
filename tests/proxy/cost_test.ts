import assert from "node:assert/strict";
import { ModelsState } from "../../src/models/models_state.ts";
import { validateModelsConfig } from "../../src/models/config_file.ts";
import { INFO, modelsSetup, post, recorded } from "./models_setup.ts";

/** A configuration pricing Sonnet 4.5 and GPT-5 in BRL; Haiku left unpriced. */
function pricedModels(): ModelsState {
  const report = validateModelsConfig(
    JSON.stringify({
      currency: "BRL",
      models: [
        {
          name: "anthropic.claude-4-5-sonnet",
          price: { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 },
        },
        { name: "gpt-5", price: { input: 1.25, output: 10, cacheRead: 0.125 } },
      ],
    }),
    "models.json",
  );
  assert.deepEqual(report.errors, []);
  return new ModelsState(report.config!);
}

Deno.test("a priced model's request records its cost from Flow's usage, in the configuration's currency", async () => {
  using s = modelsSetup(
    () =>
      Response.json({
        type: "message",
        usage: {
          input_tokens: 1000,
          output_tokens: 200,
          cache_read_input_tokens: 4000,
          cache_creation_input_tokens: 100,
        },
      }),
    { models: pricedModels() },
  );
  const res = await s.handler(
    post("/v1/messages", {
      model: "claude-sonnet-4-5",
      max_tokens: 10,
      messages: [{ role: "user", content: "Hi" }],
    }),
    INFO,
  );
  await res.text();
  await recorded(s, 1);
  // 1000 × 3 + 200 × 15 + 4000 × 0.3 + 100 × 3.75 millionths.
  assert.equal(s.records[0].costNanos, 7_575_000);
  assert.equal(s.records[0].costCurrency, "BRL");
});

Deno.test("OpenAI's prompt tokens include the cached ones; a translated answer is priced as Flow reported it", async () => {
  using s = modelsSetup(
    () =>
      Response.json({
        id: "chatcmpl-1",
        model: "gpt-5",
        choices: [{
          index: 0,
          message: { role: "assistant", content: "Hi" },
          finish_reason: "stop",
        }],
        usage: {
          prompt_tokens: 1000,
          completion_tokens: 100,
          prompt_tokens_details: { cached_tokens: 600 },
        },
      }),
    { models: pricedModels() },
  );
  const res = await s.handler(
    post("/v1/messages", {
      model: "gpt-5",
      max_tokens: 10,
      messages: [{ role: "user", content: "Hi" }],
    }),
    INFO,
  );
  await res.text();
  await recorded(s, 1);
  assert.equal(s.records[0].translation, "messages->chat");
  // 400 fresh × 1.25 + 100 × 10 + 600 × 0.125 millionths.
  assert.equal(s.records[0].costNanos, (400 * 1.25 + 1000 + 75) * 1000);
});

Deno.test("an unpriced model's request has no cost, not a cost of 0", async () => {
  using s = modelsSetup(
    () =>
      Response.json({
        type: "message",
        usage: { input_tokens: 10, output_tokens: 2 },
      }),
    { models: pricedModels() },
  );
  const res = await s.handler(
    post("/v1/messages", {
      model: "claude-haiku-4-5",
      max_tokens: 10,
      messages: [{ role: "user", content: "Hi" }],
    }),
    INFO,
  );
  await res.text();
  await recorded(s, 1);
  assert.equal(s.records[0].tokensIn, 10);
  assert.equal(s.records[0].costNanos ?? null, null);
  assert.equal(s.records[0].costCurrency ?? null, null);
});
