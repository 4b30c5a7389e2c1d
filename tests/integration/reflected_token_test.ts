/**
 * An upstream that reflects the request's Authorization header — in a
 * response header, a JSON body, an event stream — never hands the client the
 * Flow JWT or its payload (which carries the clientSecret) or signature.
 */
import assert from "node:assert/strict";
import type { SeenRequest } from "../support/mock_upstream.ts";
import { startStack } from "../support/stack.ts";

const encoder = new TextEncoder();

function echo(req: SeenRequest): Response {
  const auth = req.headers.get("authorization") ?? "";
  const token = auth.replace(/^Bearer /, "");
  const [, payload, signature] = token.split(".");
  const headers = { "x-echo-authorization": auth, "x-echo-payload": payload };
  if (req.path.endsWith("/v1/echo")) {
    return Response.json({
      headers: { authorization: auth },
      parts: { payload, signature },
    }, { headers });
  }
  // An event stream with the token cut in the middle of its payload.
  const event = `data: {"echo":"${auth}","sig":"${signature}"}\n\n`;
  const cut = event.indexOf(payload) + 10;
  const pieces = [event.slice(0, cut), event.slice(cut), "data: [DONE]\n\n"];
  const body = new ReadableStream<Uint8Array>({
    async pull(ctrl) {
      const piece = pieces.shift();
      if (piece === undefined) return ctrl.close();
      ctrl.enqueue(encoder.encode(piece));
      // Separate writes, so the pieces tend to arrive as separate chunks.
      await new Promise((resolve) => setTimeout(resolve, 5));
    },
  }, { highWaterMark: 0 });
  return new Response(body, {
    headers: { ...headers, "content-type": "text/event-stream" },
  });
}

Deno.test("a reflecting upstream never hands the client the JWT, its payload or its signature", async (t) => {
  await using stack = await startStack({
    credentials: 2,
    behave: (req) => ({ kind: "respond", respond: () => echo(req) }),
  });
  const seen: string[] = [];
  async function call(path: string, body: unknown): Promise<string> {
    const res = await fetch(`${stack.proxy.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    assert.equal(res.status, 200);
    const text = await res.text();
    const all = [...res.headers].map(([n, v]) => `${n}: ${v}`).join("\n") +
      "\n" + text;
    seen.push(all);
    return all;
  }

  await t.step("JSON body and headers", async () => {
    const all = await call("/v1/echo", { model: "gpt-4o" });
    assert.match(all, /x-echo-authorization: Bearer \[redacted\]\*+/);
    assert.match(all, /"authorization":"Bearer \[redacted\]\*+"/);
  });

  await t.step("an event stream", async () => {
    const all = await call("/v1/chat/completions", {
      model: "gpt-4o",
      stream: true,
    });
    assert.match(
      all,
      /data: \{"echo":"Bearer \[redacted\]\*+","sig":"\[redacted\]\*+"\}/,
    );
    assert.match(all, /data: \[DONE\]\n\n$/);
  });

  // Both credentials served (round-robin), and no part of either got out.
  const requests = stack.upstream.requests;
  assert.ok(requests.length >= 2);
  for (const r of requests) {
    const token = r.headers.get("authorization")!.replace(/^Bearer /, "");
    for (const part of [token, ...token.split(".").slice(1)]) {
      for (const text of seen) assert.ok(!text.includes(part), part);
    }
  }
});
