// The Anthropic wire format is snake_case.
// deno-lint-ignore-file camelcase
import assert from "node:assert/strict";
import { SignJWT } from "jose";
import {
  anthropicRefusal,
  anthropicViolations,
  FLOW_MODELS,
  MockFlow,
  verifyFlowJwt,
} from "./mock_flow.ts";
import {
  decide,
  MOCK_THINKING,
  PLAIN_ANSWER,
  TOOL_ANSWER_PREFIX,
} from "./mock_flow_llm.ts";
import { thinkingRefusal } from "./mock_flow_rules.ts";

const SONNET = FLOW_MODELS["anthropic.claude-4-6-sonnet"];
const CLEAN = {
  model: "anthropic.claude-4-6-sonnet",
  max_tokens: 1024,
  messages: [{ role: "user", content: "hi" }],
};
const CRED = { clientId: "c1", clientSecret: "s3cr3t-mock-flow", tenant: "t" };

function jwt(claims: Record<string, unknown>, secret = CRED.clientSecret) {
  return new SignJWT(claims).setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .sign(new TextEncoder().encode(secret));
}

Deno.test("anthropicRefusal() refuses each Bedrock rule, and none when switched off", async (t) => {
  assert.equal(anthropicRefusal(SONNET, CLEAN, null), null);
  const cases: [string, Record<string, unknown>, string | null, string][] = [
    [
      "adaptive thinking",
      { thinking: { type: "adaptive" } },
      null,
      "rejectAdaptiveThinking",
    ],
    ["an unknown beta", {}, "claude-code-20250219", "rejectUnknownBetas"],
    [
      "context_management",
      { context_management: { edits: [] } },
      null,
      "rejectContextManagement",
    ],
    [
      "a system message",
      {
        messages: [{ role: "user", content: "a" }, {
          role: "system",
          content: "b",
        }],
      },
      null,
      "rejectSystemInMessages",
    ],
    [
      "max_tokens over the limit",
      { max_tokens: 128_001 },
      null,
      "rejectOversizedMaxTokens",
    ],
  ];
  for (const [name, extra, beta, rule] of cases) {
    await t.step(name, () => {
      const body = { ...CLEAN, ...extra };
      assert.equal(anthropicRefusal(SONNET, body, beta)?.rule, rule);
      assert.equal(
        anthropicRefusal(SONNET, body, beta, { [rule]: false }),
        null,
      );
    });
  }
  await t.step("an accepted beta and thinking: enabled pass", () => {
    const body = {
      ...CLEAN,
      thinking: { type: "enabled", budget_tokens: 512 },
    };
    assert.equal(
      anthropicRefusal(SONNET, body, "interleaved-thinking-2025-05-14"),
      null,
    );
  });
  await t.step(
    "every broken rule is listed, first the one Flow answers",
    () => {
      const body = {
        ...CLEAN,
        thinking: { type: "adaptive" },
        max_tokens: 128_001,
      };
      assert.deepEqual(
        anthropicViolations(SONNET, body, "effort-2025-11-24").map((v) =>
          v.rule
        ),
        [
          "rejectAdaptiveThinking",
          "rejectUnknownBetas",
          "rejectOversizedMaxTokens",
        ],
      );
    },
  );
});

Deno.test("verifyFlowJwt() accepts exactly the claims Flow signs", async () => {
  assert.deepEqual(await verifyFlowJwt(`Bearer ${await jwt(CRED)}`, [CRED]), {
    clientId: "c1",
  });
  assert.deepEqual(
    await verifyFlowJwt(`Bearer ${await jwt({ ...CRED, extra: 1 })}`, [CRED]),
    {
      error: "bad claims clientId,clientSecret,extra,tenant",
    },
  );
  assert.deepEqual(
    await verifyFlowJwt(`Bearer ${await jwt(CRED, "wrong")}`, [CRED]),
    {
      error: "signature matches no credential",
    },
  );
  assert.deepEqual(await verifyFlowJwt(null, [CRED]), {
    error: "no bearer token",
  });
});

