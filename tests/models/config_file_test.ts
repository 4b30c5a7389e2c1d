import assert from "node:assert/strict";
import {
  builtInModelsConfig,
  MAX_MODELS_FILE_BYTES,
  readModelsConfigFile,
  validateModelsConfig,
} from "../../src/models/config_file.ts";
import { BUILT_IN_CATALOGUE } from "../../src/models/catalogue.ts";
import { COMPAT_OFF, DEFAULT_COMPAT } from "../../src/models/types.ts";

const VALID = `{
  "compat": { "maxTokens": "pass" },
  "models": [
    { "name": "anthropic.claude-4-6-sonnet", "outputLimit": 64000,
      "betas": ["interleaved-thinking-2025-05-14"] },
    { "name": "anthropic.claude-4-7-opus", "thinking": ["adaptive"],
      "compat": { "thinking": "pass" } },
    { "name": "mistral-large", "family": "other", "apis": ["chat"],
      "contextWindow": 128000, "outputLimit": 8192, "note": "added by us" }
  ],
  "aliases": { "sonnet": "anthropic.claude-4-6-sonnet" },
  "patterns": [
    { "match": "claude-*-haiku*", "model": "anthropic.claude-4-5-haiku", "apis": ["messages"] }
  ],
  "defaults": { "chat": "gpt-4o-mini" }
}
`;

Deno.test("validateModelsConfig() builds the effective catalogue from a valid file", () => {
  const report = validateModelsConfig(VALID, "models.json");
  assert.deepEqual(report.errors, []);
  assert.deepEqual(report.warnings, []);
  const config = report.config!;
  const byName = config.catalogue.byName;
  // overridden field by field, the rest kept
  const sonnet = byName.get("anthropic.claude-4-6-sonnet")!;
  assert.equal(sonnet.outputLimit, 64000);
  assert.deepEqual(sonnet.betas, ["interleaved-thinking-2025-05-14"]);
  assert.equal(sonnet.contextWindow, 1_000_000);
  assert.equal(sonnet.builtIn, false);
  // the global switches apply to every model, the model's own on top
  assert.equal(sonnet.compat.maxTokens, "pass");
  assert.equal(sonnet.compat.betas, "filter");
  const opus = byName.get("anthropic.claude-4-7-opus")!;
  assert.deepEqual(opus.thinking, ["adaptive"]);
  assert.equal(opus.compat.thinking, "pass");
  assert.equal(opus.compat.maxTokens, "pass");
  assert.equal(byName.get("gpt-4o")!.compat.maxTokens, "pass");
  assert.equal(byName.get("gpt-4o")!.builtIn, true);
  // added after the built-in ones
  const added = config.catalogue.entries.at(-1)!;
  assert.equal(added.name, "mistral-large");
  assert.deepEqual(added.thinking, []);
  assert.equal(added.note, "added by us");
  assert.equal(
    config.catalogue.entries.length,
    BUILT_IN_CATALOGUE.entries.length + 1,
  );
  assert.deepEqual([...config.aliases], [[
    "sonnet",
    "anthropic.claude-4-6-sonnet",
  ]]);
  assert.deepEqual(config.patterns, [{
    match: "claude-*-haiku*",
    model: "anthropic.claude-4-5-haiku",
    apis: ["messages"],
  }]);
  assert.deepEqual(config.defaults, { chat: "gpt-4o-mini" });
  assert.equal(config.compat, true);
  assert.equal(config.source, "models.json");
});

Deno.test("validateModelsConfig() with compat false turns every switch off", () => {
  const report = validateModelsConfig(
    `{"compat": false, "models": [{"name": "gpt-5", "compat": {"betas": "filter"}}]}`,
    "m.json",
  );
  assert.deepEqual(report.errors, []);
  assert.equal(report.config!.compat, false);
  for (const entry of report.config!.catalogue.entries) {
    assert.deepEqual(entry.compat, COMPAT_OFF, entry.name);
  }
});

Deno.test("validateModelsConfig() accepts an empty object as the built-in configuration", () => {
  const config = validateModelsConfig("{}", "m.json").config!;
  assert.deepEqual(
    config.catalogue.entries.map((e) => e.name),
    BUILT_IN_CATALOGUE.entries.map((e) => e.name),
  );
  assert.ok(
    config.catalogue.entries.every((e) =>
      e.compat === DEFAULT_COMPAT && e.builtIn
    ),
  );
  assert.equal(builtInModelsConfig().source, null);
});

