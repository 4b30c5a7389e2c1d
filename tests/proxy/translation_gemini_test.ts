/**
 * Gemini clients through the request path (issue 15): generateContent and
 * streamGenerateContent on a model Flow serves on Chat Completions only,
 * in-process with an injected fetch. The client key (header or `?key=`)
 * never reaches Flow's URL, headers or the log lines.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createAccessControl } from "../../src/access/access.ts";
import { KeyVerifier } from "../../src/access/client_keys.ts";
import { openKeyStore } from "../../src/access/key_store.ts";
import {
  builtInModelsConfig,
  validateModelsConfig,
} from "../../src/models/config_file.ts";
import { ModelsState } from "../../src/models/models_state.ts";
import {
  INFO,
  type ModelsSetup,
  modelsSetup,
  PROXY,
  recorded,
} from "./models_setup.ts";

const decoder = new TextDecoder();
const GENERATE = "/v1beta/models/gemini-2.5-pro:generateContent";
const STREAM = "/v1beta/models/gemini-2.5-pro:streamGenerateContent";

const CHAT_ANSWER = {
  id: "chatcmpl-g1",
  object: "chat.completion",
  model: "gemini-2.5-pro",
  choices: [{
    index: 0,
    message: { role: "assistant", content: "Hello." },
    finish_reason: "stop",
  }],
  usage: { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 },
};

const CHAT_STREAM = [
  {
    id: "chatcmpl-g2",
    model: "gemini-2.5-pro",
    choices: [{ index: 0, delta: { role: "assistant", content: "Hi" } }],
  },
  {
    id: "chatcmpl-g2",
    model: "gemini-2.5-pro",
    choices: [{ index: 0, delta: {}, finish_reason: "stop" }],
  },
  {
    id: "chatcmpl-g2",
    model: "gemini-2.5-pro",
    choices: [],
    usage: { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 },
  },
].map((c) => `data: ${JSON.stringify(c)}\n\n`).join("") + "data: [DONE]\n\n";

function streamAnswer(): Response {
  return new Response(CHAT_STREAM, {
    headers: { "content-type": "text/event-stream" },
  });
}

const GEMINI_BODY = {
  systemInstruction: { parts: [{ text: "Be brief." }] },
  contents: [{ role: "user", parts: [{ text: "Hi" }] }],
  generationConfig: { maxOutputTokens: 100 },
};

function gemini(
  path: string,
  headers: HeadersInit = {},
  body: unknown = GEMINI_BODY,
): Request {
  return new Request(PROXY + path, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
}

/** A key database with one key, and the access check built on it. */
function keyedAccess() {
  const dir = Deno.makeTempDirSync({ prefix: "flow-proxy-gemini-" });
  try {
    using store = openKeyStore(join(dir, "keys.db"));
    const key = store.create({ name: "gemini-user" }).key;
    const access = createAccessControl({
      keys: new KeyVerifier(store.snapshot()),
      requireKey: false,
      limiter: null,
      defaultRpm: 0,
      defaultBurst: 0,
      ipFilter: null,
    });
    return { key, access };
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

/** Nothing the upstream or the logs saw holds `key`. */
function assertKeyKept(s: ModelsSetup, key: string): void {
  for (const call of s.calls) {
    assert.ok(!call.url.includes(key), `key in the upstream URL ${call.url}`);
    assert.ok(
      !call.url.includes("key="),
      `key= in the upstream URL ${call.url}`,
    );
    assert.equal(call.headers.get("x-goog-api-key"), null);
    for (const [, value] of call.headers) assert.ok(!value.includes(key));
  }
  for (const line of s.logs) {
    assert.ok(
      !line.message.includes(key),
      `key in a log line: ${line.message}`,
    );
  }
  for (const record of s.records) {
    assert.ok(!JSON.stringify(record).includes(key), "key in a record");
  }
}

Deno.test("Gemini generateContent on gemini-2.5-pro goes to Chat Completions and comes back as a GenerateContentResponse", async () => {
  using s = modelsSetup(() => Response.json(CHAT_ANSWER));
  const res = await s.handler(gemini(GENERATE), INFO);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/json");
  assert.deepEqual(await res.json(), {
    candidates: [{
      content: { role: "model", parts: [{ text: "Hello." }] },
      finishReason: "STOP",
      index: 0,
    }],
    usageMetadata: {
      promptTokenCount: 9,
      candidatesTokenCount: 2,
      totalTokenCount: 11,
    },
    modelVersion: "gemini-2.5-pro",
    responseId: "chatcmpl-g1",
  });
  assert.equal(s.calls.length, 1);
  assert.ok(s.calls[0].url.endsWith("/v1/chat/completions"));
  assert.deepEqual(JSON.parse(decoder.decode(s.calls[0].body!)), {
    model: "gemini-2.5-pro",
    messages: [
      { role: "system", content: "Be brief." },
      { role: "user", content: "Hi" },
    ],
    max_tokens: 100,
  });
  await recorded(s, 1);
  assert.equal(s.records[0].translation, "gemini->chat");
  assert.equal(s.records[0].model, "gemini-2.5-pro");
  assert.equal(s.records[0].tokensIn, 9);
  assert.ok(
    s.logs.some((l) =>
      l.level === "debug" &&
      l.message.startsWith(
        "Translated Gemini generateContent to Chat Completions for 'gemini-2.5-pro'",
      )
    ),
  );
});

Deno.test("streamGenerateContent?alt=sse answers Gemini chunks as server-sent events", async () => {
  using s = modelsSetup(streamAnswer);
  const res = await s.handler(gemini(`${STREAM}?alt=sse`), INFO);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
  const text = await res.text();
  const events = text.split("\n\n").filter((e) => e !== "").map((e) => {
    assert.ok(e.startsWith("data: "), e);
    return JSON.parse(e.slice(6));
  });
  assert.deepEqual(events.map((e) => e.candidates[0].content.parts), [
    [{ text: "Hi" }],
    [],
  ]);
  assert.equal(events[1].candidates[0].finishReason, "STOP");
  assert.deepEqual(events[1].usageMetadata, {
    promptTokenCount: 5,
    candidatesTokenCount: 1,
    totalTokenCount: 6,
  });
  const sent = JSON.parse(decoder.decode(s.calls[0].body!));
  assert.equal(sent.stream, true);
  assert.deepEqual(sent.stream_options, { include_usage: true });
  assert.ok(s.calls[0].url.endsWith("/v1/chat/completions"));
  await recorded(s, 1);
  assert.equal(s.records[0].translation, "gemini->chat");
  assert.equal(s.records[0].stream, true);
  assert.equal(s.records[0].tokensOut, 1);
});

Deno.test("streamGenerateContent without alt=sse answers one JSON array", async () => {
  using s = modelsSetup(streamAnswer);
  const res = await s.handler(gemini(STREAM), INFO);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/json");
  const array = JSON.parse(await res.text());
  assert.equal(array.length, 2);
  assert.equal(array[0].candidates[0].content.parts[0].text, "Hi");
  assert.equal(array[1].candidates[0].finishReason, "STOP");
});

Deno.test("a Gemini client key by x-goog-api-key or ?key= is accepted and never reaches Flow or the logs", async (t) => {
  const { key, access } = keyedAccess();
  await t.step("x-goog-api-key header", async () => {
    using s = modelsSetup(() => Response.json(CHAT_ANSWER), { access });
    const res = await s.handler(
      gemini(GENERATE, { "x-goog-api-key": key }),
      INFO,
    );
    assert.equal(res.status, 200);
    await res.body?.cancel();
    await recorded(s, 1);
    assert.equal(s.records[0].client, "gemini-user");
    assertKeyKept(s, key);
  });
  await t.step("key= query, with alt=sse", async () => {
    using s = modelsSetup(streamAnswer, { access });
    const res = await s.handler(gemini(`${STREAM}?alt=sse&key=${key}`), INFO);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /^data: /);
    await recorded(s, 1);
    assert.equal(s.records[0].client, "gemini-user");
    assert.equal(s.records[0].path.includes("key="), false);
    assertKeyKept(s, key);
  });
  await t.step("no key: 401 in Gemini's shape", async () => {
    using s = modelsSetup(() => Response.json(CHAT_ANSWER), { access });
    const res = await s.handler(gemini(GENERATE), INFO);
    assert.equal(res.status, 401);
    const body = await res.json();
    assert.equal(body.error.code, 401);
    assert.equal(body.error.status, "UNAUTHENTICATED");
    assert.match(body.error.message, /Missing API key/);
    assert.equal(s.calls.length, 0);
  });
  await t.step(
    "a wrong key in the query: 401, the key in no log line",
    async () => {
      using s = modelsSetup(() => Response.json(CHAT_ANSWER), { access });
      const wrong = "fp-wrong-key-0123456789";
      const res = await s.handler(gemini(`${GENERATE}?key=${wrong}`), INFO);
      assert.equal(res.status, 401);
      assert.equal((await res.json()).error.status, "UNAUTHENTICATED");
      assert.equal(s.calls.length, 0);
      assertKeyKept(s, wrong);
    },
  );
});

Deno.test("Flow's error on a translated Gemini request comes back in Gemini's shape with the same status", async () => {
  using s = modelsSetup(() =>
    Response.json(
      { error: { message: "Rate limit reached", type: "rate_limit_error" } },
      { status: 400 },
    )
  );
  const res = await s.handler(gemini(GENERATE), INFO);
  assert.equal(res.status, 400);
  assert.deepEqual(await res.json(), {
    error: {
      code: 400,
      message: "Rate limit reached",
      status: "INVALID_ARGUMENT",
    },
  });
});

Deno.test("countTokens on a translated model is refused 400 in Gemini's shape, nothing sent", async () => {
  using s = modelsSetup();
  const res = await s.handler(
    gemini("/v1beta/models/gemini-2.5-pro:countTokens", {}, {
      contents: GEMINI_BODY.contents,
    }),
    INFO,
  );
  assert.equal(res.status, 400);
  const body = await res.json();
  assert.equal(body.error.code, 400);
  assert.equal(body.error.status, "INVALID_ARGUMENT");
  assert.match(
    body.error.message,
    /^Token counting is not available for this model: Flow serves it on Chat Completions only/,
  );
  assert.equal(s.calls.length, 0);
});

Deno.test("candidateCount 2 is refused 400 in Gemini's shape, naming the option", async () => {
  using s = modelsSetup();
  const res = await s.handler(
    gemini(GENERATE, {}, {
      ...GEMINI_BODY,
      generationConfig: { candidateCount: 2 },
    }),
    INFO,
  );
  assert.equal(res.status, 400);
  const body = await res.json();
  assert.equal(body.error.status, "INVALID_ARGUMENT");
  assert.match(body.error.message, /generationConfig\.candidateCount 2/);
  assert.equal(s.calls.length, 0);
});

Deno.test("a Gemini path on a model served on Gemini passes through, mapped model in the path, key= dropped", async () => {
  const report = validateModelsConfig(
    JSON.stringify({
      models: [{ name: "gemini-2.5-pro", apis: ["gemini", "chat"] }],
      aliases: { "gemini-pro-latest": "gemini-2.5-pro" },
    }),
    "models.json",
  );
  assert.deepEqual(report.errors, []);
  const models = new ModelsState(report.config!);
  const { key, access } = keyedAccess();
  using s = modelsSetup(() => Response.json({ candidates: [] }), {
    models,
    access,
  });
  const body = JSON.stringify(GEMINI_BODY);
  const res = await s.handler(
    new Request(
      `${PROXY}/v1beta/models/gemini-pro-latest:streamGenerateContent?alt=sse&key=${key}`,
      { method: "POST", body },
    ),
    INFO,
  );
  assert.deepEqual(await res.json(), { candidates: [] });
  assert.match(
    s.calls[0].url,
    /\/v1beta\/models\/gemini-2\.5-pro:streamGenerateContent\?alt=sse$/,
  );
  assert.equal(decoder.decode(s.calls[0].body!), body);
  await recorded(s, 1);
  assert.equal(s.records[0].translation ?? null, null);
  assert.equal(s.records[0].upstreamModel, "gemini-2.5-pro");
  assertKeyKept(s, key);
});

Deno.test("a Gemini path on an unknown model is passed through without its key= query", async () => {
  const models = new ModelsState(builtInModelsConfig());
  using s = modelsSetup(() => Response.json({ ok: true }), { models });
  const res = await s.handler(
    gemini("/v1beta/models/not-a-model:generateContent?key=abc&alt=json"),
    INFO,
  );
  await res.body?.cancel();
  assert.match(
    s.calls[0].url,
    /\/v1beta\/models\/not-a-model:generateContent\?alt=json$/,
  );
});

Deno.test("a translated stream drops the upstream's Content-Length (its length is not the client's)", async () => {
  using s = modelsSetup(() =>
    new Response(CHAT_STREAM, {
      headers: {
        "content-type": "text/event-stream",
        "content-length": String(new TextEncoder().encode(CHAT_STREAM).length),
      },
    })
  );
  const res = await s.handler(gemini(`${STREAM}?alt=sse`), INFO);
  assert.equal(res.headers.get("content-length"), null);
  assert.match(await res.text(), /"finishReason":"STOP"/);
});

/** A Chat stream that sends one text chunk, then fails. */
function failingStream(): Response {
  const first = `data: ${
    JSON.stringify({
      id: "chatcmpl-g3",
      model: "gemini-2.5-pro",
      choices: [{ index: 0, delta: { content: "Hi" } }],
    })
  }\n\n`;
  let sent = false;
  const body = new ReadableStream<Uint8Array>({
    pull(ctrl) {
      if (sent) return ctrl.error(new TypeError("connection reset"));
      sent = true;
      ctrl.enqueue(new TextEncoder().encode(first));
    },
  });
  return new Response(body, {
    headers: { "content-type": "text/event-stream" },
  });
}

Deno.test("a translated Gemini stream that fails mid-way ends with Gemini's error object", async (t) => {
  await t.step("alt=sse: the last data", async () => {
    using s = modelsSetup(failingStream);
    const res = await s.handler(gemini(`${STREAM}?alt=sse`), INFO);
    const events = (await res.text()).split("\n\n").filter((e) => e !== "")
      .map((e) => JSON.parse(e.slice(6)));
    assert.equal(events.length, 2);
    assert.equal(events[0].candidates[0].content.parts[0].text, "Hi");
    assert.equal(events[1].error.code, 502);
    assert.equal(events[1].error.status, "UNAVAILABLE");
    assert.equal(typeof events[1].error.message, "string");
    await recorded(s, 1);
    assert.equal(s.records[0].error, "stream_error");
  });
  await t.step("JSON array: the last item, the array closed", async () => {
    using s = modelsSetup(failingStream);
    const res = await s.handler(gemini(STREAM), INFO);
    const array = JSON.parse(await res.text());
    assert.equal(array.length, 2);
    assert.equal(array[1].error.status, "UNAVAILABLE");
  });
});
