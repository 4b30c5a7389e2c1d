import assert from "node:assert/strict";
import { builtInModelsConfig } from "../../src/models/config_file.ts";
import { ModelsState } from "../../src/models/models_state.ts";
import { INFO, modelsSetup, PROXY } from "./models_setup.ts";

const FLOW_LISTING = {
  object: "list",
  data: [
    { id: "gpt-4o", object: "model", created: 1, owned_by: "openai" },
    {
      id: "anthropic.claude-4-7-opus",
      object: "model",
      created: 2,
      owned_by: "aws",
    },
  ],
};

function withAlias(): ModelsState {
  const config = builtInModelsConfig();
  return new ModelsState({
    ...config,
    aliases: new Map([
      ["opus", "anthropic.claude-4-7-opus"],
      ["nowhere", "not-served"],
    ]),
  });
}

Deno.test("GET /v1/models lists Flow's models plus the aliases", async () => {
  using s = modelsSetup(() => Response.json(FLOW_LISTING), {
    models: withAlias(),
  });
  const res = await s.handler(new Request(PROXY + "/v1/models"), INFO);
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.deepEqual(body.data.map((m: { id: string }) => m.id), [
    "gpt-4o",
    "anthropic.claude-4-7-opus",
    "opus",
  ]);
  assert.equal(body.data[2].alias_of, "anthropic.claude-4-7-opus");
  assert.equal(s.calls.length, 1);
});

Deno.test("GET /v1/models with a chunked JSON answer gets the aliases too", async () => {
  const text = JSON.stringify(FLOW_LISTING);
  using s = modelsSetup(() =>
    new Response(
      new ReadableStream({
        start(c) {
          c.enqueue(new TextEncoder().encode(text));
          c.close();
        },
      }),
      { headers: { "content-type": "application/json" } },
    ), { models: withAlias() });
  const res = await s.handler(new Request(PROXY + "/v1/models"), INFO);
  const body = await res.json();
  assert.equal(body.data.at(-1).id, "opus");
});

Deno.test("GET /v1/models passes an error or a non-listing through as it came", async () => {
  const error = { error: { message: "nope" } };
  using s = modelsSetup(
    (_, n) =>
      n === 0
        ? Response.json(error, { status: 500 })
        : new Response("plain", { headers: { "content-type": "text/plain" } }),
    { models: withAlias(), maxAttempts: 1 },
  );
  const failed = await s.handler(new Request(PROXY + "/v1/models"), INFO);
  assert.equal(failed.status, 500);
  assert.deepEqual(await failed.json(), error);
  const plain = await s.handler(new Request(PROXY + "/v1/models"), INFO);
  assert.equal(await plain.text(), "plain");
});
