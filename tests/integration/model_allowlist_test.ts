/**
 * A key's model allowlist against bodies and URLs built to slip past it:
 * duplicate and escaped `model` keys, padding, bodies too large to keep,
 * and models named in the query or the path. The model the allowlist
 * checks, the model the request log records and the model the upstream runs
 * must be the same one.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { runCli } from "../support/proxy.ts";
import { startStack } from "../support/stack.ts";

const PAD = "x".repeat(70 * 1024);

async function createKey(db: string, name: string, models: string) {
  const out = await runCli([
    "keys",
    "create",
    "--name",
    name,
    "--db",
    db,
    "--models",
    models,
    "--json",
  ]);
  assert.equal(out.code, 0, out.stderr);
  return JSON.parse(out.stdout).key as string;
}

/** The model the request log recorded for request `id` (bounded wait for the write). */
async function loggedModel(db: string, id: string): Promise<string | null> {
  for (let i = 0; i < 100; i++) {
    const conn = new DatabaseSync(db, { readOnly: true });
    try {
      const row = conn.prepare("SELECT model FROM requests WHERE id = ?").get(
        id,
      ) as { model: string | null } | undefined;
      if (row !== undefined) return row.model;
    } finally {
      conn.close();
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`Request ${id} never reached the request log`);
}

Deno.test("a key's model allowlist checks the model the upstream will run", async (t) => {
  const dir = Deno.makeTempDirSync({ prefix: "flow-proxy-test-" });
  const db = `${dir}/flow-proxy.db`;
  const key = await createKey(db, "gpt-only", "gpt-4o");
  const familyKey = await createKey(db, "gpt-family", "gpt-4o*");
  await using stack = await startStack({
    dir,
    args: [
      "--num-workers",
      "1",
      "--db",
      db,
      "--retry-body-limit",
      String(128 * 1024),
    ],
  });
  const { proxy, upstream } = stack;

  async function post(
    path: string,
    body: string,
    id = crypto.randomUUID(),
  ) {
    const res = await fetch(`${proxy.url}${path}`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${key}`,
        "content-type": "application/json",
        "x-request-id": id,
      },
      body,
    });
    return { status: res.status, text: await res.text(), id };
  }

  const refused: [string, string, string, number][] = [
    [
      "two model keys",
      "/v1/chat/completions",
      '{"model":"gpt-4o","model":"gpt-5"}',
      400,
    ],
    [
      "an escaped second model key",
      "/v1/chat/completions",
      '{"model":"gpt-4o","messages":[],"\\u006dodel":"gpt-5"}',
      400,
    ],
    [
      "70 KB of padding between two model keys",
      "/v1/chat/completions",
      `{"model":"gpt-4o","pad":"${PAD}","model":"gpt-5"}`,
      400,
    ],
    [
      "an escaped model key alone",
      "/v1/chat/completions",
      '{"\\u006dodel":"gpt-5"}',
      403,
    ],
    [
      "a body too large to keep, whose head names an allowed model",
      "/v1/chat/completions",
      `{"model":"gpt-4o","pad":"${PAD}${PAD}","model":"gpt-5"}`,
      403,
    ],
    [
      "a model in the query",
      "/v1/chat/completions?model=gpt-5",
      '{"model":"gpt-4o"}',
      403,
    ],
    [
      "an Azure deployment in the path",
      "/openai/deployments/gpt-5/chat/completions?api-version=1",
      '{"model":"gpt-4o"}',
      403,
    ],
    [
      "a Gemini model in the path",
      "/v1beta/models/gpt-5:generateContent",
      '{"model":"gpt-4o","contents":[]}',
      403,
    ],
    [
      "a Gemini model in the path, percent-encoded",
      "/v1beta/models/gpt%2D5:generateContent",
      '{"contents":[]}',
      403,
    ],
  ];
  for (const [label, path, body, status] of refused) {
    await t.step(`refused: ${label}`, async () => {
      const res = await post(path, body);
      assert.equal(res.status, status, res.text);
      assert.equal(upstream.requests.length, 0, "the upstream saw it");
    });
  }

  await t.step("refused: a GET naming a model in its path", async () => {
    const res = await fetch(
      `${proxy.url}/v1beta/models/gpt-5:generateContent`,
      { headers: { authorization: `Bearer ${key}` } },
    );
    assert.equal(res.status, 403, await res.text());
    assert.equal(upstream.requests.length, 0);
  });

  await t.step(
    "refused: body and query naming two allowed models",
    async () => {
      const res = await fetch(
        `${proxy.url}/v1/chat/completions?model=gpt-4o-mini`,
        {
          method: "POST",
          headers: {
            "x-api-key": familyKey,
            "content-type": "application/json",
          },
          body: '{"model":"gpt-4o","messages":[]}',
        },
      );
      assert.equal(res.status, 400);
      assert.equal((await res.json()).error.type, "bad_request");
      assert.equal(upstream.requests.length, 0);
    },
  );

  await t.step("the same model named twice is not ambiguous", async () => {
    const res = await post(
      "/v1/chat/completions",
      '{"model":"gpt-4o","messages":[],"model":"gpt-4o"}',
    );
    assert.equal(res.status, 200, res.text);
  });

  await t.step(
    "a model after 70 KB of padding is read, allowed and logged",
    async () => {
      const res = await post(
        "/v1/chat/completions",
        `{"messages":[],"pad":"${PAD}","model":"gpt-4o"}`,
      );
      assert.equal(res.status, 200, res.text);
      assert.ok(upstream.requests.at(-1)!.bodyLength > 70 * 1024);
      assert.equal(await loggedModel(db, res.id), "gpt-4o");
    },
  );

  await t.step(
    "models named in the path or query that are allowed pass",
    async () => {
      const before = upstream.requests.length;
      const query = await post(
        "/v1/chat/completions?model=gpt-4o",
        '{"model":"gpt-4o","messages":[]}',
      );
      assert.equal(query.status, 200, query.text);
      // gpt-4o is served on Chat Completions: the Gemini request is translated.
      const gemini = await post(
        "/v1beta/models/gpt-4o:generateContent",
        '{"contents":[]}',
      );
      assert.equal(gemini.status, 200, gemini.text);
      assert.equal(upstream.requests.length, before + 2);
      assert.equal(
        upstream.requests.at(-1)!.path,
        "/flow-llm-proxy/v1/chat/completions",
      );
    },
  );
});

Deno.test("the request log records the last top-level model, as the upstream reads it", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "flow-proxy-test-" });
  const db = `${dir}/flow-proxy.db`;
  await using stack = await startStack({
    dir,
    args: ["--num-workers", "1", "--db", db],
    // Flow answers with the model's dated name: the log must keep the one asked for.
    behave: () => ({
      kind: "respond",
      respond: () =>
        Response.json({
          object: "chat.completion",
          model: "gpt-4o-mini-2024-07-18",
          choices: [],
          usage: { prompt_tokens: 1, completion_tokens: 1 },
        }),
    }),
  });
  const id = crypto.randomUUID();
  const res = await fetch(`${stack.proxy.url}/v1/chat/completions`, {
    method: "POST",
    // Not labelled JSON: the upstream parses it as JSON all the same.
    headers: { "content-type": "text/plain", "x-request-id": id },
    body: `{"messages":[],"pad":"${PAD}","\\u006dodel":"gpt-4o-mini"}`,
  });
  assert.equal(res.status, 200);
  await res.body?.cancel();
  assert.equal(await loggedModel(db, id), "gpt-4o-mini");
});
