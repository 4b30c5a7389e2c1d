import assert from "node:assert/strict";
import { jwtVerify } from "jose";
import { signAll, signFlowToken } from "../../src/upstream/jwt.ts";
import type { Credential } from "../../src/config/secrets.ts";

const encoder = new TextEncoder();

function credential(overrides: Partial<Credential> = {}): Credential {
  return {
    index: 0,
    name: "primary",
    clientId: "client-abc",
    clientSecret: "s3cret-value-for-hs256-1234567890",
    tenant: "cit",
    agent: "agent-x",
    appToAccess: "llm-api",
    ...overrides,
  };
}

function decodePart(part: string): string {
  const b64 = part.replace(/-/g, "+").replace(/_/g, "/");
  const padded = b64 + "=".repeat((4 - (b64.length % 4)) % 4);
  const binary = atob(padded);
  return new TextDecoder().decode(
    Uint8Array.from(binary, (c) => c.charCodeAt(0)),
  );
}

Deno.test("signFlowToken makes a three-part base64url JWT", async () => {
  const token = await signFlowToken(credential());
  const parts = token.split(".");
  assert.equal(parts.length, 3);
  for (const part of parts) assert.match(part, /^[A-Za-z0-9_-]+$/);
});

Deno.test("signFlowToken header is exactly HS256 / JWT", async () => {
  const token = await signFlowToken(credential());
  const header = decodePart(token.split(".")[0]);
  assert.deepEqual(JSON.parse(header), { alg: "HS256", typ: "JWT" });
  assert.equal(header, '{"alg":"HS256","typ":"JWT"}');
});

Deno.test("signFlowToken payload is exactly clientId, clientSecret, tenant", async () => {
  const c = credential();
  const token = await signFlowToken(c);
  const payload = JSON.parse(decodePart(token.split(".")[1]));
  assert.deepEqual(payload, {
    clientId: c.clientId,
    clientSecret: c.clientSecret,
    tenant: c.tenant,
  });
  for (const claim of ["exp", "iat", "nbf", "agent", "appToAccess", "name"]) {
    assert.ok(!(claim in payload), `unexpected claim ${claim}`);
  }
});

Deno.test("signFlowToken signature verifies with the clientSecret only", async (t) => {
  const c = credential();
  const token = await signFlowToken(c);

  await t.step("verifies with jose and the clientSecret", async () => {
    const { payload, protectedHeader } = await jwtVerify(
      token,
      encoder.encode(c.clientSecret),
      { algorithms: ["HS256"] },
    );
    assert.equal(protectedHeader.alg, "HS256");
    assert.equal(payload.clientId, c.clientId);
    assert.equal(payload.tenant, c.tenant);
  });

  await t.step("fails with another secret", async () => {
    await assert.rejects(
      jwtVerify(token, encoder.encode(c.clientSecret + "x")),
      (err: Error) => err.name === "JWSSignatureVerificationFailed",
    );
  });
});

Deno.test("signFlowToken is deterministic and differs per credential", async () => {
  const a1 = await signFlowToken(credential());
  const a2 = await signFlowToken(credential({ index: 3, name: "other-name" }));
  assert.equal(a1, a2, "name and index are not part of the token");
  const b = await signFlowToken(credential({ tenant: "other" }));
  assert.notEqual(a1, b);
});

Deno.test("signFlowToken keeps non-ASCII values intact", async () => {
  const c = credential({ clientId: "clïent-ü", tenant: "tenânt" });
  const token = await signFlowToken(c);
  const { payload } = await jwtVerify(token, encoder.encode(c.clientSecret));
  assert.equal(payload.clientId, "clïent-ü");
  assert.equal(payload.tenant, "tenânt");
});

Deno.test("signAll signs each credential in order", async () => {
  const creds = [
    credential({ index: 0, clientId: "a", clientSecret: "secret-a-123456" }),
    credential({ index: 1, clientId: "b", clientSecret: "secret-b-123456" }),
  ];
  const { tokens, errors } = await signAll(creds);
  assert.deepEqual(errors, [null, null]);
  assert.equal(tokens.length, 2);
  for (let i = 0; i < creds.length; i++) {
    const { payload } = await jwtVerify(
      tokens[i]!,
      encoder.encode(creds[i].clientSecret),
    );
    assert.equal(payload.clientId, creds[i].clientId);
  }
});

Deno.test("signAll gives null and an error for a token that cannot be made", async () => {
  const good = credential({ index: 0 });
  const bad = credential({ index: 1, clientSecret: "" });
  const { tokens, errors } = await signAll([good, bad]);
  assert.equal(typeof tokens[0], "string");
  assert.equal(errors[0], null);
  assert.equal(tokens[1], null);
  assert.ok(errors[1] instanceof Error);
});
