import assert from "node:assert/strict";
import {
  builtInModelsConfig,
  validateModelsConfig,
} from "../../src/models/config_file.ts";
import { buildModelsListing } from "../../src/models/listing.ts";
import { BUILT_IN_CATALOGUE } from "../../src/models/catalogue.ts";

const withAliases = validateModelsConfig(
  JSON.stringify({
    aliases: {
      "claude-opus-4-8": "anthropic.claude-4-7-opus",
      "gpt-4o": "gpt-4.1",
      "ghost": "not-on-flow",
    },
  }),
  "m.json",
).config!;

Deno.test("buildModelsListing() lists the catalogue in OpenAI's shape when Flow's list is unknown", () => {
  const listing = buildModelsListing(builtInModelsConfig());
  assert.equal(listing.object, "list");
  assert.deepEqual(
    listing.data.map((m) => m.id),
    BUILT_IN_CATALOGUE.entries.map((e) => e.name),
  );
  assert.deepEqual(listing.data[0], {
    id: "anthropic.claude-4-5-haiku",
    object: "model",
    created: 0,
    owned_by: "anthropic",
  });
  assert.equal(
    listing.data.find((m) => m.id === "gemini-2.5-pro")!.owned_by,
    "google",
  );
});

Deno.test("buildModelsListing() adds the aliases whose target is known, each id once", () => {
  const listing = buildModelsListing(withAliases);
  const alias = listing.data.find((m) => m.id === "claude-opus-4-8");
  assert.deepEqual(alias, {
    id: "claude-opus-4-8",
    object: "model",
    created: 0,
    owned_by: "flow-proxy",
    alias_of: "anthropic.claude-4-7-opus",
  });
  // an alias named like a Flow model is not listed twice
  assert.equal(listing.data.filter((m) => m.id === "gpt-4o").length, 1);
  // an alias to a model nobody knows is not offered
  assert.equal(listing.data.find((m) => m.id === "ghost"), undefined);
});

Deno.test("buildModelsListing() takes Flow's own list as what is served", () => {
  const upstream = {
    object: "list",
    data: [
      {
        id: "anthropic.claude-4-7-opus",
        object: "model",
        created: 1700000000,
        owned_by: "ciandt",
      },
      { id: "brand-new-model", object: "model" },
      { id: "brand-new-model", object: "model" },
      { nonsense: true },
      "x",
    ],
  };
  const listing = buildModelsListing(withAliases, { upstream });
  assert.deepEqual(listing.data.map((m) => m.id), [
    "anthropic.claude-4-7-opus",
    "brand-new-model",
    "claude-opus-4-8",
    "gpt-4o",
  ]);
  assert.deepEqual(listing.data[0], upstream.data[0]);
  assert.equal(listing.data[1].owned_by, "flow");
  assert.equal(listing.data[1].created, 0);
});

Deno.test("buildModelsListing() falls back to the catalogue when Flow's answer is not a list", () => {
  for (const upstream of [null, "x", { data: "no" }, { error: {} }]) {
    const listing = buildModelsListing(builtInModelsConfig(), { upstream });
    assert.equal(listing.data.length, BUILT_IN_CATALOGUE.entries.length);
  }
});
