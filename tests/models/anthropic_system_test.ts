import assert from "node:assert/strict";
import {
  type AnthropicRewriteOptions,
  formatRewriteLine,
  REWRITE_KINDS,
  rewriteAnthropicRequest,
} from "../../src/models/anthropic_compat.ts";
import type { AnthropicCompatModel } from "../../src/models/compat_types.ts";
import {
  CLAUDE_CODE_BETAS,
  claudeCodeRequest,
  SYSTEM_PROMPT,
} from "./claude_code_request.ts";

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

function rewrite(
  body: string | object,
  options: Partial<AnthropicRewriteOptions> = {},
) {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  return rewriteAnthropicRequest(encoder.encode(text), {
    model: OPUS,
    betaHeader: null,
    ...options,
  });
}

function rewritten(
  body: object,
  options: Partial<AnthropicRewriteOptions> = {},
) {
  const result = rewrite(body, options);
  assert.ok(result, "expected a rewrite");
  return {
    body: JSON.parse(decoder.decode(result.body)),
    text: decoder.decode(result.body),
    details: result.rewrites.map((r) => r.detail),
  };
}

const text = (t: string) => ({ type: "text", text: t });
const cached = (t: string) => ({
  ...text(t),
  cache_control: { type: "ephemeral" },
});
const user = (content: unknown) => ({ role: "user", content });
const assistant = (content: unknown) => ({ role: "assistant", content });
const system = (content: unknown) => ({ role: "system", content });
const toolResult = { type: "tool_result", "tool_use_id": "t1", content: "ok" };

Deno.test("rewriteAnthropicRequest() moves leading system messages into system", async (t) => {
  await t.step("after a string system, which becomes a text block", () => {
    const r = rewritten({
      model: FLOW,
      system: "A",
      messages: [system("B"), system([cached("C")]), user("hi")],
    });
    assert.deepEqual(r.body.system, [text("A"), text("B"), cached("C")]);
    assert.deepEqual(r.body.messages, [user("hi")]);
    assert.deepEqual(r.details, [
      "moved system message 0 into system",
      "moved system message 1 into system",
    ]);
  });
  await t.step("after an array system; none yet; an empty one dropped", () => {
    assert.deepEqual(
      rewritten({
        model: FLOW,
        system: [cached("A")],
        messages: [system("B"), user("hi")],
      }).body.system,
      [cached("A"), text("B")],
    );
    assert.deepEqual(
      rewritten({
        model: FLOW,
        messages: [system(""), system("B"), user("hi")],
      })
        .body.system,
      [text("B")],
    );
  });
});

Deno.test("rewriteAnthropicRequest() merges later system messages into the adjacent user turn", async (t) => {
  await t.step("appended to the preceding user turn", () => {
    const r = rewritten({
      model: FLOW,
      messages: [user("hi"), system([cached("note")]), assistant("yes")],
    });
    assert.deepEqual(r.body.messages, [
      user([text("hi"), cached("note")]),
      assistant("yes"),
    ]);
    assert.equal(r.body.system, undefined);
    assert.deepEqual(r.details, [
      "merged system message 1 into user message 0",
    ]);
  });
  await t.step(
    "after an assistant turn: the next user turn, after its tool results",
    () => {
      const r = rewritten({
        model: FLOW,
        messages: [
          user("go"),
          assistant("calling"),
          system("n1"),
          system("n2"),
          user([toolResult, text("more")]),
        ],
      });
      assert.deepEqual(r.body.messages, [
        user("go"),
        assistant("calling"),
        user([toolResult, text("n1"), text("n2"), text("more")]),
      ]);
      assert.deepEqual(r.details, [
        "merged system message 2 into user message 4",
        "merged system message 3 into user message 4",
      ]);
    },
  );
  await t.step(
    "between assistant turns or last: a user turn of its own",
    () => {
      const r = rewritten({
        model: FLOW,
        messages: [
          user("go"),
          assistant("a"),
          system("n1"),
          assistant("b"),
          system("n2"),
        ],
      });
      assert.deepEqual(r.body.messages, [
        user("go"),
        assistant("a"),
        user([text("n1")]),
        assistant("b"),
        user([text("n2")]),
      ]);
    },
  );
  await t.step(
    "a leading system message with an image goes to the first user turn",
    () => {
      const image = { type: "image", source: { type: "url", url: "u" } };
      const r = rewritten({
        model: FLOW,
        messages: [system([image]), user("hi")],
      });
      assert.deepEqual(r.body.messages, [user([image, text("hi")])]);
    },
  );
  await t.step("switched off", () => {
    assert.equal(
      rewrite({ model: FLOW, messages: [user("a"), system("b")] }, {
        switches: { systemMessages: "pass" },
      }),
      null,
    );
  });
  await t.step('"role": "system" with a space is found too', () => {
    const body =
      `{"model":"${FLOW}","messages":[{"role": "system","content":"b"}]}`;
    assert.ok(rewrite(body));
  });
});

