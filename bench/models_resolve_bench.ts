/**
 * The cost of mapping a model id, which runs once per request:
 * `deno bench bench/models_resolve_bench.ts`.
 */
import { builtInModelsConfig } from "../src/models/config_file.ts";
import { createModelResolver } from "../src/models/mapping.ts";

const resolve = createModelResolver(builtInModelsConfig());
const uncached = createModelResolver(builtInModelsConfig(), { cacheSize: 0 });

for (
  const id of [
    "anthropic.claude-4-6-sonnet",
    "claude-opus-4-8",
    "claude-sonnet-4-5-20250929",
    "gpt-6.2-sol",
    "unknown-model",
  ]
) {
  Deno.bench(`resolveModel("${id}")`, { group: "cached" }, () => {
    resolve(id, "messages");
  });
}

Deno.bench('resolveModel("claude-opus-4-8"), no cache', () => {
  uncached("claude-opus-4-8", "messages");
});
