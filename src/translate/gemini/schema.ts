/**
 * Gemini's tool and response schemas as JSON Schema. Gemini takes an
 * OpenAPI 3.0 subset with upper-case types (`STRING`, `OBJECT`) in
 * `parameters` / `responseSchema`, or plain JSON Schema in
 * `parametersJsonSchema` / `responseJsonSchema`; Chat providers want JSON
 * Schema with lower-case types, and some refuse an object without
 * `properties`.
 */
import type { Json } from "../types.ts";

/** OpenAPI keys that JSON Schema does not know (or providers refuse). */
const OPENAPI_ONLY = new Set(["nullable", "propertyOrdering", "example"]);

/**
 * A Gemini OpenAPI schema as JSON Schema: types lower-cased, `nullable`,
 * `propertyOrdering` and `example` removed, `format: "enum"` removed, and
 * objects given `properties: {}` when they have none.
 */
export function openApiToJsonSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(openApiToJsonSchema);
  if (schema === null || typeof schema !== "object") return schema;
  const out: Json = {};
  for (const [key, value] of Object.entries(schema as Json)) {
    if (OPENAPI_ONLY.has(key)) continue;
    if (key === "format" && value === "enum") continue;
    if (key === "type" && typeof value === "string") {
      if (value !== "TYPE_UNSPECIFIED") out.type = value.toLowerCase();
      continue;
    }
    out[key] = key === "properties"
      ? mapValues(value, openApiToJsonSchema)
      : openApiToJsonSchema(value);
  }
  return withProperties(out);
}

/** A JSON Schema with every object given `properties: {}` when it has none. */
export function cleanJsonSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(cleanJsonSchema);
  if (schema === null || typeof schema !== "object") return schema;
  const out: Json = {};
  for (const [key, value] of Object.entries(schema as Json)) {
    out[key] = key === "properties"
      ? mapValues(value, cleanJsonSchema)
      : cleanJsonSchema(value);
  }
  return withProperties(out);
}

/** A property map with each schema converted (the names are not schemas). */
function mapValues(value: unknown, fn: (v: unknown) => unknown): unknown {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return value;
  }
  const out: Json = {};
  for (const [name, schema] of Object.entries(value as Json)) {
    out[name] = fn(schema);
  }
  return out;
}

function withProperties(out: Json): Json {
  if (out.type === "object" && out.properties === undefined) {
    out.properties = {};
  }
  return out;
}
