import assert from "node:assert/strict";
import {
  type AnthropicRewriteOptions,
  rewriteAnthropicRequest,
  thinkingBudget,
} from "../../src/models/anthropic_compat.ts";
import type { AnthropicCompatModel } from "../../src/models/compat_types.ts";
import { claudeCodeRequest } from "./claude_code_request.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const OPUS: AnthropicCompatModel = {
  name: "anthropic.claude-4-6-opus",
  family: "anthropic",
  outputLimit: 32000,
  betas: ["interleaved-thinking-2025-05-14", "context-1m-2025-08-07"],
  thinking: ["enabled"],
  rejectsFields: ["context_management", "output_config"],
};
const FLOW = OPUS.name;

type Options = Partial<AnthropicRewriteOptions>;

function rewrite(body: string | object, options: Options = {}) {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  return rewriteAnthropicRequest(encoder.encode(text), {
    model: OPUS,
    betaHeader: null,
    ...options,
  });
}

/** The rewritten body, parsed, and the rewrite details. */
function rewritten(body: string | object, options: Options = {}) {
  const result = rewrite(body, options);
  assert.ok(result, "expected a rewrite");
  return {
    body: JSON.parse(decoder.decode(result.body)),
    text: decoder.decode(result.body),
    details: result.rewrites.map((r) => `${r.kind}: ${r.detail}`),
    betaHeader: result.betaHeader,
  };
}

const base = { model: FLOW, "max_tokens": 1000, messages: [] };

/** How often JSON.parse ran during `fn`. */
function countParses(fn: () => void): number {
  const original = JSON.parse;
  let calls = 0;
  JSON.parse = function (...args: Parameters<typeof JSON.parse>) {
    calls++;
    return original.apply(JSON, args);
  };
  try {
    fn();
  } finally {
    JSON.parse = original;
  }
  return calls;
}

Deno.test("rewriteAnthropicRequest() does not parse a body without a trigger", () => {
  const bodies = [
    JSON.stringify({
      ...claudeCodeRequest({ turns: 3 }),
      model: FLOW,
      max_tokens: 32000,
      thinking: undefined,
      context_management: undefined,
      output_config: undefined,
      messages: [{ role: "user", content: "hi" }],
    }),
    `{"model":"${FLOW}","messages":[{"type":"thinking","thinking":"x"}`,
    `{"model":"${FLOW}", "max_tokens": 31999, "role": "user"`,
    `{"model":"${FLOW}","max_tokens":4000,"thinking":{"type":"enabled","budget_tokens":2000}`,
    `{"model":"${FLOW}","thinking": { "type" : "disabled" }`,
  ];
  for (const body of bodies) {
    // The caller's sniff finds no model in a broken body; say what it would
    // have found in a whole one.
    const options = { requestedModel: FLOW };
    assert.equal(
      countParses(() => assert.equal(rewrite(body, options), null)),
      0,
    );
  }
  assert.equal(countParses(() => rewrite(bodies[0])), 0, "sniffed here");
  assert.equal(
    countParses(() => {
      const result = rewrite(bodies[0], { betaHeader: "effort-2025-11-24" });
      assert.equal(result?.rewrites.length, 1, "a header-only change");
    }),
    0,
  );
  assert.equal(
    countParses(() => rewrite({ ...base, thinking: { type: "adaptive" } })),
    1,
    "the spy sees a parse",
  );
});

Deno.test("rewriteAnthropicRequest() returns null when nothing needs to change", async (t) => {
  await t.step("a plain request", () => {
    assert.equal(
      rewrite({
        ...base,
        messages: [{ role: "user", content: "hi" }],
        system: "x",
      }),
      null,
    );
  });
  await t.step("max_tokens at the limit, betas all accepted", () => {
    assert.equal(
      rewrite({ ...base, max_tokens: 32000 }, {
        betaHeader: " interleaved-thinking-2025-05-14 ,context-1m-2025-08-07",
      }),
      null,
    );
  });
  await t.step("a trigger that changes nothing after parsing", () => {
    const body = {
      ...base,
      tools: [{
        name: "t",
        input_schema: { properties: { thinking: { type: "string" } } },
      }],
    };
    assert.equal(rewrite(body), null);
  });
  await t.step("an OpenAI-family model is never touched", () => {
    const gpt = { ...OPUS, name: "gpt-4o", family: "openai" as const };
    const body = claudeCodeRequest();
    assert.equal(rewrite(body, { model: gpt, betaHeader: "x" }), null);
  });
  await t.step("fields the model takes are left alone", () => {
    const open = { ...OPUS, rejectsFields: [] };
    const body = {
      ...base,
      "context_management": { edits: [] },
      "output_config": { effort: "low" },
    };
    assert.equal(rewrite(body, { model: open }), null);
  });
});

