import assert from "node:assert/strict";
import { builtInModelsConfig } from "../../src/models/config_file.ts";
import { validateModelsConfig } from "../../src/models/config_file.ts";
import {
  compileGlob,
  createModelResolver,
  parseClaudeId,
} from "../../src/models/mapping.ts";
import type { ApiKind, ModelsConfig } from "../../src/models/types.ts";

function configOf(json: unknown): ModelsConfig {
  const report = validateModelsConfig(JSON.stringify(json), "models.json");
  assert.deepEqual(report.errors, []);
  return report.config!;
}

function flowOf(
  config: ModelsConfig,
  id: string,
  api: ApiKind = "messages",
): string | null {
  return createModelResolver(config)(id, api)?.flow ?? null;
}

Deno.test("resolveModel() maps the Claude ids the clients send by default", async (t) => {
  const resolve = createModelResolver(builtInModelsConfig());
  const cases: [string, string, string][] = [
    // a version Flow has: that version
    [
      "claude-sonnet-4-5-20250929",
      "anthropic.claude-4-5-sonnet",
      "builtin:claude-sonnet",
    ],
    [
      "claude-haiku-4-5-20251001",
      "anthropic.claude-4-5-haiku",
      "builtin:claude-haiku",
    ],
    ["claude-opus-4-6", "anthropic.claude-4-6-opus", "builtin:claude-opus"],
    [
      "claude-sonnet-4-6[1m]",
      "anthropic.claude-4-6-sonnet",
      "builtin:claude-sonnet",
    ],
    [
      "claude-haiku-4-5-latest",
      "anthropic.claude-4-5-haiku",
      "builtin:claude-haiku",
    ],
    [
      "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
      "anthropic.claude-4-5-sonnet",
      "builtin:claude-sonnet",
    ],
    // a version Flow lacks: the newest of the family
    [
      "claude-opus-4-8",
      "anthropic.claude-4-7-opus",
      "builtin:claude-opus-newest",
    ],
    [
      "claude-opus-4-8[1m]",
      "anthropic.claude-4-7-opus",
      "builtin:claude-opus-newest",
    ],
    [
      "claude-opus-4-20250514",
      "anthropic.claude-4-7-opus",
      "builtin:claude-opus-newest",
    ],
    [
      "claude-sonnet-4-20250514",
      "anthropic.claude-4-6-sonnet",
      "builtin:claude-sonnet-newest",
    ],
    [
      "claude-haiku-5-0",
      "anthropic.claude-4-5-haiku",
      "builtin:claude-haiku-newest",
    ],
    // the older style
    [
      "claude-3-5-sonnet-20241022",
      "anthropic.claude-4-6-sonnet",
      "builtin:claude-sonnet-newest",
    ],
    [
      "claude-3-opus-latest",
      "anthropic.claude-4-7-opus",
      "builtin:claude-opus-newest",
    ],
    [
      "claude-3-5-haiku-20241022",
      "anthropic.claude-4-5-haiku",
      "builtin:claude-haiku-newest",
    ],
  ];
  for (const [id, flow, rule] of cases) {
    await t.step(id, () => {
      const r = resolve(id, "messages");
      assert.equal(r?.flow, flow);
      assert.equal(r?.rule, rule);
      assert.equal(r?.entry?.name, flow);
    });
  }
});

Deno.test("resolveModel() passes Flow names unchanged", () => {
  const resolve = createModelResolver(builtInModelsConfig());
  for (
    const name of ["anthropic.claude-4-6-sonnet", "gpt-4o", "gemini-2.5-pro"]
  ) {
    const r = resolve(name, "chat");
    assert.equal(r?.flow, name);
    assert.equal(r?.rule, "flow-name");
  }
});