Deno.test("decide() answers text, calls the offered shell tool, then quotes its result", () => {
  assert.deepEqual(decide({ isToolResult: false, text: "Say hello" }, []), {
    kind: "text",
    text: PLAIN_ANSWER,
  });
  const tools = [{ name: "Read" }, { name: "Bash" }];
  assert.deepEqual(
    decide({ isToolResult: false, text: "List the files here" }, tools),
    {
      kind: "tool",
      name: "Bash",
      arguments: { command: "ls", description: "List files" },
    },
  );
  assert.deepEqual(decide({ isToolResult: true, text: "a.txt" }, tools), {
    kind: "text",
    text: `${TOOL_ANSWER_PREFIX} a.txt`,
  });
});

Deno.test("MockFlow serves only Flow's names, records requests and refusals, refuses upgrades", async () => {
  await using flow = MockFlow.start({ credentials: [CRED] });
  const auth = {
    authorization: `Bearer ${await jwt(CRED)}`,
    "content-type": "application/json",
  };
  const post = (
    path: string,
    body: unknown,
    headers: Record<string, string> = {},
  ) =>
    fetch(`${flow.url}${path}`, {
      method: "POST",
      headers: { ...auth, ...headers },
      body: JSON.stringify(body),
    });

  const unknown = await post("/v1/messages", {
    ...CLEAN,
    model: "claude-opus-4-8",
  });
  assert.equal(unknown.status, 400);
  assert.match(
    await unknown.text(),
    /no healthy deployment for model 'claude-opus-4-8'/,
  );

  const beta = await post("/v1/messages", CLEAN, {
    "anthropic-beta": "claude-code-20250219",
  });
  assert.equal(beta.status, 400);
  assert.match(await beta.text(), /invalid beta flag: claude-code-20250219/);

  const ok = await post("/v1/messages", { ...CLEAN, stream: true });
  assert.equal(ok.headers.get("content-type"), "text/event-stream");
  const events = await ok.text();
  assert.match(
    events,
    /event: message_start[\s\S]*Hello from mock Flow[\s\S]*event: message_stop/,
  );

  const chat = await post("/v1/chat/completions", {
    model: "gpt-4o",
    messages: [{ role: "user", content: "hi" }],
  });
  assert.equal((await chat.json()).choices[0].message.content, PLAIN_ANSWER);

  const responses = await post("/v1/responses", {
    model: "gpt-5",
    input: "hi",
    stream: true,
  });
  assert.match(
    await responses.text(),
    /response\.output_text\.delta[\s\S]*response\.completed/,
  );

  const upgrade = await fetch(`${flow.url}/v1/responses`, {
    headers: { ...auth, upgrade: "websocket", connection: "Upgrade" },
  });
  assert.equal(upgrade.status, 405);
  await upgrade.body?.cancel();

  const noJwt = await fetch(`${flow.url}/v1/models`);
  assert.equal(noJwt.status, 401);
  await noJwt.body?.cancel();

  assert.deepEqual(flow.refusals.map((r) => r.rule), [
    "knownModelsOnly",
    "rejectUnknownBetas",
    "jwt",
  ]);
  assert.equal(flow.requests.length, 7);
  assert.ok(flow.requests.every((r) => !("authorization" in r.headers)));
});

Deno.test("MockFlow serves /v1/responses for OpenAI models only (a Claude or Gemini model gets LiteLLM's 400), unless switched off", async () => {
  await using flow = MockFlow.start({
    credentials: [CRED],
    acceptAnyToken: true,
  });
  const post = (model: string) =>
    fetch(`${flow.url}/v1/responses`, {
      method: "POST",
      body: JSON.stringify({ model, input: "hi" }),
    });
  for (const model of ["anthropic.claude-4-5-sonnet", "gemini-2.5-pro"]) {
    const res = await post(model);
    assert.equal(res.status, 400);
    const body = await res.json();
    assert.match(body.error.message, /^litellm\.BadRequestError: /);
    assert.match(body.error.message, new RegExp(`'${model}'`));
  }
  const gpt = await post("gpt-5");
  assert.equal(gpt.status, 200);
  assert.equal((await gpt.json()).status, "completed");
  assert.deepEqual(flow.refusals.map((r) => r.rule), [
    "responsesForOpenAiOnly",
    "responsesForOpenAiOnly",
  ]);
  await using open = MockFlow.start({
    credentials: [CRED],
    acceptAnyToken: true,
    rules: { responsesForOpenAiOnly: false },
  });
  const claude = await fetch(`${open.url}/v1/responses`, {
    method: "POST",
    body: JSON.stringify({ model: "anthropic.claude-4-5-sonnet", input: "hi" }),
  });
  assert.equal(claude.status, 200);
  await claude.body?.cancel();
});

