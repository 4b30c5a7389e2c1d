import assert from "node:assert/strict";
import { join } from "node:path";
import {
  locateFromV8Message,
  scanJsonError,
} from "../../src/config/json_locate.ts";
import { lineColumn } from "../../src/base/text_position.ts";
import {
  inspectSecretsFile,
  loadSecrets,
  MAX_CREDENTIALS,
  MISSING_FILE_HINT,
  SecretsError,
  type SecretsIssue,
  type SecretsReport,
  validateSecrets,
} from "../../src/config/secrets.ts";
import { MAX_CREDENTIALS as SHARED_MAX } from "../../src/base/shared_state.ts";

/** A value that must never show up in any message. */
const SECRET = "s3cr3t-Zq8-UNIQUE-VALUE-7731";

function entry(
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    clientId: "client-a",
    clientSecret: SECRET,
    tenant: "cit",
    ...overrides,
  };
}

function check(value: unknown, file = "secrets.json"): SecretsReport {
  return validateSecrets(JSON.stringify(value, null, 2), file);
}

function messages(issues: SecretsIssue[]): string[] {
  return issues.map((i) => i.message);
}

function assertNoSecret(report: SecretsReport): void {
  const all = JSON.stringify([report.errors, report.warnings]);
  assert.ok(!all.includes(SECRET), `secret leaked into: ${all}`);
}

Deno.test("MAX_CREDENTIALS is the shared-state limit", () => {
  assert.equal(MAX_CREDENTIALS, SHARED_MAX);
});

Deno.test("validateSecrets accepts a valid file", async (t) => {
  await t.step("with names, defaults and optional fields", () => {
    const report = check([
      entry({ name: "primary", agent: "simple_agent", appToAccess: "llm-api" }),
      entry({ clientId: "client-b", tenant: "other" }),
    ]);
    assert.deepEqual(report.errors, []);
    assert.deepEqual(report.warnings, []);
    assert.deepEqual(report.credentials, [
      {
        index: 0,
        name: "primary",
        clientId: "client-a",
        clientSecret: SECRET,
        tenant: "cit",
        agent: "simple_agent",
        appToAccess: "llm-api",
      },
      {
        index: 1,
        name: "config-2",
        clientId: "client-b",
        clientSecret: SECRET,
        tenant: "other",
      },
    ]);
  });

  await t.step("default names count from 1 by position", () => {
    const report = check([entry({ name: "a" }), entry(), entry()]);
    assert.deepEqual(report.credentials.map((c) => c.name), [
      "a",
      "config-2",
      "config-3",
    ]);
  });

  await t.step("with a byte-order mark", () => {
    const report = validateSecrets(
      "\ufeff" + JSON.stringify([entry()]),
      "secrets.json",
    );
    assert.deepEqual(report.errors, []);
    assert.equal(report.credentials.length, 1);
  });

  await t.step(
    "repeated identical entries (weighting) without warnings",
    () => {
      const primary = entry({ name: "primary" });
      const report = check([
        primary,
        primary,
        primary,
        entry({ name: "backup", clientId: "b" }),
      ]);
      assert.deepEqual(report.errors, []);
      assert.deepEqual(report.warnings, []);
      assert.equal(report.credentials.length, 4);
      assert.deepEqual(report.credentials.map((c) => c.index), [0, 1, 2, 3]);
    },
  );
});