Deno.test("resolveModel() maps unknown gpt-* ids to gpt-5, dated ones to the undated name", () => {
  const resolve = createModelResolver(builtInModelsConfig());
  assert.deepEqual(
    [
      resolve("gpt-6.2-sol", "responses")?.flow,
      resolve("gpt-6.2-sol", "responses")?.rule,
    ],
    ["gpt-5", "builtin:gpt"],
  );
  assert.equal(resolve("gpt-4o-2024-08-06", "chat")?.flow, "gpt-4o");
  assert.equal(resolve("gpt-4o-mini-2024-07-18", "chat")?.flow, "gpt-4o-mini");
  assert.equal(resolve("gpt-5.1-codex-mini", "responses")?.flow, "gpt-5-mini");
  assert.equal(resolve("gpt-4.1-nano", "chat")?.flow, "gpt-5-mini");
});

Deno.test("resolveModel() maps unknown gemini-* ids (Gemini CLI's defaults) to the catalogue's Gemini model", () => {
  const resolve = createModelResolver(builtInModelsConfig());
  for (
    const id of [
      "gemini-3.1-pro-preview",
      "gemini-3.5-flash-lite",
      "models/gemini-2.0-flash",
    ]
  ) {
    assert.deepEqual(
      [resolve(id, "gemini")?.flow, resolve(id, "gemini")?.rule],
      ["gemini-2.5-pro", "builtin:gemini"],
      id,
    );
  }
  assert.equal(resolve("gemini-2.5-pro", "gemini")?.rule, "flow-name");
  assert.equal(resolve("gemini-embedding-001", "embeddings"), null);
  const none = createModelResolver({
    ...builtInModelsConfig(),
    builtInRules: false,
  });
  assert.equal(none("gemini-3.1-pro-preview", "gemini"), null);
});

Deno.test("resolveModel() sends ids that match nothing unchanged (null)", () => {
  const resolve = createModelResolver(builtInModelsConfig());
  assert.equal(resolve("o3", "responses"), null);
  assert.equal(resolve("llama-3-70b", "chat"), null);
  assert.equal(resolve("claude-instant-1", "messages"), null);
  // the family rules never apply to embeddings
  assert.equal(resolve("gpt-embedding-x", "embeddings"), null);
  assert.equal(
    resolve("text-embedding-3-small", "embeddings")?.rule,
    "flow-name",
  );
});

Deno.test("resolveModel() precedence: alias > Flow name > pattern in file order > built-in > default", async (t) => {
  const config = configOf({
    aliases: {
      "claude-opus-4-8": "anthropic.claude-4-6-opus",
      "gpt-4o": "gpt-4.1",
    },
    patterns: [
      { match: "claude-sonnet-*", model: "anthropic.claude-4-5-sonnet" },
      { match: "claude-*", model: "anthropic.claude-4-5-haiku" },
      { match: "gpt-4o", model: "gpt-5" },
    ],
    defaults: { chat: "gpt-4o-mini" },
  });
  const resolve = createModelResolver(config);
  await t.step("an alias beats the built-in rule and even a Flow name", () => {
    assert.deepEqual(
      resolve("claude-opus-4-8", "messages"),
      {
        flow: "anthropic.claude-4-6-opus",
        entry: config.catalogue.byName.get("anthropic.claude-4-6-opus"),
        rule: "alias",
      },
    );
    assert.equal(resolve("gpt-4o", "chat")?.flow, "gpt-4.1");
  });
  await t.step("a Flow name beats the patterns", () => {
    assert.equal(resolve("gpt-5", "chat")?.rule, "flow-name");
  });
  await t.step(
    "the first pattern in file order wins, before the built-in rules",
    () => {
      const r = resolve("claude-sonnet-4-6", "messages");
      assert.equal(r?.flow, "anthropic.claude-4-5-sonnet");
      assert.equal(r?.rule, "pattern:claude-sonnet-*");
      assert.equal(
        resolve("claude-opus-4-6", "messages")?.flow,
        "anthropic.claude-4-5-haiku",
      );
    },
  );
  await t.step("the per-API default comes last and only on its API", () => {
    assert.deepEqual(
      [resolve("mystery", "chat")?.flow, resolve("mystery", "chat")?.rule],
      ["gpt-4o-mini", "default:chat"],
    );
    assert.equal(resolve("mystery", "responses"), null);
    assert.equal(resolve("gpt-6.2-sol", "chat")?.rule, "builtin:gpt");
  });
});