Deno.test("MockFlow's Chat answer for a Claude model calls Codex's exec_command, flattened from its namespaces", async () => {
  await using flow = MockFlow.start({
    credentials: [CRED],
    acceptAnyToken: true,
  });
  const fn = (name: string) => ({
    type: "function",
    function: { name, parameters: { type: "object", properties: {} } },
  });
  const res = await fetch(`${flow.url}/v1/chat/completions`, {
    method: "POST",
    body: JSON.stringify({
      model: "anthropic.claude-4-5-sonnet",
      messages: [{
        role: "user",
        content: "List the files in the current directory",
      }],
      tools: [fn("close_agent"), fn("exec_command"), fn("view_image")],
    }),
  });
  const message = (await res.json()).choices[0].message;
  assert.equal(message.tool_calls[0].function.name, "exec_command");
  assert.deepEqual(JSON.parse(message.tool_calls[0].function.arguments), {
    cmd: "ls",
  });
});

Deno.test("thinkingRefusal() refuses a thinking Claude's tool turn without its signed thinking, and nothing else", () => {
  const claude = FLOW_MODELS["anthropic.claude-4-5-sonnet"];
  const call = {
    id: "c1",
    type: "function",
    function: { name: "exec_command", arguments: "{}" },
  };
  const loop = (assistant: Record<string, unknown>) => ({
    model: "anthropic.claude-4-5-sonnet",
    reasoning_effort: "high",
    messages: [
      { role: "user", content: "ls" },
      { role: "assistant", content: null, tool_calls: [call], ...assistant },
      { role: "tool", tool_call_id: "c1", content: "a.txt" },
    ],
  });
  assert.equal(
    thinkingRefusal(claude, loop({}))?.rule,
    "requireThinkingBlocks",
  );
  assert.match(
    thinkingRefusal(claude, loop({}))!.message,
    /messages\.1\.content/,
  );
  assert.equal(
    thinkingRefusal(claude, loop({ thinking_blocks: [MOCK_THINKING] })),
    null,
  );
  assert.equal(
    thinkingRefusal(claude, { ...loop({}), reasoning_effort: undefined }),
    null,
  );
  assert.equal(thinkingRefusal(FLOW_MODELS["gpt-5"], loop({})), null);
  assert.equal(
    thinkingRefusal(claude, loop({}), { requireThinkingBlocks: false }),
    null,
  );
});

Deno.test("MockFlow's Chat answer for a thinking Claude carries LiteLLM's reasoning_content and signed thinking_blocks, JSON and stream", async () => {
  await using flow = MockFlow.start({
    credentials: [CRED],
    acceptAnyToken: true,
  });
  const ask = (stream: boolean) =>
    fetch(`${flow.url}/v1/chat/completions`, {
      method: "POST",
      body: JSON.stringify({
        model: "anthropic.claude-4-5-sonnet",
        reasoning_effort: "low",
        stream,
        messages: [{ role: "user", content: "hi" }],
      }),
    });
  const message = (await (await ask(false)).json()).choices[0].message;
  assert.equal(message.reasoning_content, MOCK_THINKING.thinking);
  assert.deepEqual(message.thinking_blocks, [MOCK_THINKING]);
  const events = await (await ask(true)).text();
  assert.match(events, /"reasoning_content":"The user wants something/);
  assert.match(events, /"signature":"mock-signature-1"/);
});