Deno.test("rewriteAnthropicRequest() rewrites a Claude Code 2.1.197 request exactly", () => {
  const body = encoder.encode(JSON.stringify(claudeCodeRequest()));
  const result = rewriteAnthropicRequest(body, {
    model: OPUS,
    betaHeader: CLAUDE_CODE_BETAS,
  });
  assert.ok(result);
  const tools = claudeCodeRequest().tools;
  const expected = {
    model: FLOW,
    messages: [
      user([
        text(
          "<system-reminder>\nAs you answer, use this context.\n</system-reminder>",
        ),
        text("list the files in this directory"),
        {
          ...text(
            "Today's date is 2026-12-02. The working directory is /repo.",
          ),
          cache_control: { type: "ephemeral" },
        },
      ]),
      assistant([{
        type: "tool_use",
        id: "toolu_last",
        name: "Bash",
        input: { command: "ls -la", description: "List files" },
      }]),
      user([{
        type: "tool_result",
        tool_use_id: "toolu_last",
        content: "README.md\nsrc\ntests",
        cache_control: { type: "ephemeral" },
      }]),
    ],
    system: [
      {
        type: "text",
        text: "You are Claude Code, Anthropic's official CLI for Claude.",
        cache_control: { type: "ephemeral", scope: "global" },
      },
      {
        type: "text",
        text: SYSTEM_PROMPT,
        cache_control: { type: "ephemeral" },
      },
    ],
    tools,
    metadata: { user_id: "user_0123abcd_account__session_4567" },
    "max_tokens": 32000,
    thinking: { type: "enabled", budget_tokens: 24000 },
    stream: true,
  };
  assert.equal(decoder.decode(result.body), JSON.stringify(expected));
  assert.equal(
    result.betaHeader,
    "context-1m-2025-08-07,interleaved-thinking-2025-05-14",
  );
  assert.equal(
    formatRewriteLine(FLOW, result.rewrites),
    `Rewrote request for '${FLOW}': mapped model claude-opus-4-8 to ${FLOW}, ` +
      "dropped beta claude-code-20250219, " +
      "dropped beta context-management-2025-06-27, " +
      "dropped beta prompt-caching-scope-2026-01-05, " +
      "dropped beta mid-conversation-system-2026-03-01, " +
      "dropped beta effort-2025-11-24, " +
      "dropped beta structured-outputs-2025-11-13, " +
      "clamped max_tokens 64000 to 32000, " +
      "converted thinking adaptive to enabled (budget_tokens 24000), " +
      "removed context_management, removed output_config (effort), " +
      "merged system message 1 into user message 0",
  );
  assert.deepEqual(
    [...new Set(result.rewrites.map((r) => r.kind))],
    REWRITE_KINDS,
    "every kind, in REWRITE_KINDS order",
  );
});

Deno.test("rewriteAnthropicRequest() on /v1/messages/count_tokens", async (t) => {
  await t.step(
    "maps the model, leaves max_tokens, sizes thinking on the model",
    () => {
      const r = rewritten({
        model: "claude-opus-4-8",
        max_tokens: 64000,
        messages: [user("hi"), system("s")],
        thinking: { type: "adaptive" },
        context_management: {},
      }, { endpoint: "count_tokens" });
      assert.deepEqual(r.body, {
        model: FLOW,
        max_tokens: 64000,
        messages: [user([text("hi"), text("s")])],
        thinking: { type: "enabled", budget_tokens: 24000 },
      });
    },
  );
});

Deno.test("rewriteAnthropicRequest() keeps every other field in meaning", async (t) => {
  await t.step("key order and escapes", () => {
    const source =
      `{"z":1,"model":"x","a":"caf\\u00e9","context_management":{},"m":[true,null]}`;
    const r = rewrite(source);
    assert.ok(r);
    assert.equal(
      decoder.decode(r.body),
      `{"z":1,"model":"${FLOW}","a":"café","m":[true,null]}`,
    );
  });
  await t.step("short numbers are written the JavaScript way", () => {
    const r = rewrite(`{"model":"x","temperature":1.0,"top_p":1e0}`);
    assert.ok(r);
    assert.equal(
      decoder.decode(r.body),
      `{"model":"${FLOW}","temperature":1,"top_p":1}`,
    );
  });
  await t.step("a long number is kept as written", () => {
    const source =
      `{"model":"x","n":12345678901234567890,"f":0.10000000000000000001,"t":2.50}`;
    const r = rewrite(source);
    assert.ok(r);
    assert.equal(
      decoder.decode(r.body),
      `{"model":"${FLOW}","n":12345678901234567890,"f":0.10000000000000000001,"t":2.5}`,
    );
  });
});

Deno.test("rewriteAnthropicRequest() passes a broken body through", async (t) => {
  await t.step("untouched, null without a header change", () => {
    assert.equal(rewrite(`{"model":"x","thinking":{"type":"adaptive"`), null);
    assert.equal(rewrite(`[{"model":"x"}]`), null);
  });
  await t.step("the header is still filtered", () => {
    const body = encoder.encode(`{"model":"x",`);
    const r = rewriteAnthropicRequest(body, {
      model: OPUS,
      betaHeader: "effort-2025-11-24",
    });
    assert.ok(r);
    assert.equal(r.body, body);
    assert.equal(r.betaHeader, null);
  });
});
