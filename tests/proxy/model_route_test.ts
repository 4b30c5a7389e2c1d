import assert from "node:assert/strict";
import { join } from "node:path";
import { apiRoute } from "../../src/proxy/api_route.ts";
import { sniffModel, spliceModel } from "../../src/models/model_sniff.ts";
import { createAccessControl } from "../../src/access/access.ts";
import { KeyVerifier } from "../../src/access/client_keys.ts";
import { openKeyStore } from "../../src/access/key_store.ts";
import { ModelsState } from "../../src/models/models_state.ts";
import { builtInModelsConfig } from "../../src/models/config_file.ts";
import { INFO, modelsSetup, post } from "./models_setup.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function splice(text: string, name: string): string {
  const bytes = encoder.encode(text);
  return decoder.decode(spliceModel(bytes, sniffModel(bytes), name));
}

Deno.test("apiRoute knows the mapped paths, with and without /v1", () => {
  assert.equal(apiRoute("/v1/messages")?.api, "messages");
  assert.equal(apiRoute("/messages")?.endpoint, "messages");
  assert.equal(apiRoute("/v1/messages/count_tokens")?.endpoint, "count_tokens");
  assert.equal(apiRoute("/v1/chat/completions")?.api, "chat");
  assert.equal(apiRoute("/v1/responses")?.api, "responses");
  assert.equal(apiRoute("/embeddings")?.api, "embeddings");
  assert.equal(apiRoute("/v1/models"), undefined);
  assert.equal(apiRoute("/v1/responses/abc"), undefined);
});

Deno.test("spliceModel replaces only the top-level model value, every byte else kept", () => {
  assert.equal(
    splice('{ "a" : {"model":"x"},"model" :  "gpt-6" , "b":[1.0]}', "gpt-5"),
    '{ "a" : {"model":"x"},"model" :  "gpt-5" , "b":[1.0]}',
  );
  // Both occurrences of a repeated (equal) model, and an escaped key.
  assert.equal(
    splice('{"model":"m","\\u006dodel":"m"}', "n"),
    '{"model":"n","\\u006dodel":"n"}',
  );
  // Multi-byte characters before and a name that needs escaping.
  assert.equal(
    splice('{"é😀":"ü","model":"m","z":"ß"}', 'a"b'),
    '{"é😀":"ü","model":"a\\"b","z":"ß"}',
  );
});

Deno.test("spliceModel keeps a leading BOM", () => {
  const bytes = new Uint8Array([
    0xef,
    0xbb,
    0xbf,
    ...encoder.encode('{"model":"m"}'),
  ]);
  const out = spliceModel(bytes, sniffModel(bytes), "nn");
  assert.deepEqual([...out.subarray(0, 3)], [0xef, 0xbb, 0xbf]);
  assert.equal(decoder.decode(out.subarray(3)), '{"model":"nn"}');
});

Deno.test("a mapped OpenAI model is spliced in; the rest of the body is byte-identical", async () => {
  using s = modelsSetup();
  const body =
    '{"model":"gpt-6.2-sol","input":[{"type":"custom_tool_call","input":"a\\u0041  1.0"}],"n":1.50}';
  const res = await s.handler(post("/v1/responses", body), INFO);
  await res.body?.cancel();
  assert.equal(
    decoder.decode(s.calls[0].body!),
    body.replace("gpt-6.2-sol", "gpt-5"),
  );
  assert.equal(s.records[0].model, "gpt-6.2-sol");
  assert.equal(s.records[0].upstreamModel, "gpt-5");
  assert.deepEqual(s.heard.mapped, ["builtin:gpt"]);
  assert.ok(
    s.logs.some((l) =>
      l.level === "debug" &&
      l.message.startsWith(
        "Mapped model 'gpt-6.2-sol' to 'gpt-5' (rule builtin:gpt)",
      )
    ),
  );
});

Deno.test("a body that needs nothing is sent as it came, with no mapping reported", async () => {
  using s = modelsSetup();
  const body =
    '{"model":"gpt-4o",  "messages":[{"role":"system","content":"x"}]}';
  const res = await s.handler(post("/v1/chat/completions", body), INFO);
  await res.body?.cancel();
  assert.equal(decoder.decode(s.calls[0].body!), body);
  assert.equal(s.records[0].model, "gpt-4o");
  assert.equal(s.records[0].upstreamModel ?? null, null);
  assert.deepEqual(s.heard, { mapped: [], rewrote: [], failovers: 0 });
  assert.equal(s.records[0].rewrite ?? null, null);
  assert.ok(!s.logs.some((l) => l.level === "debug"));
});

