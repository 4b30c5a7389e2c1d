/**
 * The client set-ups in the docs work: docs/clients.md holds one marked
 * snippet per client, README.md and the user guides carry exact copies, the
 * agent tests run the Claude Code and Codex snippets as written (through
 * tests/agents/client_setups.ts), and the SDK, Cline and Continue settings
 * are run here against flow-proxy and the mock Flow on 127.0.0.1.
 */
import assert from "node:assert/strict";
import OpenAI from "openai";
import {
  claudeCodeEnv,
  CLIENTS_PAGE,
  codexConfigToml,
  codexEnv,
  codexOpenAiBaseUrlToml,
  DOCS_BASE_URL,
  docSnippets,
  runSnippet,
  settingLines,
  snippet,
  stringOptions,
} from "./agents/client_setups.ts";
import { MockFlow } from "./support/mock_flow.ts";
import { PLAIN_ANSWER } from "./support/mock_flow_llm.ts";
import {
  REPO,
  startProxy,
  testCredentials,
  writeSecrets,
} from "./support/proxy.ts";

const CLIENTS = [
  "claude-code",
  "codex-config",
  "codex-env",
  "codex-openai-base-url",
  "gemini-cli-settings",
  "gemini-cli",
  "cline",
  "continue",
  "openai-sdk",
  "openai-sdk-python",
  "anthropic-sdk",
  "anthropic-sdk-python",
  "vercel-ai-sdk",
  "langchain",
];
const COPIES = ["README.md", "docs/user-guide.md", "docs/zh-CN/user-guide.md"];

Deno.test("docs/clients.md has one set-up snippet for every client", () => {
  const names = docSnippets(Deno.readTextFileSync(CLIENTS_PAGE)).map((s) =>
    s.name
  );
  assert.deepEqual([...names].sort(), [...CLIENTS].sort());
});

Deno.test("README.md and the user guides copy the client snippets of docs/clients.md exactly", () => {
  for (const file of COPIES) {
    const copies = docSnippets(Deno.readTextFileSync(`${REPO}${file}`));
    const names = copies.map((c) => c.name);
    for (const needed of ["claude-code", "codex-config", "codex-env"]) {
      assert.ok(names.includes(needed), `${file} lacks the ${needed} snippet`);
    }
    for (const copy of copies) {
      assert.equal(
        copy.code,
        snippet(copy.name),
        `${file}: the ${copy.name} snippet differs from docs/clients.md`,
      );
    }
  }
});

Deno.test("no doc tells Codex users to set OPENAI_BASE_URL", () => {
  const files = [...COPIES, "docs/clients.md", "docs/operations.md"];
  for (const file of files) {
    const text = Deno.readTextFileSync(`${REPO}${file}`);
    const bad = text.match(/OPENAI_BASE_URL=\S*[^\n]*\bcodex\b/i)?.[0];
    assert.equal(bad, undefined, `${file} still says: ${bad}`);
  }
});

Deno.test("the agent tests take the Claude Code and Codex set-ups from the docs", () => {
  for (
    const [file, call] of [
      ["claude_code_test.ts", "claudeCodeEnv()"],
      ["codex_test.ts", "codexConfigToml()"],
      ["codex_test.ts", "codexEnv()"],
      ["codex_test.ts", "codexOpenAiBaseUrlToml()"],
    ]
  ) {
    const source = Deno.readTextFileSync(`${REPO}tests/agents/${file}`);
    assert.ok(source.includes(call), `${file} does not use ${call}`);
    assert.doesNotMatch(source, /ANTHROPIC_BASE_URL:|\[model_providers\./);
  }
});

Deno.test("Claude Code's documented set-up is a base URL without /v1 and a key, nothing else", () => {
  assert.deepEqual(claudeCodeEnv(), {
    ANTHROPIC_BASE_URL: "{{BASE_URL}}",
    ANTHROPIC_AUTH_TOKEN: "unused",
  });
  assert.match(snippet("claude-code"), /\nclaude\n$/);
});

/** Root keys and tables of a flat TOML text (strings only, as the snippets use). */
function tomlTables(text: string): Map<string, Map<string, string>> {
  const tables = new Map([["", new Map<string, string>()]]);
  let current = tables.get("")!;
  for (const line of text.split("\n")) {
    const table = line.match(/^\[([\w.-]+)\]$/);
    if (table) {
      current = new Map();
      tables.set(table[1], current);
      continue;
    }
    const pair = line.match(/^([\w-]+) = "([^"]*)"$/);
    if (pair) current.set(pair[1], pair[2]);
    else assert.equal(line.trim(), "", `Unexpected TOML line: ${line}`);
  }
  return tables;
}

