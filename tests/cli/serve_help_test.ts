import assert from "node:assert/strict";
import { defaultText, serveHelp } from "../../src/cli/serve_help.ts";
import {
  SERVE_OPTIONS,
  type ServeOption,
} from "../../src/config/serve_options.ts";

function option(key: string): ServeOption {
  const found = SERVE_OPTIONS.find((o) => o.key === key);
  assert.ok(found, key);
  return found;
}

Deno.test("defaultText() formats a row's default in the form the option is written", async (t) => {
  const cases: [string, string][] = [
    ["host", "127.0.0.1"],
    ["port", "8899"],
    ["upstream", "https://flow.ciandt.com/flow-llm-proxy"],
    ["retryBodyLimit", "10MiB"],
    ["maxBodySize", "100MiB"],
    ["connectTimeout", "10s"],
    ["headersTimeout", "10m"],
    ["keepAliveTimeout", "75s"],
    ["logQueueSize", "10000"],
    ["defaultRpm", "0"],
    // Wording, where the value does not say itself.
    ["numWorkers", "number of CPU cores"],
    ["threaded", "threaded"],
    ["adminToken", "none: only users open the admin API"],
  ];
  for (const [key, text] of cases) {
    await t.step(`${key} → ${text}`, () => {
      assert.equal(defaultText(option(key)), text);
    });
  }
  await t.step("a default that cannot say itself needs wording", () => {
    const row = { ...option("logFile"), defaultText: undefined };
    assert.throws(() => defaultText(row as ServeOption), /needs a defaultText/);
  });
});

Deno.test("serveHelp() shows every option's default", () => {
  const help = serveHelp();
  for (const o of SERVE_OPTIONS) {
    assert.ok(help.includes(`default: ${defaultText(o)}\n`), o.flag);
  }
});