Deno.test("a Claude Code request is mapped and rewritten for Bedrock", async () => {
  using s = modelsSetup();
  const res = await s.handler(
    post("/v1/messages?beta=true", {
      model: "claude-opus-4-8",
      max_tokens: 64000,
      stream: true,
      thinking: { type: "adaptive" },
      context_management: { edits: [] },
      messages: [{ role: "user", content: "hi" }],
    }, {
      "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14",
    }),
    INFO,
  );
  await res.body?.cancel();
  const sent = JSON.parse(decoder.decode(s.calls[0].body!));
  assert.equal(sent.model, "anthropic.claude-4-7-opus");
  assert.equal(sent.context_management, undefined);
  assert.notEqual(sent.thinking?.type, "adaptive");
  assert.equal(s.calls[0].url.endsWith("/v1/messages?beta=true"), true);
  const beta = s.calls[0].headers.get("anthropic-beta");
  assert.ok(beta === null || !beta.includes("claude-code-20250219"));
  assert.equal(s.records[0].model, "claude-opus-4-8");
  assert.equal(s.records[0].upstreamModel, "anthropic.claude-4-7-opus");
  assert.deepEqual(s.heard.mapped, ["builtin:claude-opus-newest"]);
  assert.ok(s.heard.rewrote[0].includes("context_management"));
  // The request log keeps the kinds too (the dashboard's rewrite filter).
  assert.deepEqual(
    s.records[0].rewrite?.split(","),
    [...new Set(s.heard.rewrote[0])],
  );
  const debug = s.logs.filter((l) => l.level === "debug");
  assert.equal(debug.length, 1);
  assert.match(
    debug[0].message,
    /^Mapped model 'claude-opus-4-8' to 'anthropic\.claude-4-7-opus' \(rule builtin:claude-opus-newest\); Rewrote request for 'anthropic\.claude-4-7-opus': .*removed context_management/,
  );
});

Deno.test("the global compat switch off leaves the body but the model alone", async () => {
  const config = { ...builtInModelsConfig(), compat: false };
  using s = modelsSetup(undefined, { models: new ModelsState(config) });
  const res = await s.handler(
    post("/v1/messages", {
      model: "claude-opus-4-8",
      max_tokens: 10,
      context_management: { edits: [] },
      messages: [],
    }, { "anthropic-beta": "claude-code-20250219" }),
    INFO,
  );
  await res.body?.cancel();
  const sent = JSON.parse(decoder.decode(s.calls[0].body!));
  assert.equal(sent.model, "anthropic.claude-4-7-opus");
  assert.deepEqual(sent.context_management, { edits: [] });
  assert.equal(
    s.calls[0].headers.get("anthropic-beta"),
    "claude-code-20250219",
  );
});

Deno.test("a key's allowlist takes the Flow name sent upstream or the id the client asked for", async () => {
  const dir = await Deno.makeTempDir({ prefix: "flow-proxy-w1-" });
  let verifier: KeyVerifier;
  let key: string;
  try {
    using store = openKeyStore(join(dir, "keys.db"));
    key =
      store.create({ name: "k", models: ["gpt-4o", "anthropic.*", "gpt-6"] })
        .key;
    verifier = new KeyVerifier(store.snapshot());
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const access = createAccessControl({
    keys: verifier,
    requireKey: true,
    limiter: null,
    defaultRpm: 0,
    defaultBurst: 0,
    ipFilter: null,
  });
  using s = modelsSetup(undefined, { access });
  const ask = async (model: string) => {
    const res = await s.handler(
      post("/v1/chat/completions", { model }, {
        authorization: `Bearer ${key}`,
      }),
      INFO,
    );
    await res.body?.cancel();
    return res.status;
  };
  // claude-opus-4-8 maps to anthropic.claude-4-7-opus, which is allowed.
  assert.equal(await ask("claude-opus-4-8"), 200);
  // gpt-4o-2024-08-06 maps to gpt-4o: allowed by the Flow name.
  assert.equal(await ask("gpt-4o-2024-08-06"), 200);
  // gpt-6 maps to gpt-5, which is not allowed, but gpt-6 itself is.
  assert.equal(await ask("gpt-6"), 200);
  assert.equal(
    s.calls[2].body && JSON.parse(decoder.decode(s.calls[2].body)).model,
    "gpt-5",
  );
  // gpt-7 maps to gpt-5 too: neither is allowed.
  assert.equal(await ask("gpt-7"), 403);
  assert.equal(s.records[3].error, "model_not_allowed");
  assert.equal(s.calls.length, 3);
});
