import assert from "node:assert/strict";
import { BUILT_IN_CATALOGUE, catalogueOf } from "../../src/models/catalogue.ts";
import { DEFAULT_COMPAT } from "../../src/models/types.ts";

const ISSUE_MODELS = [
  "anthropic.claude-4-5-haiku",
  "anthropic.claude-4-5-sonnet",
  "anthropic.claude-4-6-sonnet",
  "anthropic.claude-4-6-opus",
  "anthropic.claude-4-7-opus",
  "gpt-4o",
  "gpt-4o-mini",
  "gpt-4.1",
  "gpt-5",
  "gpt-5-mini",
  "gemini-2.5-pro",
];

Deno.test("BUILT_IN_CATALOGUE holds every model Flow is known to serve", () => {
  for (const name of ISSUE_MODELS) {
    assert.ok(BUILT_IN_CATALOGUE.byName.has(name), name);
  }
  assert.equal(
    BUILT_IN_CATALOGUE.entries.length,
    BUILT_IN_CATALOGUE.byName.size,
  );
});

Deno.test("BUILT_IN_CATALOGUE serves each family on its APIs", () => {
  for (const e of BUILT_IN_CATALOGUE.entries) {
    const expected = e.apis.includes("embeddings")
      ? ["embeddings"]
      : e.family === "anthropic"
      ? ["messages", "chat"]
      : e.family === "openai"
      ? ["chat", "responses"]
      : ["chat"];
    assert.deepEqual(e.apis, expected, e.name);
  }
});

Deno.test("BUILT_IN_CATALOGUE has the published output limits and no adaptive thinking", () => {
  const limit = (name: string) =>
    BUILT_IN_CATALOGUE.byName.get(name)!.outputLimit;
  assert.equal(limit("anthropic.claude-4-5-haiku"), 64_000);
  assert.equal(limit("anthropic.claude-4-5-sonnet"), 64_000);
  assert.equal(limit("anthropic.claude-4-6-opus"), 128_000);
  for (const e of BUILT_IN_CATALOGUE.entries) {
    assert.ok(!e.thinking.includes("adaptive"), e.name);
    assert.equal(e.compat, DEFAULT_COMPAT);
    assert.equal(e.builtIn, true);
    assert.ok(Object.isFrozen(e) && Object.isFrozen(e.betas), e.name);
  }
  // Bedrock takes only adaptive thinking on Opus 4.7, so it takes none through Flow
  assert.deepEqual(
    BUILT_IN_CATALOGUE.byName.get("anthropic.claude-4-7-opus")!.thinking,
    [],
  );
});

Deno.test("BUILT_IN_CATALOGUE accepts only Bedrock's known-good beta flags", () => {
  const betas = (name: string) => BUILT_IN_CATALOGUE.byName.get(name)!.betas;
  // context-1m only where Bedrock needs it for 1M (Sonnet 4.5)
  assert.ok(
    betas("anthropic.claude-4-5-sonnet").includes("context-1m-2025-08-07"),
  );
  assert.ok(
    !betas("anthropic.claude-4-6-opus").includes("context-1m-2025-08-07"),
  );
  assert.deepEqual(betas("anthropic.claude-4-7-opus"), []);
  // what Claude Code sends that Flow refuses is never accepted
  for (const e of BUILT_IN_CATALOGUE.entries) {
    for (
      const flag of [
        "claude-code-20250219",
        "context-management-2025-06-27",
        "effort-2025-11-24",
      ]
    ) {
      assert.ok(!e.betas.includes(flag), `${e.name}: ${flag}`);
    }
    if (e.family === "anthropic") {
      assert.deepEqual(e.rejectsFields, [
        "context_management",
        "output_config",
      ]);
    } else assert.deepEqual(e.rejectsFields, []);
  }
});

Deno.test("catalogueOf() lets a later entry of the same name replace an earlier one", () => {
  const [a, b] = BUILT_IN_CATALOGUE.entries;
  const replaced = { ...a, outputLimit: 1 };
  const c = catalogueOf([a, b, replaced]);
  assert.equal(c.entries.length, 2);
  assert.equal(c.byName.get(a.name)!.outputLimit, 1);
  assert.equal(c.entries[0].outputLimit, 1);
});