Deno.test("validateModelsConfig() reports every invalid field at once, at file:line:column with the path", () => {
  const text = `{
  "compat": { "betas": "drop", "colour": "red" },
  "builtInRules": "yes",
  "models": [
    { "name": "anthropic.claude-4-5-haiku", "family": "ibm", "apis": ["chat", "fax"],
      "contextWindow": 0, "outputLimit": -1, "thinking": ["deep"], "betas": ["a b"],
      "rejectsFields": [""], "compat": "on", "note": 3, "colour": 1 },
    { "name": "brand-new", "apis": [] },
    { "family": "openai" },
    "gpt-5",
    { "name": "" }
  ],
  "aliases": { "x": "", "": "gpt-5" },
  "patterns": [ { "match": "a*" }, "b", { "match": "c*", "model": "gpt-5", "apis": "chat" } ],
  "defaults": { "chat": 5, "fax": "gpt-5" },
  "extra": true
}`;
  const report = validateModelsConfig(text, "models.json");
  assert.equal(report.config, null);
  const messages = report.errors.map((e) => e.message);
  const expected = [
    'models.json:2:24: compat.betas must be "filter" or "pass", got a string',
    "models.json:2:32: compat.colour is not a known field",
    "models.json:3:19: builtInRules must be true or false, got a string",
    "models.json:5:55: models[0].family must be one of anthropic, openai, gemini, other",
    'models.json:5:79: models[0].apis[1] must be one of messages, chat, responses, embeddings, gemini, got a string "fax"',
    "models.json:6:24: models[0].contextWindow must be a positive integer, got the number 0",
    "models.json:6:42: models[0].outputLimit must be a non-negative integer, got the number -1",
    'models.json:6:59: models[0].thinking[0] must be "enabled" or "adaptive"',
    "models.json:6:78: models[0].betas[0] must be a beta flag",
    "models.json:7:25: models[0].rejectsFields[0] must be a non-empty field name",
    "models.json:7:40: models[0].compat must be true, false or an object, got a string",
    "models.json:7:54: models[0].note must be a string, got the number 3",
    "models.json:7:57: models[0].colour is not a known field",
    'models.json:8:5: models[1] adds the model "brand-new", which is not built in, so it needs "family", "contextWindow", "outputLimit"',
    "models.json:8:36: models[1].apis must name at least one API",
    'models.json:9:5: models[2] has no "name"',
    "models.json:10:5: models[3] must be an object, got a string",
    "models.json:11:15: models[4].name must be a non-empty string, got a string",
    "models.json:13:21: aliases.x must be a non-empty string, got a string",
    'models.json:13:25: aliases[""] is an empty model id',
    'models.json:14:17: patterns[0] has no "model"',
    "models.json:14:36: patterns[1] must be an object, got a string",
    "models.json:14:84: patterns[2].apis must be an array, got a string",
    "models.json:15:25: defaults.chat must be a non-empty string, got the number 5",
    "models.json:15:28: defaults.fax is not a known field",
    "models.json:16:3: extra is not a known field",
  ];
  for (const want of expected) {
    assert.ok(
      messages.some((m) => m.startsWith(want)),
      `missing ${JSON.stringify(want)} in:\n${messages.join("\n")}`,
    );
  }
  assert.equal(messages.length, expected.length, messages.join("\n"));
  const outputLimit = report.errors.find((e) =>
    e.path === "models[0].outputLimit"
  )!;
  assert.deepEqual([outputLimit.line, outputLimit.column], [6, 42]);
});

Deno.test("validateModelsConfig() suggests the field a near miss meant", () => {
  const report = validateModelsConfig(
    `{"models": [{"name": "gpt-5", "outputlimit": 5}]}`,
    "m.json",
  );
  assert.deepEqual(report.errors.map((e) => e.message), [
    'm.json:1:31: models[0].outputlimit is not a known field (did you mean "outputLimit"?)',
  ]);
});

Deno.test("validateModelsConfig() reports invalid JSON with its line and column", async (t) => {
  const cases: [string, string][] = [
    [
      `{\n  "models": [\n    {"name": "x",}\n  ]\n}`,
      'm.json:3:18: invalid JSON: unexpected "}", expected a key in double quotes',
    ],
    [
      `{"a": 1`,
      'm.json:1:8: invalid JSON: unexpected end of file, expected "," or "}"',
    ],
    [
      `{"a": "b\nc"}`,
      "m.json:1:9: invalid JSON: control character (such as a line break) inside a string",
    ],
    [
      `{"a": tru}`,
      'm.json:1:7: invalid JSON: unexpected "t", expected a value',
    ],
    [`{} {}`, 'm.json:1:4: invalid JSON: unexpected "{" after the value'],
    [
      `{"a": 01}`,
      'm.json:1:8: invalid JSON: unexpected "1", expected "," or "}"',
    ],
  ];
  for (const [text, message] of cases) {
    await t.step(JSON.stringify(text), () => {
      const report = validateModelsConfig(text, "m.json");
      assert.deepEqual(report.errors.map((e) => e.message), [message]);
      assert.equal(report.config, null);
    });
  }
  await t.step("empty file", () => {
    assert.deepEqual(
      validateModelsConfig("  \n", "m.json").errors.map((e) => e.message),
      ["m.json: file is empty; expected a JSON object"],
    );
  });
  await t.step("not an object", () => {
    assert.deepEqual(
      validateModelsConfig("[1]", "m.json").errors.map((e) => e.message),
      ["m.json:1:1: the file must be a JSON object, got an array"],
    );
  });
});

