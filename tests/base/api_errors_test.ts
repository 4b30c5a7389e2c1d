import assert from "node:assert/strict";
import {
  ERROR_STATUS,
  errorBody,
  errorResponse,
  type ProxyErrorType,
} from "../../src/base/api_errors.ts";
import { apiFamily } from "../../src/base/api_family.ts";

Deno.test("ERROR_STATUS has the contract's statuses", () => {
  const expected: Record<string, number> = {
    "upstream_unreachable": 502,
    "upstream_timeout": 504,
    "no_credentials_available": 503,
    "method_not_allowed": 405,
    "payload_too_large": 413,
    "unauthorized": 401,
    "rate_limited": 429,
    "internal_error": 500,
  };
  for (const [type, status] of Object.entries(expected)) {
    assert.equal(ERROR_STATUS[type as ProxyErrorType], status, type);
  }
});

Deno.test("apiFamily is anthropic for /v1/messages paths only", async (t) => {
  const anthropic = [
    "/v1/messages",
    "/v1/messages/",
    "/v1/messages/count_tokens",
    "/flow-llm-proxy/v1/messages",
    "v1/messages",
  ];
  for (const path of anthropic) {
    await t.step(`${path} → anthropic`, () => {
      assert.equal(apiFamily(path), "anthropic");
    });
  }
  const openai = [
    "/v1/chat/completions",
    "/v1/models",
    "/v1/embeddings",
    "/",
    "/v1/messagesX",
    "/v2/messages",
    "/xv1/messages",
    "/healthz",
    "/v1/models/gpt-4o",
    "/v1beta/openai/chat/completions",
  ];
  for (const path of openai) {
    await t.step(`${path} → openai`, () => {
      assert.equal(apiFamily(path), "openai");
    });
  }
});

Deno.test("errorResponse in OpenAI shape", async () => {
  const res = errorResponse(
    "openai",
    "upstream_unreachable",
    "Cannot reach it",
    {
      "retry-after": "3",
    },
  );
  assert.equal(res.status, 502);
  assert.equal(res.headers.get("content-type"), "application/json");
  assert.equal(res.headers.get("retry-after"), "3");
  assert.deepEqual(await res.json(), {
    error: {
      message: "Cannot reach it",
      type: "upstream_unreachable",
      code: "upstream_unreachable",
    },
  });
});

Deno.test("apiFamily is gemini for Gemini's paths", async (t) => {
  const gemini = [
    "/v1beta/models/gemini-2.5-pro:generateContent",
    "/v1beta/models/gemini-2.5-pro:streamGenerateContent",
    "/v1/models/gemini-2.5-pro:countTokens",
    "/v1alpha/models/x:generateContent",
    "/flow-llm-proxy/v1beta/models/m:generateContent",
    "/v1beta/models",
  ];
  for (const path of gemini) {
    await t.step(`${path} → gemini`, () => {
      assert.equal(apiFamily(path), "gemini");
    });
  }
});

Deno.test("errorResponse in Gemini shape", async () => {
  const res = errorResponse("gemini", "unauthorized", "Missing API key");
  assert.equal(res.status, 401);
  assert.equal(res.headers.get("content-type"), "application/json");
  assert.deepEqual(await res.json(), {
    error: { code: 401, message: "Missing API key", status: "UNAUTHENTICATED" },
  });
  const busy = await errorResponse("gemini", "rate_limited", "Slow down")
    .json();
  assert.equal(busy.error.status, "RESOURCE_EXHAUSTED");
  assert.equal(busy.error.code, 429);
});

Deno.test("errorResponse in Anthropic shape", async () => {
  const res = errorResponse("anthropic", "no_credentials_available", "None");
  assert.equal(res.status, 503);
  assert.equal(res.headers.get("content-type"), "application/json");
  assert.deepEqual(await res.json(), {
    type: "error",
    error: { type: "no_credentials_available", message: "None" },
  });
});

Deno.test("errorResponse uses the status of every type", async (t) => {
  for (const [type, status] of Object.entries(ERROR_STATUS)) {
    await t.step(type, async () => {
      for (const family of ["openai", "anthropic"] as const) {
        const res = errorResponse(family, type as ProxyErrorType, "m");
        assert.equal(res.status, status);
        const body = await res.json();
        assert.equal(body.error.type, type);
        if (family === "openai") assert.equal(body.error.code, type);
        else assert.equal(body.type, "error");
      }
      const gemini = await errorResponse("gemini", type as ProxyErrorType, "m")
        .json();
      assert.equal(gemini.error.code, status);
      assert.match(gemini.error.status, /^[A-Z_]+$/);
    });
  }
});

Deno.test("errorResponse content-type wins over a passed header", () => {
  const res = errorResponse("openai", "internal_error", "x", {
    "content-type": "text/html",
  });
  assert.equal(res.headers.get("content-type"), "application/json");
});

Deno.test("errorBody escapes the message as JSON", () => {
  const message = 'quote " backslash \\ newline \n';
  assert.equal(
    JSON.parse(errorBody("openai", "bad_request", message)).error.message,
    message,
  );
  assert.equal(
    JSON.parse(errorBody("anthropic", "bad_request", message)).error.message,
    message,
  );
});