Deno.test("rewriteAnthropicRequest() sets the Flow model name", async (t) => {
  await t.step("mapped, in its place", () => {
    const r = rewritten({ model: "claude-opus-4-8", max_tokens: 10 });
    assert.equal(r.text, `{"model":"${FLOW}","max_tokens":10}`);
    assert.deepEqual(r.details, [
      `model: mapped model claude-opus-4-8 to ${FLOW}`,
    ]);
  });
  await t.step("a client's model name cannot forge a log line", () => {
    const r = rewritten({ model: "x\nINFO forged" });
    assert.deepEqual(r.details, [
      `model: mapped model x?INFO forged to ${FLOW}`,
    ]);
  });
  await t.step("flowModel overrides the facts' name", () => {
    const r = rewritten({ model: "x" }, { flowModel: "anthropic.other" });
    assert.equal(r.body.model, "anthropic.other");
  });
  await t.step("a sniffed model given by the caller is trusted", () => {
    assert.equal(
      rewrite({ model: "claude-opus-4-8" }, { requestedModel: FLOW }),
      null,
    );
  });
  await t.step("switched off", () => {
    assert.equal(
      rewrite({ model: "claude-opus-4-8" }, { setModel: false }),
      null,
    );
  });
});

Deno.test("rewriteAnthropicRequest() filters anthropic-beta", async (t) => {
  await t.step("keeps accepted flags, whitespace tolerant", () => {
    const body = encoder.encode(JSON.stringify(base));
    const result = rewriteAnthropicRequest(body, {
      model: OPUS,
      betaHeader: " claude-code-20250219 , interleaved-thinking-2025-05-14,," +
        "interleaved-thinking-2025-05-14",
    });
    assert.ok(result);
    assert.equal(result.betaHeader, "interleaved-thinking-2025-05-14");
    assert.equal(result.body, body, "the body is the input array");
    assert.deepEqual(result.rewrites, [
      { kind: "beta", detail: "dropped beta claude-code-20250219" },
    ]);
  });
  await t.step("none left removes the header", () => {
    const result = rewrite(base, { betaHeader: "effort-2025-11-24" });
    assert.equal(result?.betaHeader, null);
  });
  await t.step("a trailing * accepts a prefix", () => {
    const model = { ...OPUS, betas: ["context-1m-*"] };
    assert.equal(
      rewrite(base, { model, betaHeader: "context-1m-2025-08-07" }),
      null,
    );
  });
  await t.step("switched off", () => {
    assert.equal(
      rewrite(base, { betaHeader: "x-1", switches: { betas: "pass" } }),
      null,
    );
  });
});

Deno.test("rewriteAnthropicRequest() converts adaptive thinking", async (t) => {
  await t.step("to enabled with a budget sized by effort", () => {
    for (
      const [effort, budget] of [
        [undefined, 7500],
        ["low", 2500],
        ["medium", 5000],
        ["high", 7500],
        ["max", 9999],
      ] as const
    ) {
      const model = { ...OPUS, rejectsFields: [] };
      const r = rewritten({
        ...base,
        max_tokens: 10000,
        thinking: { type: "adaptive" },
        ...(effort ? { output_config: { effort } } : {}),
      }, { model });
      assert.deepEqual(r.body.thinking, {
        type: "enabled",
        budget_tokens: budget,
      });
    }
  });
  await t.step("the budget is at least 1024 and below max_tokens", () => {
    assert.equal(thinkingBudget(1025, "low"), 1024);
    assert.equal(thinkingBudget(2000, "low"), 1024);
    assert.equal(thinkingBudget(1024, "high"), null);
  });
  await t.step("removed when max_tokens leaves no room", () => {
    const r = rewritten({
      ...base,
      max_tokens: 1024,
      thinking: { type: "adaptive" },
    });
    assert.equal(r.body.thinking, undefined);
    assert.match(r.details[0], /^thinking: removed adaptive thinking/);
  });
  await t.step("removed for a model without thinking", () => {
    const model = { ...OPUS, thinking: [] };
    const r = rewritten({
      ...base,
      thinking: { type: "enabled", budget_tokens: 2000 },
    }, { model });
    assert.equal("thinking" in r.body, false);
  });
  await t.step("an enabled budget is lowered after a clamp", () => {
    const r = rewritten({
      ...base,
      max_tokens: 64000,
      thinking: { type: "enabled", budget_tokens: 40000 },
    });
    assert.equal(r.body.max_tokens, 32000);
    assert.deepEqual(r.body.thinking, {
      type: "enabled",
      budget_tokens: 31999,
    });
  });
  await t.step("enabled or disabled thinking that fits is kept", () => {
    for (
      const thinking of [{ type: "disabled" }, {
        type: "enabled",
        budget_tokens: 2000,
      }]
    ) {
      assert.equal(rewrite({ ...base, max_tokens: 4000, thinking }), null);
    }
  });
  await t.step("kept for a model that takes adaptive", () => {
    const model = { ...OPUS, thinking: ["adaptive" as const] };
    assert.equal(
      rewrite({ ...base, thinking: { type: "adaptive" } }, { model }),
      null,
    );
  });
  await t.step("enabled becomes adaptive for an adaptive-only model", () => {
    const model = { ...OPUS, thinking: ["adaptive" as const] };
    const r = rewritten({
      ...base,
      thinking: { type: "enabled", "budget_tokens": 2000 },
    }, { model });
    assert.deepEqual(r.body.thinking, { type: "adaptive" });
  });
  await t.step("remove mode drops a type the model does not take", () => {
    const r = rewritten({
      ...base,
      max_tokens: 9000,
      thinking: { type: "adaptive" },
    }, {
      switches: { thinking: "remove" },
    });
    assert.equal("thinking" in r.body, false);
    assert.deepEqual(r.details, [
      "thinking: removed thinking: the model does not take adaptive",
    ]);
  });
  await t.step("switched off", () => {
    assert.equal(
      rewrite({ ...base, thinking: { type: "adaptive" } }, {
        switches: { thinking: "pass" },
      }),
      null,
    );
  });
});