Deno.test("validateSecrets reports invalid JSON with line and column", async (t) => {
  const cases: Array<[string, string, number, number, RegExp]> = [
    // [name, text, line, column, reason]
    [
      "missing comma (V8 gives a position)",
      '[\n  {\n    "clientId": "a"\n    "tenant": "b"\n  }\n]',
      4,
      5,
      /^expected "," or "}" after the property value, found a string/,
    ],
    [
      "trailing comma (V8 gives no position)",
      '[\n  {"clientId": "a"},\n]',
      3,
      1,
      /trailing comma/,
    ],
    [
      "trailing comma in an object",
      '[\n  {\n    "clientId": "a",\n  }\n]',
      4,
      3,
      /./,
    ],
    ["single quotes", "[\n  {'clientId': 'a'}\n]", 2, 4, /./],
    ["unquoted value", `[{"clientSecret": ${SECRET}}]`, 1, 19, /double quotes/],
    [
      "truncated file",
      '[\n  {"clientId": "a"',
      2,
      19,
      /^unexpected end of file$/,
    ],
    ["text after the value", "[]\n]", 2, 1, /./],
    ["comment", '[\n  // primary\n  {"clientId": "a"}\n]', 2, 3, /comment/],
  ];
  for (const [name, text, line, column, reason] of cases) {
    await t.step(name, () => {
      const report = validateSecrets(text, "secrets.json");
      assert.equal(report.errors.length, 1);
      const [error] = report.errors;
      assert.match(
        error.message,
        new RegExp(
          `^secrets\\.json: invalid JSON at line ${line}, column ${column}: `,
        ),
      );
      assert.match(error.message.replace(/^.*?column \d+: /, ""), reason);
      assert.equal(error.entry, null);
      assert.deepEqual(report.credentials, []);
      assertNoSecret(report);
    });
  }

  await t.step("never quotes the file's text", () => {
    const text =
      `[{"clientId": "a", "clientSecret": "${SECRET}" "tenant": "t"}]`;
    const other = `[{"clientId": "a", "clientSecret": ${SECRET}x}]`;
    for (const t of [text, other, `["${SECRET}",]`, `[${SECRET}]`]) {
      const report = validateSecrets(t, "secrets.json");
      assert.equal(report.errors.length, 1);
      assertNoSecret(report);
    }
  });

  await t.step("an empty file", () => {
    const report = validateSecrets("  \n", "secrets.json");
    assert.deepEqual(messages(report.errors), [
      "secrets.json: file is empty; expected a JSON array of credential objects",
    ]);
  });
});

Deno.test("locateFromV8Message handles both V8 position formats", async (t) => {
  const source = "[\n  1,\n  x\n]";
  await t.step("at position N", () => {
    assert.deepEqual(
      locateFromV8Message("Unexpected token in JSON at position 9", source),
      {
        line: 3,
        column: 3,
      },
    );
  });
  await t.step("(line X column Y)", () => {
    assert.deepEqual(
      locateFromV8Message("Bad thing (line 7 column 2)", source),
      {
        line: 7,
        column: 2,
      },
    );
  });
  await t.step("neither", () => {
    assert.equal(
      locateFromV8Message(
        "Unexpected token 'x', \"[1,x]\" is not valid JSON",
        source,
      ),
      null,
    );
  });
  await t.step("lineColumn counts CRLF lines like LF lines", () => {
    assert.deepEqual(lineColumn("[\r\n  x", 5), { line: 2, column: 3 });
  });
});

Deno.test("scanJsonError agrees with JSON.parse", async (t) => {
  const valid = [
    '[{"a": [1, -2.5e+3, true, false, null, "\\u00e9\\n"]}]',
    " {} ",
    '"x"',
  ];
  const invalid = [
    "[1,]",
    "[01]",
    "[1.]",
    '["\\x"]',
    '["a\nb"]',
    "[-]",
    "{",
    "[tru]",
    '{"a" 1}',
    "[1 2]",
  ];
  await t.step("valid texts", () => {
    for (const text of valid) {
      JSON.parse(text);
      assert.equal(scanJsonError(text), null, text);
    }
  });
  await t.step("invalid texts", () => {
    for (const text of invalid) {
      assert.throws(() => JSON.parse(text));
      assert.notEqual(scanJsonError(text), null, text);
    }
  });
  await t.step("deep nesting stops without overflowing the stack", () => {
    const result = scanJsonError("[".repeat(100_000));
    assert.ok(result);
    assert.match(result.reason, /too deep/);
  });
});

