import assert from "node:assert/strict";
import { ModelsState } from "../../src/models/models_state.ts";
import { validateModelsConfig } from "../../src/models/config_file.ts";

Deno.test("ModelsState resolves with the built-in catalogue until replaced", () => {
  const state = new ModelsState();
  assert.equal(
    state.resolve("claude-haiku-4-5-20251001", "messages")?.flow,
    "anthropic.claude-4-5-haiku",
  );
  const report = validateModelsConfig(
    JSON.stringify({ aliases: { "my-model": "gpt-4o" } }),
    "models.json",
  );
  assert.deepEqual(report.errors, []);
  assert.equal(state.resolve("my-model", "chat")?.flow ?? null, null);
  state.replace(report.config!);
  assert.equal(state.resolve("my-model", "chat")?.flow, "gpt-4o");
  assert.equal(state.config, report.config);
});
