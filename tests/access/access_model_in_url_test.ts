import assert from "node:assert/strict";
import { modelsInUrl } from "../../src/access/access.ts";

Deno.test("modelsInUrl() finds the models a URL names", async (t) => {
  const cases: [string, string[] | null][] = [
    ["http://h/v1/chat/completions", []],
    ["http://h/v1/models", []],
    ["http://h/v1/chat/completions?model=gpt-5", ["gpt-5"]],
    ["http://h/v1/x?model=a&model=b", ["a", "b"]],
    ["http://h/openai/deployments/gpt-5/chat/completions", ["gpt-5"]],
    ["http://h/v1/engines/davinci/completions", ["davinci"]],
    ["http://h/v1beta/models/gemini-2.5-pro:generateContent", [
      "gemini-2.5-pro",
    ]],
    ["http://h/v1/models/gpt-4o", ["gpt-4o"]],
    ["http://h/v1beta/models/gpt%2D5:streamGenerateContent?alt=sse", [
      "gpt-5",
    ]],
    ["http://h/v1beta/models/x/../gpt-5:generateContent", ["gpt-5"]],
    ["http://h/openai/deployments/gpt-4o%2F..%2Fgpt-5/chat", null],
    ["http://h/openai/deployments/%E0%A4%A/chat", null],
  ];
  for (const [url, expected] of cases) {
    await t.step(url, () => assert.deepEqual(modelsInUrl(url), expected));
  }
});