Deno.test("validateSecrets rejects the wrong top-level shape", async (t) => {
  await t.step("an object", () => {
    assert.deepEqual(messages(check({ a: 1 }).errors), [
      "secrets.json: expected a JSON array of credential objects, got an object",
    ]);
  });
  await t.step("a single entry not wrapped in an array", () => {
    const report = check(entry());
    assert.match(
      report.errors[0].message,
      /got an object \(wrap a single entry in \[ \]\)$/,
    );
    assertNoSecret(report);
  });
  await t.step("a string, a number, null", () => {
    assert.match(check("x").errors[0].message, /got a string$/);
    assert.match(check(3).errors[0].message, /got a number$/);
    assert.match(check(null).errors[0].message, /got null$/);
  });
  await t.step("an empty array", () => {
    assert.deepEqual(messages(check([]).errors), [
      "secrets.json: no credentials: the array is empty",
    ]);
  });
  await t.step("too many entries", () => {
    const report = check(
      Array.from({ length: MAX_CREDENTIALS + 1 }, () => entry()),
    );
    assert.deepEqual(messages(report.errors), [
      `secrets.json: ${
        MAX_CREDENTIALS + 1
      } entries, but at most ${MAX_CREDENTIALS} are supported`,
    ]);
  });
  await t.step("exactly the maximum is fine", () => {
    const report = check(
      Array.from({ length: MAX_CREDENTIALS }, () => entry()),
    );
    assert.deepEqual(report.errors, []);
    assert.equal(report.credentials.length, MAX_CREDENTIALS);
  });
});

Deno.test("validateSecrets checks every entry and field", async (t) => {
  await t.step("an entry that is not an object", () => {
    const report = check([entry(), "client-a", [1], null]);
    assert.deepEqual(messages(report.errors), [
      "secrets.json: entry 2: expected an object, got a string",
      "secrets.json: entry 3: expected an object, got an array",
      "secrets.json: entry 4: expected an object, got null",
    ]);
    assert.deepEqual(report.errors.map((e) => e.entry), [2, 3, 4]);
    assert.equal(report.credentials.length, 1);
  });

  for (const field of ["clientId", "clientSecret", "tenant"]) {
    await t.step(`"${field}" missing, empty, blank or not a string`, () => {
      const without = entry({ name: "backup" });
      delete without[field];
      const report = check([
        entry({ name: "primary" }),
        without,
        entry({ name: "empty", [field]: "" }),
        entry({ name: "blank", [field]: "   " }),
        entry({ name: "number", [field]: 42 }),
        entry({ name: "null", [field]: null }),
      ]);
      assert.deepEqual(messages(report.errors), [
        `secrets.json: entry 2 ("backup"): "${field}" is missing (a non-empty string is required)`,
        `secrets.json: entry 3 ("empty"): "${field}" must be a non-empty string`,
        `secrets.json: entry 4 ("blank"): "${field}" must be a non-empty string`,
        `secrets.json: entry 5 ("number"): "${field}" must be a non-empty string, got a number`,
        `secrets.json: entry 6 ("null"): "${field}" must be a non-empty string, got null`,
      ]);
      for (const error of report.errors) assert.equal(error.field, field);
      assert.deepEqual(report.errors.map((e) => [e.entry, e.name]), [
        [2, "backup"],
        [3, "empty"],
        [4, "blank"],
        [5, "number"],
        [6, "null"],
      ]);
      assert.deepEqual(report.credentials.map((c) => c.name), ["primary"]);
      assertNoSecret(report);
    });
  }

  await t.step("the example message of the contract", () => {
    const report = check([
      entry({ name: "primary" }),
      entry({ name: "backup", tenant: "" }),
    ]);
    assert.deepEqual(messages(report.errors), [
      'secrets.json: entry 2 ("backup"): "tenant" must be a non-empty string',
    ]);
  });

  await t.step("the file name is the caller's", () => {
    const report = check([entry({ tenant: 1 })], "/etc/flow-proxy/creds.json");
    assert.match(
      report.errors[0].message,
      /^\/etc\/flow-proxy\/creds\.json: entry 1: "tenant"/,
    );
  });

  await t.step("a bad name", () => {
    const report = check([
      entry({ name: "" }),
      entry({ name: 7 }),
      entry({ name: "two\nlines" }),
    ]);
    assert.deepEqual(messages(report.errors), [
      'secrets.json: entry 1: "name" must be a non-empty string',
      'secrets.json: entry 2: "name" must be a non-empty string, got a number',
      'secrets.json: entry 3: "name" must not contain control characters',
    ]);
    assert.deepEqual(report.errors.map((e) => [e.field, e.name]), [
      ["name", null],
      ["name", null],
      ["name", null],
    ]);
    assert.deepEqual(report.credentials, []);
  });

  await t.step("wrong type of optional fields", () => {
    const report = check([
      entry({ name: "a", agent: 1 }),
      entry({ name: "b", appToAccess: ["llm-api"] }),
      entry({ name: "c", agent: null }),
    ]);
    assert.deepEqual(messages(report.errors), [
      'secrets.json: entry 1 ("a"): "agent" must be a string when present, got a number',
      'secrets.json: entry 2 ("b"): "appToAccess" must be a string when present, got an array',
      'secrets.json: entry 3 ("c"): "agent" must be a string when present, got null',
    ]);
    assert.deepEqual(report.credentials, []);
  });

  await t.step("empty optional fields are ignored with a warning", () => {
    const report = check([
      entry({ name: "a", agent: "", appToAccess: "llm-api" }),
    ]);
    assert.deepEqual(report.errors, []);
    assert.deepEqual(messages(report.warnings), [
      'secrets.json: entry 1 ("a"): "agent" is empty and is ignored',
    ]);
    assert.equal(report.credentials[0].agent, undefined);
    assert.equal(report.credentials[0].appToAccess, "llm-api");
  });

  await t.step("every problem of every entry at once", () => {
    const report = check([
      { name: "first", clientSecret: 5 },
      entry({ name: "ok" }),
      7,
      entry({ tenant: "", agent: false }),
    ]);
    assert.deepEqual(messages(report.errors), [
      'secrets.json: entry 1 ("first"): "clientId" is missing (a non-empty string is required)',
      'secrets.json: entry 1 ("first"): "clientSecret" must be a non-empty string, got a number',
      'secrets.json: entry 1 ("first"): "tenant" is missing (a non-empty string is required)',
      "secrets.json: entry 3: expected an object, got a number",
      'secrets.json: entry 4: "tenant" must be a non-empty string',
      'secrets.json: entry 4: "agent" must be a string when present, got a boolean',
    ]);
    assert.deepEqual(report.credentials.map((c) => c.name), ["ok"]);
  });

  await t.step("too many entries and bad entries together", () => {
    const list = Array.from({ length: MAX_CREDENTIALS + 5 }, () => entry());
    list[9] = entry({ tenant: 0 });
    const report = check(list);
    assert.equal(report.errors.length, 2);
    assert.match(report.errors[0].message, /at most 256/);
    assert.match(report.errors[1].message, /entry 10: "tenant"/);
  });
});