Deno.test("resolveModel() applies a pattern only on the APIs it names", () => {
  const config = configOf({
    patterns: [{ match: "my-*", model: "gpt-5", apis: ["responses"] }],
  });
  assert.equal(flowOf(config, "my-model", "responses"), "gpt-5");
  assert.equal(flowOf(config, "my-model", "chat"), null);
});

Deno.test("resolveModel() without built-in rules sends Claude ids unchanged", () => {
  const config = configOf({ builtInRules: false });
  assert.equal(flowOf(config, "claude-opus-4-8"), null);
  assert.equal(flowOf(config, "gpt-6.2-sol", "responses"), null);
});

Deno.test("resolveModel() takes the newest family member from a file that adds one", () => {
  const config = configOf({
    models: [{
      name: "anthropic.claude-4-8-opus",
      family: "anthropic",
      apis: ["messages", "chat"],
      contextWindow: 1000000,
      outputLimit: 128000,
    }],
  });
  assert.equal(flowOf(config, "claude-opus-4-8"), "anthropic.claude-4-8-opus");
  assert.equal(flowOf(config, "claude-opus-9-9"), "anthropic.claude-4-8-opus");
  assert.equal(flowOf(config, "claude-opus-4-6"), "anthropic.claude-4-6-opus");
});

Deno.test("resolveModel() caches rule results without changing answers, within its bound", () => {
  const resolve = createModelResolver(builtInModelsConfig(), { cacheSize: 2 });
  const first = resolve("claude-opus-4-8", "messages");
  assert.strictEqual(resolve("claude-opus-4-8", "messages"), first);
  assert.equal(resolve("o3", "chat"), null);
  assert.equal(resolve("o3", "chat"), null);
  // evicts the oldest; answers stay the same
  resolve("claude-sonnet-4-5", "messages");
  resolve("claude-haiku-4-5", "messages");
  resolve("gpt-6", "chat");
  const again = resolve("claude-opus-4-8", "messages");
  assert.notStrictEqual(again, first);
  assert.deepEqual(again, first);
  // the cache is per API: the same id can resolve differently elsewhere
  assert.equal(resolve("gpt-6", "embeddings"), null);
  assert.equal(resolve("gpt-6", "chat")?.flow, "gpt-5");
});

Deno.test("createModelResolver() refuses a bad cache size at construction", () => {
  assert.throws(
    () => createModelResolver(builtInModelsConfig(), { cacheSize: -1 }),
    RangeError,
  );
});

Deno.test("parseClaudeId() takes both id styles apart and refuses others", () => {
  assert.deepEqual(parseClaudeId("claude-opus-4-8[1m]"), {
    family: "opus",
    major: 4,
    minor: 8,
  });
  assert.deepEqual(parseClaudeId("claude-sonnet-4-20250514"), {
    family: "sonnet",
    major: 4,
    minor: null,
  });
  assert.deepEqual(parseClaudeId("claude-3-7-sonnet-20250219"), {
    family: "sonnet",
    major: 3,
    minor: 7,
  });
  assert.equal(parseClaudeId("claude-opus"), null);
  assert.equal(parseClaudeId("claude-sonnet-4-5-extra"), null);
  assert.equal(parseClaudeId("xclaude-opus-4"), null);
});

Deno.test("compileGlob() treats only * as special", () => {
  assert.ok(compileGlob("gpt-4.1*").test("gpt-4.1-mini"));
  assert.ok(!compileGlob("gpt-4.1*").test("gpt-4x1"));
  assert.ok(compileGlob("a*b*c").test("abc"));
  assert.ok(!compileGlob("a(b)").test("ab"));
  assert.ok(compileGlob("a(b)").test("a(b)"));
  assert.ok(!compileGlob("claude-*").test("xclaude-1"));
});