Deno.test("validateModelsConfig() refuses a model defined twice and a key written twice", () => {
  const text = `{
  "models": [
    { "name": "gpt-5", "outputLimit": 1 },
    { "name": "gpt-5", "outputLimit": 2 }
  ],
  "aliases": { "a": "gpt-5", "a": "gpt-4o" }
}`;
  const report = validateModelsConfig(text, "m.json");
  assert.deepEqual(report.errors.map((e) => e.message), [
    'm.json:4:15: models[1].name "gpt-5" is already defined by models[0]',
    "m.json:6:30: aliases.a is written 2 times (at 6:16, 6:30)",
  ]);
});

Deno.test("validateModelsConfig() warns about targets outside the catalogue, repeats and aliased Flow names", () => {
  const report = validateModelsConfig(
    `{"aliases": {"gpt-4o": "gpt-9"}, "patterns": [{"match": "x*", "model": "y"}],
      "defaults": {"responses": "z"},
      "models": [{"name": "gpt-5", "betas": ["a", "a"]}]}`,
    "m.json",
  );
  assert.deepEqual(report.errors, []);
  const warnings = report.warnings.map((w) => w.message);
  assert.equal(warnings.length, 5, warnings.join("\n"));
  assert.ok(
    warnings.some((w) =>
      w.includes('aliases["gpt-4o"] "gpt-4o" is a Flow name')
    ),
  );
  assert.ok(
    warnings.some((w) =>
      w.includes(
        'aliases["gpt-4o"] maps to "gpt-9", which is not in the catalogue',
      )
    ),
  );
  assert.ok(warnings.some((w) => w.includes('patterns[0].model maps to "y"')));
  assert.ok(warnings.some((w) => w.includes('defaults.responses maps to "z"')));
  assert.ok(warnings.some((w) => w.includes('models[0].betas[1] repeats "a"')));
  assert.deepEqual(report.config!.catalogue.byName.get("gpt-5")!.betas, ["a"]);
});

Deno.test("validateModelsConfig() keeps a __proto__ key as data", () => {
  const report = validateModelsConfig(
    `{"aliases": {"__proto__": "gpt-5"}}`,
    "m.json",
  );
  assert.deepEqual(report.errors, []);
  assert.equal(report.config!.aliases.get("__proto__"), "gpt-5");
});

Deno.test("readModelsConfigFile() reports a file it cannot read, is too large or not UTF-8", async () => {
  const missing = await readModelsConfigFile("/nonexistent/models.json", {
    displayName: "models.json",
  });
  assert.deepEqual(missing.errors.map((e) => e.message), [
    "models.json: cannot read the file: no such file",
  ]);
  const big = await readModelsConfigFile("m.json", {
    readFile: () => Promise.resolve(new Uint8Array(MAX_MODELS_FILE_BYTES + 1)),
  });
  assert.match(
    big.errors[0].message,
    /^m\.json: the file has \d+ bytes, more than/,
  );
  const latin1 = await readModelsConfigFile("m.json", {
    readFile: () => Promise.resolve(new Uint8Array([0x7b, 0xe9, 0x7d])),
  });
  assert.deepEqual(latin1.errors.map((e) => e.message), [
    "m.json: the file is not valid UTF-8",
  ]);
  const ok = await readModelsConfigFile("m.json", {
    readFile: () => Promise.resolve(new TextEncoder().encode("\ufeff{}")),
  });
  assert.deepEqual(ok.errors, []);
  assert.ok(ok.config);
});

Deno.test("validateModelsConfig() counts columns after a byte-order mark as editors show them", () => {
  const report = validateModelsConfig('\ufeff{"builtInRules": 1}', "m.json");
  assert.deepEqual(report.errors.map((e) => e.message), [
    "m.json:1:18: builtInRules must be true or false, got the number 1",
  ]);
});

Deno.test("validateModelsConfig() takes a beta prefix ending in * and refuses a * inside", () => {
  const ok = validateModelsConfig(
    `{"models": [{"name": "gpt-5", "betas": ["computer-use-*"]}]}`,
    "m.json",
  );
  assert.deepEqual(ok.errors, []);
  assert.deepEqual(ok.config!.catalogue.byName.get("gpt-5")!.betas, [
    "computer-use-*",
  ]);
  const bad = validateModelsConfig(
    `{"models": [{"name": "gpt-5", "betas": ["a*b"]}]}`,
    "m.json",
  );
  assert.equal(bad.errors.length, 1);
  assert.equal(bad.errors[0].path, "models[0].betas[0]");
});

Deno.test("the complete example of docs/models.md is valid, without warnings", () => {
  const doc = Deno.readTextFileSync(
    new URL("../../docs/models.md", import.meta.url),
  );
  const example = doc.match(/```json\n([\s\S]*?)```/)?.[1];
  assert.ok(example, "no json block in docs/models.md");
  const report = validateModelsConfig(example, "docs/models.md");
  assert.deepEqual(report.errors, []);
  assert.deepEqual(report.warnings, []);
  const config = report.config!;
  assert.equal(
    config.catalogue.byName.get("anthropic.claude-4-8-opus")?.outputLimit,
    128000,
  );
  assert.equal(config.patterns.length, 2);
  assert.equal(Object.keys(config.defaults).length, 2);
});