Deno.test("validateSecrets warns without failing", async (t) => {
  await t.step("unknown fields, with a suggestion when close", () => {
    const report = check([
      entry({ name: "a", comment: "x", client_secret: SECRET }),
    ]);
    assert.deepEqual(report.errors, []);
    assert.deepEqual(messages(report.warnings), [
      'secrets.json: entry 1 ("a"): unknown field "comment" is ignored',
      'secrets.json: entry 1 ("a"): unknown field "client_secret" is ignored (did you mean "clientSecret"?)',
    ]);
    assert.equal(report.credentials.length, 1);
    assertNoSecret(report);
  });

  await t.step("a misspelled required field is named in the error", () => {
    const bad = entry({ name: "a", clientid: "client-a" });
    delete bad.clientId;
    const report = check([bad]);
    assert.deepEqual(messages(report.errors), [
      'secrets.json: entry 1 ("a"): "clientId" is missing (found "clientid"; field names are case-sensitive)',
    ]);
    assert.deepEqual(report.warnings, []);
  });

  await t.step("the same name on different credentials", () => {
    const report = check([
      entry({ name: "primary" }),
      entry({ name: "backup", clientId: "b" }),
      entry({ name: "primary", clientId: "other" }),
      entry({ name: "primary" }),
    ]);
    assert.deepEqual(report.errors, []);
    assert.deepEqual(messages(report.warnings), [
      'secrets.json: entries 1, 3 and 4 are all named "primary" but hold different credentials; logs and metrics cannot tell them apart',
    ]);
    assert.equal(report.warnings[0].field, "name");
    assert.equal(report.warnings[0].name, "primary");
    assert.equal(report.credentials.length, 4);
  });

  await t.step("an explicit name that equals a default name", () => {
    const report = check([
      entry({ name: "config-2" }),
      entry({ clientId: "other" }),
    ]);
    assert.match(
      report.warnings[0].message,
      /entries 1 and 2 are both named "config-2"/,
    );
  });

  await t.step(
    "same name, same credentials but a different secret is a clash",
    () => {
      const report = check([
        entry({ name: "p" }),
        entry({ name: "p", clientSecret: "x" + SECRET }),
      ]);
      assert.equal(report.warnings.length, 1);
      assertNoSecret(report);
    },
  );

  await t.step(
    "placeholder values, naming the field and never the value",
    () => {
      const report = check([
        entry({
          name: "a",
          clientId: "your-client-id",
          clientSecret: "your-client-secret",
        }),
        entry({
          name: "b",
          tenant: "<tenant>",
          clientSecret: "YOUR_SECRET_HERE",
        }),
        entry({ name: "c", clientSecret: "changeme" }),
      ]);
      assert.deepEqual(report.errors, []);
      const hint =
        "looks like a placeholder from secrets.json.template; put your Flow credential there";
      assert.deepEqual(messages(report.warnings), [
        `secrets.json: entry 1 ("a"): "clientId" ${hint}`,
        `secrets.json: entry 1 ("a"): "clientSecret" ${hint}`,
        `secrets.json: entry 2 ("b"): "clientSecret" ${hint}`,
        `secrets.json: entry 2 ("b"): "tenant" ${hint}`,
        `secrets.json: entry 3 ("c"): "clientSecret" ${hint}`,
      ]);
      for (const w of report.warnings) {
        assert.ok(!w.message.includes("your-client-secret"));
        assert.ok(!w.message.includes("YOUR_SECRET_HERE"));
        assert.ok(!w.message.includes("changeme"));
      }
    },
  );

  await t.step("whitespace around a value", () => {
    const report = check([entry({ name: "a", clientSecret: ` ${SECRET}\n` })]);
    assert.deepEqual(messages(report.warnings), [
      'secrets.json: entry 1 ("a"): "clientSecret" has leading or trailing whitespace, which is used as it is',
    ]);
    assert.equal(report.credentials[0].clientSecret, ` ${SECRET}\n`);
    assertNoSecret(report);
  });
});

