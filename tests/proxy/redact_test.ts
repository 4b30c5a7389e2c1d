import assert from "node:assert/strict";
import { signFlowToken } from "../../src/upstream/jwt.ts";
import { TokenRedactor } from "../../src/proxy/redact.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

async function tokens(n: number): Promise<string[]> {
  return await Promise.all(
    Array.from({ length: n }, (_, i) =>
      signFlowToken(
        {
          name: `c${i}`,
          clientId: `client-${i}`,
          clientSecret: `secret-${i}-${crypto.randomUUID()}`,
          tenant: "tenant",
        } as Parameters<typeof signFlowToken>[0],
      )),
  );
}

/** Every part of `token` that must not reach a client. */
function parts(token: string): string[] {
  const [, payload, signature] = token.split(".");
  return [token, payload, signature];
}

function assertClean(text: string, all: string[]): void {
  for (const token of all) {
    for (const part of parts(token)) {
      assert.ok(!text.includes(part), `${part} left in ${text}`);
    }
  }
}

/** Feeds `text` to a stream redactor cut at `cuts`, and joins what comes out. */
function streamed(redactor: TokenRedactor, text: string, cuts: number[]) {
  const bytes = encoder.encode(text);
  const stream = redactor.stream();
  const out: Uint8Array[] = [];
  let at = 0;
  for (const cut of [...cuts, bytes.length]) {
    out.push(stream.push(bytes.slice(at, cut)));
    at = cut;
  }
  const rest = stream.flush();
  if (rest) out.push(rest);
  return {
    chunks: out.map((c) => decoder.decode(c)),
    text: decoder.decode(concat(out)),
  };
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

Deno.test("TokenRedactor masks a token, its payload and its signature in a header value", async (t) => {
  const [token] = await tokens(1);
  const r = new TokenRedactor([`Bearer ${token}`]);
  const [, payload, signature] = token.split(".");
  for (
    const value of [
      `Bearer ${token}`,
      `payload=${payload}; sig=${signature}`,
      `${token},${token}`,
    ]
  ) {
    await t.step(value.slice(0, 20), () => {
      const out = r.header(value);
      assertClean(out, [token]);
      assert.equal(out.length, value.length, "same length");
      assert.match(out, /\[redacted\]\*+/);
    });
  }
  await t.step("an ordinary value is returned as it is", () => {
    const value = "eyJ is how base64 of JSON starts; key=value";
    assert.equal(r.header(value), value);
  });
});

Deno.test("TokenRedactor.whole masks every credential's token in a body, and leaves other bytes alone", async () => {
  const all = await tokens(3);
  const r = new TokenRedactor(all);
  const body = JSON.stringify({
    headers: { authorization: `Bearer ${all[0]}` },
    second: all[1],
    payloadOnly: all[2].split(".")[1],
    signatureOnly: all[2].split(".")[2],
    text: "Jokes about JSON, eyJ and Java",
  });
  const out = decoder.decode(r.whole(encoder.encode(body)));
  assertClean(out, all);
  assert.equal(out.length, body.length);
  const parsed = JSON.parse(out);
  assert.equal(parsed.text, "Jokes about JSON, eyJ and Java");
  assert.match(parsed.headers.authorization, /^Bearer \[redacted\]\*+$/);
});

Deno.test("TokenRedactor.whole returns the same bytes when there is nothing to mask", async () => {
  const r = new TokenRedactor(await tokens(2));
  const bytes = encoder.encode(
    '{"choices":[{"message":{"content":"eyJhbGciOiJIUzI1NiJ9 is a JWT header, eyJjbGllbnR is not a token"}}]}',
  );
  assert.equal(r.whole(bytes), bytes);
});

Deno.test("StreamRedactor finds a token split across chunks at every offset", async () => {
  const all = await tokens(2);
  const r = new TokenRedactor(all);
  const text = `data: {"echo":"Bearer ${all[1]}"}\n\ndata: {"sig":"${
    all[0].split(".")[2]
  }"}\n\n`;
  for (let cut = 1; cut < text.length; cut++) {
    const out = streamed(r, text, [cut]);
    assertClean(out.text, all);
    assert.equal(out.text.length, text.length, `cut at ${cut}`);
    assert.ok(
      !out.text.includes(`${all[1].split(".")[0]}.`),
      `the whole token is masked, header too, cut at ${cut}`,
    );
  }
  const three = streamed(r, text, [30, 60, 90]);
  assertClean(three.text, all);
});

Deno.test("StreamRedactor passes a chunk that cannot begin a token on whole", async () => {
  const r = new TokenRedactor(await tokens(1));
  const out = streamed(r, 'data: {"a":1}\n\ndata: {"b":"key"}\n\n', [15]);
  assert.deepEqual(out.chunks, ['data: {"a":1}\n\n', 'data: {"b":"key"}\n\n']);
});

Deno.test("StreamRedactor holds back only a tail that may begin a token", async () => {
  const [token] = await tokens(1);
  const r = new TokenRedactor([token]);
  const stream = r.stream();
  const head = token.slice(0, 20);
  const first = decoder.decode(stream.push(encoder.encode(`say ${head}`)));
  assert.equal(first, "say ", "the token's beginning waits for the next chunk");
  const rest = decoder.decode(
    stream.push(encoder.encode(`${token.slice(20)} done.`)),
  );
  assertClean(first + rest, [token]);
  assert.ok(rest.endsWith(" done."), rest);
  assert.equal(stream.flush(), null);
});

Deno.test("TokenRedactor without tokens finds nothing", () => {
  const r = new TokenRedactor([]);
  assert.equal(r.empty, true);
  const bytes = encoder.encode("eyJjbGllbnRJZCI6");
  assert.equal(r.whole(bytes), bytes);
});
