import assert from "node:assert/strict";
import {
  builtInModelsConfig,
  validateModelsConfig,
} from "../../src/models/config_file.ts";
import {
  formatModelsIssues,
  formatModelsTable,
  modelsCommand,
  modelsReportJson,
} from "../../src/models/report.ts";

const custom = validateModelsConfig(
  JSON.stringify({
    compat: { maxTokens: "pass" },
    models: [{ name: "gpt-5", compat: false }, {
      name: "anthropic.claude-4-6-opus",
      outputLimit: 64000,
    }],
    aliases: { "my-opus": "anthropic.claude-4-6-opus" },
    patterns: [{ match: "team-*", model: "gpt-5", apis: ["chat"] }],
    defaults: { responses: "gpt-5-mini" },
  }),
  "models.json",
).config!;

Deno.test("formatModelsTable() shows the catalogue, the rules in precedence order and examples", () => {
  const text = formatModelsTable(builtInModelsConfig());
  assert.match(text, /^Models \(built in\)\n/);
  assert.match(
    text,
    /^anthropic\.claude-4-5-haiku +anthropic +messages,chat +200000 +64000 +enabled +3 +context_management,output_config +default +unknown$/m,
  );
  assert.match(text, /PRICE USD\/M IN,OUT,CACHE R,W$/m);
  assert.match(
    text,
    /^claude-opus-4-8 +messages +anthropic\.claude-4-7-opus +builtin:claude-opus-newest$/m,
  );
  assert.match(text, /^gpt-6\.2-sol +responses +gpt-5 +builtin:gpt$/m);
  const rules = text.slice(text.indexOf("Mapping"), text.indexOf("Examples"));
  assert.ok(rules.indexOf("flow name") < rules.indexOf("built in"));
  assert.ok(rules.indexOf("built in") < rules.indexOf("otherwise"));
  assert.ok(!/ \n/.test(text), "no trailing spaces");
});

Deno.test("formatModelsTable() marks what the file changed", () => {
  const text = formatModelsTable(custom, {
    examples: [{ requested: "my-opus", api: "messages" }, {
      requested: "x",
      api: "chat",
    }],
  });
  assert.match(text, /^Models \(models\.json\)\n/);
  assert.match(
    text,
    /^anthropic\.claude-4-6-opus \* .* 64000 .* maxTokens=pass +unknown$/m,
  );
  assert.match(text, /^gpt-5 \* .* off +unknown$/m);
  assert.match(text, /^alias +my-opus +anthropic\.claude-4-6-opus$/m);
  assert.match(text, /^pattern +team-\* \(chat\) +gpt-5$/m);
  assert.match(text, /^default +responses +gpt-5-mini$/m);
  assert.match(text, /^my-opus +messages +anthropic\.claude-4-6-opus +alias$/m);
  assert.match(text, /^x +chat +x +none$/m);
});

Deno.test("formatModelsTable() says when the rewrites are off", () => {
  const off = validateModelsConfig(`{"compat": false}`, "m.json").config!;
  assert.match(
    formatModelsTable(off),
    /^Models \(m\.json; compatibility rewrites off\)/,
  );
});

Deno.test("modelsReportJson() gives the same configuration as plain JSON", () => {
  const json = JSON.parse(JSON.stringify(modelsReportJson(custom)));
  assert.equal(json.source, "models.json");
  assert.equal(json.compat, true);
  const opus = json.models.find((m: { name: string }) =>
    m.name === "anthropic.claude-4-6-opus"
  );
  assert.equal(opus.outputLimit, 64000);
  assert.equal(opus.builtIn, false);
  assert.equal(opus.compat.maxTokens, "pass");
  assert.deepEqual(json.aliases, { "my-opus": "anthropic.claude-4-6-opus" });
  assert.deepEqual(json.patterns, [{
    match: "team-*",
    model: "gpt-5",
    apis: ["chat"],
  }]);
  assert.deepEqual(json.defaults, { responses: "gpt-5-mini" });
  assert.ok(json.builtInRules.length > 0);
  assert.deepEqual(
    json.examples.find((x: { requested: string }) =>
      x.requested === "claude-sonnet-4-5-20250929"
    ),
    {
      requested: "claude-sonnet-4-5-20250929",
      api: "messages",
      flow: "anthropic.claude-4-5-sonnet",
      rule: "builtin:claude-sonnet",
    },
  );
  const noRules = validateModelsConfig(`{"builtInRules": false}`, "m.json")
    .config!;
  assert.deepEqual(modelsReportJson(noRules).builtInRules, []);
});

Deno.test("formatModelsIssues() prints every error and warning, then a summary", () => {
  const bad = validateModelsConfig(
    `{"models": [{"name": "gpt-5", "outputLimit": "x"}], "aliases": {"a": "nowhere"}}`,
    "models.json",
  );
  assert.equal(
    formatModelsIssues(bad),
    "error: models.json:1:46: models[0].outputLimit must be a non-negative integer, got a string\n" +
      'warning: models.json:1:70: aliases.a maps to "nowhere", which is not in the catalogue; it is sent as it is and takes no compatibility rewrites\n' +
      "models.json: 1 error, 1 warning\n",
  );
  const good = validateModelsConfig("{}", "models.json");
  assert.equal(
    formatModelsIssues(good),
    "models.json: OK (13 models, 0 warnings)\n",
  );
});

Deno.test("modelsCommand() prints the built-in catalogue without a file", () => {
  const out = modelsCommand(null);
  assert.equal(out.code, 0);
  assert.equal(out.stderr, "");
  assert.match(out.stdout, /^Models \(built in\)\n/);
  const json = JSON.parse(modelsCommand(null, { json: true }).stdout);
  assert.equal(json.source, null);
  assert.equal(json.models.length, 13);
  assert.deepEqual(modelsCommand(null, { check: true }), {
    stdout: "no models file: the built-in catalogue is used\n",
    stderr: "",
    code: 0,
  });
});

Deno.test("modelsCommand() refuses a file with errors, printing every one, and exits 1", () => {
  const report = validateModelsConfig(
    `{"models": 1, "extra": 2}`,
    "models.json",
  );
  for (const options of [{}, { json: true }, { check: true }]) {
    const out = modelsCommand(report, options);
    assert.equal(out.code, 1);
    assert.equal(out.stdout, "");
    assert.equal(
      out.stderr,
      "error: models.json:1:12: models must be an array of model objects, got the number 1\n" +
        "error: models.json:1:15: extra is not a known field (known: $schema, compat, builtInRules, currency, models, aliases, patterns, defaults)\n" +
        "models.json: 2 errors, 0 warnings\n",
    );
  }
});

Deno.test("modelsCommand() prints warnings to stderr and the file's catalogue to stdout", () => {
  const report = validateModelsConfig(
    `{"aliases": {"a": "nowhere"}}`,
    "models.json",
  );
  const out = modelsCommand(report);
  assert.equal(out.code, 0);
  assert.match(
    out.stderr,
    /^warning: models\.json:1:19: aliases\.a maps to "nowhere"/,
  );
  assert.match(out.stdout, /^alias +a +nowhere$/m);
  const check = modelsCommand(report, { check: true });
  assert.match(check.stdout, /models\.json: OK \(13 models, 1 warning\)\n$/);
});