Deno.test("secrets.json.template is valid and warns about placeholders", async () => {
  const path = new URL("../../secrets.json.template", import.meta.url);
  const report = validateSecrets(
    await Deno.readTextFile(path),
    "secrets.json.template",
  );
  assert.deepEqual(report.errors, []);
  assert.deepEqual(report.credentials.map((c) => c.name), [
    "primary",
    "backup",
  ]);
  assert.equal(report.credentials[0].appToAccess, "llm-api");
  const placeholderFields = report.warnings
    .filter((w) => w.message.includes("placeholder"))
    .map((w) => `${w.entry}:${w.field}`);
  assert.deepEqual(placeholderFields, [
    "1:clientId",
    "1:clientSecret",
    "1:tenant",
    "2:clientId",
    "2:clientSecret",
    "2:tenant",
  ]);
});

Deno.test("inspectSecretsFile checks the file itself", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "flow-proxy-secrets-" });
  try {
    const good = JSON.stringify([entry({ name: "primary" })]);

    await t.step("a missing file: one error with a hint", async () => {
      const report = await inspectSecretsFile(join(dir, "nope.json"), {
        displayName: "nope.json",
      });
      assert.deepEqual(report.errors, [{
        entry: null,
        name: null,
        field: null,
        message: 'Cannot read secrets file "nope.json": no such file',
        hint: MISSING_FILE_HINT,
      }]);
      assert.match(
        MISSING_FILE_HINT,
        /copy secrets\.json\.template to secrets\.json/,
      );
      assert.deepEqual(report.credentials, []);
    });

    await t.step("a directory", async () => {
      const report = await inspectSecretsFile(dir);
      assert.deepEqual(messages(report.errors), [
        `Cannot read secrets file "${dir}": is a directory`,
      ]);
    });

    await t.step("a file that is far too large", async () => {
      const path = join(dir, "big.json");
      await Deno.writeTextFile(path, " ".repeat(1024 * 1024 + 1), {
        mode: 0o600,
      });
      const report = await inspectSecretsFile(path, {
        displayName: "big.json",
      });
      assert.match(
        report.errors[0].message,
        /^Cannot read secrets file "big\.json": too large/,
      );
    });

    if (Deno.build.os !== "windows") {
      await t.step("readable by group or others", async () => {
        const path = join(dir, "open.json");
        await Deno.writeTextFile(path, good);
        await Deno.chmod(path, 0o640);
        const report = await inspectSecretsFile(path, {
          displayName: "open.json",
        });
        assert.deepEqual(report.errors, []);
        assert.deepEqual(messages(report.warnings), [
          "open.json: readable by group or others (mode 0640); only the owner should be able to read it",
        ]);
        assert.equal(report.warnings[0].hint, 'run "chmod 600 open.json"');
      });

      await t.step("owner-only is quiet", async () => {
        const path = join(dir, "closed.json");
        await Deno.writeTextFile(path, good);
        await Deno.chmod(path, 0o600);
        const report = await inspectSecretsFile(path);
        assert.deepEqual(report.warnings, []);
        assert.equal(report.file, path);
        assert.equal(report.credentials.length, 1);
      });

      await t.step({
        name: "unreadable (not testable as root, who reads anything)",
        ignore: Deno.uid() === 0,
        fn: async () => {
          const path = join(dir, "locked.json");
          await Deno.writeTextFile(path, good);
          await Deno.chmod(path, 0o000);
          const report = await inspectSecretsFile(path, {
            displayName: "locked.json",
          });
          assert.deepEqual(messages(report.errors), [
            'Cannot read secrets file "locked.json": permission denied',
          ]);
        },
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadSecrets returns credentials or throws SecretsError", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "flow-proxy-secrets-" });
  const write = async (name: string, value: unknown) => {
    const path = join(dir, name);
    await Deno.writeTextFile(
      path,
      typeof value === "string" ? value : JSON.stringify(value),
      {
        mode: 0o600,
      },
    );
    await Deno.chmod(path, 0o600);
    return path;
  };
  try {
    await t.step("a valid file", async () => {
      const path = await write("ok.json", [
        entry({ name: "primary" }),
        entry(),
      ]);
      const warnings: SecretsIssue[] = [];
      const credentials = await loadSecrets(path, {
        onWarning: (w) => warnings.push(w),
      });
      assert.deepEqual(credentials.map((c) => [c.index, c.name]), [[
        0,
        "primary",
      ], [1, "config-2"]]);
      assert.deepEqual(warnings, []);
    });

    await t.step("warnings go to onWarning", async () => {
      const path = await write("warn.json", [entry({ extra: 1 })]);
      const warnings: SecretsIssue[] = [];
      const credentials = await loadSecrets(path, {
        onWarning: (w) => warnings.push(w),
      });
      assert.equal(credentials.length, 1);
      assert.equal(warnings.length, 1);
      assert.match(warnings[0].message, /unknown field "extra"/);
    });

    await t.step("one error", async () => {
      const path = await write("one.json", [
        entry({ name: "backup", tenant: "" }),
      ]);
      await assert.rejects(
        loadSecrets(path, { displayName: "secrets.json" }),
        (error) => {
          assert.ok(error instanceof SecretsError);
          assert.equal(error.name, "SecretsError");
          assert.equal(
            error.message,
            'secrets.json: entry 1 ("backup"): "tenant" must be a non-empty string',
          );
          assert.equal(error.report.errors.length, 1);
          return true;
        },
      );
    });

    await t.step("several errors: the first, and how many more", async () => {
      const path = await write("many.json", [
        entry({ tenant: "" }),
        entry({ clientId: 1, clientSecret: 2 }),
      ]);
      const error = await loadSecrets(path, { displayName: "secrets.json" })
        .then(
          () => assert.fail("no error"),
          (e) => e,
        );
      assert.ok(error instanceof SecretsError);
      assert.equal(
        error.message,
        'secrets.json: entry 1: "tenant" must be a non-empty string ' +
          '(and 2 more problems; run "flow-proxy check-secrets" for all)',
      );
      assert.equal(error.report.errors.length, 3);
      assert.ok(!error.message.includes(SECRET));
    });

    await t.step("a missing file carries the hint", async () => {
      const error = await loadSecrets(join(dir, "absent.json"), {
        displayName: "secrets.json",
      })
        .then(() => assert.fail("no error"), (e) => e);
      assert.ok(error instanceof SecretsError);
      assert.equal(
        error.message,
        `Cannot read secrets file "secrets.json": no such file\nhint: ${MISSING_FILE_HINT}`,
      );
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
