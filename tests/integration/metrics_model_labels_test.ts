/**
 * The model label table of `/metrics` against a client that names hundreds
 * of junk models: only names the upstream answered with take a label.
 */
import assert from "node:assert/strict";
import { startStack } from "../support/stack.ts";

Deno.test("serve gives a model label only to names the upstream answered with", async () => {
  await using stack = await startStack({
    args: ["--num-workers", "2"],
    behave(req) {
      const model = JSON.parse(req.body || "{}").model ?? "";
      if (model.startsWith("junk-refused-")) {
        // Refused, with the tokens it counted before refusing.
        return {
          kind: "status",
          status: 400,
          body: JSON.stringify({
            error: { message: `Invalid model name ${model}` },
            usage: { prompt_tokens: 5, completion_tokens: 0 },
          }),
        };
      }
      if (model.startsWith("junk-mapped-")) {
        // Answered by the upstream's default model, which it names.
        return {
          kind: "respond",
          respond: () =>
            Response.json({
              object: "chat.completion",
              model: "gpt-4o-mini",
              choices: [],
              usage: { prompt_tokens: 2, completion_tokens: 1 },
            }),
        };
      }
      return undefined;
    },
  });
  const { proxy } = stack;
  const post = async (model: string) => {
    const res = await fetch(`${proxy.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model, messages: [] }),
    });
    await res.body?.cancel();
    return res.status;
  };
  for (let i = 0; i < 300; i++) {
    assert.equal(await post(`junk-refused-${i}`), 400);
  }
  for (let i = 0; i < 100; i++) {
    assert.equal(await post(`junk-mapped-${i}`), 200);
  }
  assert.equal(await post("gpt-4o"), 200);

  const text = await (await fetch(`${proxy.url}/metrics`)).text();
  const labels = new Set(
    [...text.matchAll(/^flow_proxy_tokens_total\{[^}]*model="([^"]*)"/gm)]
      .map((m) => m[1]),
  );
  assert.ok(labels.has("gpt-4o"), [...labels].join(", "));
  assert.ok(labels.has("gpt-4o-mini"));
  assert.ok(
    ![...labels].some((l) => l.startsWith("junk-")),
    [...labels].join(", "),
  );
  assert.match(
    text,
    /flow_proxy_tokens_total\{credential="cred-1",model="gpt-4o",direction="in"\} 7\n/,
  );
  // The refused requests' tokens are still counted, under "other".
  assert.match(
    text,
    /flow_proxy_tokens_total\{credential="cred-1",model="other",direction="in"\} 1500\n/,
  );
});