Deno.test("Codex's documented config.toml is a Responses provider at flow-proxy's /v1 keyed by the exported variable", () => {
  const tables = tomlTables(codexConfigToml());
  const provider = tables.get("")!.get("model_provider");
  assert.ok(provider, "model_provider is not a root key");
  const block = tables.get(`model_providers.${provider}`);
  assert.ok(block, `no [model_providers.${provider}] table`);
  assert.equal(block.get("base_url"), "{{BASE_URL}}/v1");
  assert.equal(block.get("wire_api"), "responses");
  assert.ok(block.get("name"), "the provider has no name");
  const keyVariable = block.get("env_key");
  assert.ok(keyVariable, "the provider has no env_key");
  assert.deepEqual(Object.keys(codexEnv()), [keyVariable]);
  assert.match(snippet("codex-env"), /\ncodex\n$/);
  assert.deepEqual(
    tomlTables(codexOpenAiBaseUrlToml()).get("")!.get("openai_base_url"),
    "{{BASE_URL}}/v1",
  );
});

Deno.test("each SDK snippet points at the base URL its API needs", () => {
  const openAi = `${DOCS_BASE_URL}/v1`;
  assert.deepEqual(stringOptions(snippet("openai-sdk"), "baseURL"), [openAi]);
  assert.deepEqual(stringOptions(snippet("openai-sdk-python"), "base_url"), [
    openAi,
  ]);
  assert.deepEqual(stringOptions(snippet("anthropic-sdk"), "baseURL"), [
    DOCS_BASE_URL,
  ]);
  assert.deepEqual(
    stringOptions(snippet("anthropic-sdk-python"), "base_url"),
    [DOCS_BASE_URL],
  );
  // Vercel's Anthropic provider appends /messages to its base URL.
  assert.deepEqual(stringOptions(snippet("vercel-ai-sdk"), "baseURL"), [
    openAi,
    openAi,
  ]);
  const langchain = snippet("langchain");
  assert.deepEqual(stringOptions(langchain, "anthropicApiUrl"), [
    DOCS_BASE_URL,
  ]);
  assert.deepEqual(stringOptions(langchain, "baseURL"), [openAi]);
});

/** A fetch that reaches 127.0.0.1 only. */
const localFetch: typeof fetch = (input, init) => {
  const url = new URL(input instanceof Request ? input.url : String(input));
  if (url.hostname !== "127.0.0.1") {
    return Promise.reject(new TypeError(`Refused outside host: ${url.host}`));
  }
  return fetch(input, init);
};

/** The OpenAI-compatible settings an editor extension is given. */
interface EditorSettings {
  baseUrl: string;
  apiKey: string;
  model: string;
}

function editorSettings(name: "cline" | "continue"): EditorSettings {
  const s = settingLines(snippet(name));
  if (name === "cline") {
    assert.equal(s["API Provider"], "OpenAI Compatible");
    return {
      baseUrl: s["Base URL"],
      apiKey: s["API Key"],
      model: s["Model ID"],
    };
  }
  assert.equal(s.provider, "openai");
  assert.equal(s.schema, "v1");
  return { baseUrl: s.apiBase, apiKey: s.apiKey, model: s.model };
}

Deno.test("the documented client set-ups work through flow-proxy against the mock Flow", async (t) => {
  const creds = testCredentials(1, "docs");
  await using flow = MockFlow.start({ credentials: creds });
  await using proxy = await startProxy({
    upstream: flow.url,
    secretsFile: writeSecrets(creds),
  });

  for (
    const [name, path, model] of [
      ["openai-sdk", "/v1/chat/completions", "gpt-4o"],
      ["anthropic-sdk", "/v1/messages", "anthropic.claude-4-6-sonnet"],
    ]
  ) {
    await t.step(`the ${name} snippet runs as written`, async () => {
      const from = flow.requests.length;
      const run = await runSnippet(snippet(name), proxy.url);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout, `${PLAIN_ANSWER}\n`);
      const seen = flow.requests.slice(from).map((r) =>
        `${r.path} ${(r.body as { model?: string }).model}`
      );
      assert.deepEqual(seen, [`${path} ${model}`]);
    });
  }

  for (const name of ["cline", "continue"] as const) {
    await t.step(
      `${name}'s settings serve chat, streams and the model list`,
      async () => {
        const settings = editorSettings(name);
        const client = new OpenAI({
          baseURL: settings.baseUrl.replace(DOCS_BASE_URL, proxy.url),
          apiKey: settings.apiKey,
          maxRetries: 0,
          fetch: localFetch,
        });
        const models = await client.models.list();
        assert.ok(
          models.data.some((m) => m.id === settings.model),
          `${settings.model} is not in GET /v1/models`,
        );
        const reply = await client.chat.completions.create({
          model: settings.model,
          messages: [{ role: "user", content: "Hello" }],
        });
        assert.equal(reply.choices[0].message.content, PLAIN_ANSWER);
        const stream = await client.chat.completions.create({
          model: settings.model,
          messages: [{ role: "user", content: "Hello" }],
          stream: true,
          stream_options: { include_usage: true },
        });
        let text = "";
        for await (const chunk of stream) {
          text += chunk.choices[0]?.delta.content ?? "";
        }
        assert.equal(text, PLAIN_ANSWER);
      },
    );
  }
  assert.deepEqual(flow.refusals, []);
});