Deno.test("rewriteAnthropicRequest() removes context_management", async (t) => {
  await t.step("removed", () => {
    const r = rewritten({ ...base, context_management: { edits: [] } });
    assert.equal(r.text, JSON.stringify(base));
    assert.deepEqual(r.details, [
      "context_management: removed context_management",
    ]);
  });
  await t.step("switched off", () => {
    assert.equal(
      rewrite({ ...base, context_management: {} }, {
        switches: { contextManagement: "pass" },
      }),
      null,
    );
  });
});

Deno.test("rewriteAnthropicRequest() clamps max_tokens", async (t) => {
  await t.step("clamped to the output limit", () => {
    const r = rewritten({ ...base, max_tokens: 128000 });
    assert.equal(r.body.max_tokens, 32000);
    assert.deepEqual(r.details, [
      "max_tokens: clamped max_tokens 128000 to 32000",
    ]);
  });
  await t.step("switched off", () => {
    assert.equal(
      rewrite({ ...base, max_tokens: 128000 }, {
        switches: { maxTokens: "pass" },
      }),
      null,
    );
  });
});

Deno.test("rewriteAnthropicRequest() handles output_config per model", async (t) => {
  await t.step("removed where output_config is rejected", () => {
    const r = rewritten({ ...base, output_config: { effort: "high" } });
    assert.equal(r.body.output_config, undefined);
    assert.deepEqual(r.details, [
      "output_config: removed output_config (effort)",
    ]);
  });
  await t.step("a title request's format is named in the detail", () => {
    const r = rewritten({
      ...base,
      "output_config": { format: { type: "json_schema", schema: {} } },
    });
    assert.deepEqual(r.details, [
      "output_config: removed output_config (format: structured output, " +
      "the answer is not schema-constrained)",
    ]);
  });
  await t.step("only the rejected parts go", () => {
    const model = {
      ...OPUS,
      rejectsFields: ["output_config.effort"],
    };
    const format = { type: "json_schema", schema: { type: "object" } };
    const r = rewritten(
      { ...base, output_config: { effort: "high", format } },
      {
        model,
      },
    );
    assert.deepEqual(r.body.output_config, { format });
  });
  await t.step(
    "a dropped format is logged as such, an empty config removed",
    () => {
      const model = {
        ...OPUS,
        rejectsFields: ["output_config.format"],
      };
      const r = rewritten({
        ...base,
        output_config: { format: { type: "json_schema", schema: {} } },
      }, { model });
      assert.equal("output_config" in r.body, false);
      assert.deepEqual(r.details, [
        "output_config: removed output_config.format: structured output, " +
        "the answer is not schema-constrained",
      ]);
    },
  );
  await t.step("switched off", () => {
    assert.equal(
      rewrite({ ...base, output_config: { effort: "high" } }, {
        switches: { outputConfig: "pass" },
      }),
      null,
    );
  });
});
