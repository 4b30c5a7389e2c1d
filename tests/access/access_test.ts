import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type AccessOptions,
  type AccessResult,
  createAccessControl,
  mustRefuseToStart,
} from "../../src/access/access.ts";
import { KeyVerifier } from "../../src/access/client_keys.ts";
import { openKeyStore } from "../../src/access/key_store.ts";
import { parseCidrs } from "../../src/base/ip_filter.ts";
import { errorResponse } from "../../src/base/api_errors.ts";
import {
  LIMITS_BYTE_LENGTH,
  RateLimiter,
} from "../../src/access/rate_limit.ts";

const T0 = Date.UTC(2026, 10, 22, 12, 0, 0);
const V4 = {
  remoteAddr: {
    transport: "tcp",
    hostname: "127.0.0.1",
    port: 50000,
  } as Deno.NetAddr,
};

interface Fixture {
  keys: Record<
    | "full"
    | "limited"
    | "gptOnly"
    | "revoked"
    | "expired"
    | "defaulted"
    | "unlimited",
    string
  >;
  verifier: KeyVerifier;
}

/** A database with one key of each kind, loaded into a verifier; the database is gone afterwards. */
async function fixture(): Promise<Fixture> {
  const dir = await Deno.makeTempDir({ prefix: "flow-proxy-access-" });
  try {
    using store = openKeyStore(join(dir, "keys.db"), { now: () => T0 });
    const keys = {
      full: store.create({ name: "full" }).key,
      limited: store.create({ name: "limited", rpm: 60, burst: 2 }).key,
      gptOnly:
        store.create({ name: "gpt-only", models: ["gpt-4o", "anthropic.*"] })
          .key,
      revoked: store.create({ name: "gone" }).key,
      expired: store.create({ name: "old", expiresAt: T0 + 1000 }).key,
      defaulted: store.create({ name: "defaulted" }).key,
      unlimited: store.create({ name: "unlimited", rpm: 0 }).key,
    };
    store.revoke("gone");
    return { keys, verifier: new KeyVerifier(store.snapshot()) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const FIXTURE = await fixture();
const ALL_KEYS = Object.values(FIXTURE.keys);

function limiter(): RateLimiter {
  return new RateLimiter({
    buffer: new SharedArrayBuffer(LIMITS_BYTE_LENGTH),
    byteOffset: 0,
    byteLength: LIMITS_BYTE_LENGTH,
  });
}

function access(overrides: Partial<AccessOptions> = {}) {
  return createAccessControl({
    keys: FIXTURE.verifier,
    requireKey: false,
    limiter: limiter(),
    defaultRpm: 0,
    defaultBurst: 0,
    ipFilter: null,
    now: () => T0 + 2000,
    ...overrides,
  });
}

function request(
  headers: HeadersInit = {},
  path = "/v1/chat/completions",
  method = "POST",
): Request {
  return new Request(`http://127.0.0.1:8899${path}`, { method, headers });
}

function bearer(key: string): HeadersInit {
  return { authorization: `Bearer ${key}` };
}

/**
 * A refusal as the handler answers it: the error in the family's shape with
 * the refusal's headers (src/proxy/ renders it the same way).
 */
function rendered(result: AccessResult, anthropic = false): Response {
  if (result.ok) throw new Error("expected a refusal");
  return errorResponse(
    anthropic ? "anthropic" : "openai",
    result.type,
    result.message,
    result.headers,
  );
}

/** Asserts a refusal, its status, error type, shape and reason; the body never carries a key. */
async function assertRefused(
  result: AccessResult,
  expected: {
    status: number;
    type: string;
    reason: string;
    client?: string | null;
    anthropic?: boolean;
  },
): Promise<Record<string, unknown>> {
  assert.equal(result.ok, false, "expected a refusal");
  if (result.ok) throw new Error("unreachable");
  const response = rendered(result, expected.anthropic);
  assert.equal(response.status, expected.status);
  assert.equal(result.reason, expected.reason);
  assert.equal(result.client, expected.client ?? null);
  assert.equal(response.headers.get("content-type"), "application/json");
  const text = await response.text();
  const headerText = JSON.stringify([...response.headers]);
  for (const key of ALL_KEYS) {
    assert.ok(!text.includes(key.slice(4)), "a key leaked into the body");
    assert.ok(!headerText.includes(key.slice(4)), "a key leaked into a header");
  }
  const body = JSON.parse(text);
  if (expected.anthropic) {
    assert.equal(body.type, "error");
    assert.equal(body.error.type, expected.type);
  } else {
    assert.equal(body.error.type, expected.type);
    assert.equal(body.error.code, expected.type);
  }
  return body;
}

function assertAllowed(result: AccessResult, client: string | null): void {
  allowedHeaders(result, client);
}

/** Asserts the request passed as `client`; returns the headers to add. */
function allowedHeaders(
  result: AccessResult,
  client: string | null,
): [string, string][] {
  assert.equal(result.ok, true, result.ok ? "" : `refused: ${result.reason}`);
  if (!result.ok) throw new Error("unreachable");
  assert.equal(result.client, client);
  return result.headers;
}

Deno.test("createAccessControl() lets everyone in while no key exists", async (t) => {
  const check = access({ keys: new KeyVerifier() });
  await t.step(
    "no key",
    () => assertAllowed(check(request(), V4, "gpt-4o"), null),
  );
  await t.step("any presented key is ignored", () => {
    assertAllowed(
      check(
        request({ authorization: "Basic abc", "x-api-key": "sk-ant-x" }),
        V4,
        null,
      ),
      null,
    );
  });
  await t.step("same without a database", () => {
    assertAllowed(access({ keys: null })(request(), V4, "gpt-4o"), null);
  });
});

Deno.test("createAccessControl() accepts a valid key in either header", async (t) => {
  const check = access();
  await t.step(
    "Authorization: Bearer",
    () =>
      assertAllowed(check(request(bearer(FIXTURE.keys.full)), V4, "x"), "full"),
  );
  await t.step("lower-case scheme", () => {
    assertAllowed(
      check(request({ authorization: `bearer ${FIXTURE.keys.full}` }), V4, "x"),
      "full",
    );
  });
  await t.step("x-api-key", () => {
    assertAllowed(
      check(
        request({ "x-api-key": FIXTURE.keys.full }, "/v1/messages"),
        V4,
        "x",
      ),
      "full",
    );
  });
  await t.step("both headers with the same key", () => {
    const headers = {
      ...bearer(FIXTURE.keys.full),
      "x-api-key": FIXTURE.keys.full,
    };
    assertAllowed(check(request(headers), V4, "x"), "full");
  });
  await t.step("no x-ratelimit headers without a limit", () => {
    assert.deepEqual(
      allowedHeaders(
        check(request(bearer(FIXTURE.keys.full)), V4, "x"),
        "full",
      ),
      [],
    );
  });
});

Deno.test("createAccessControl() refuses missing, wrong, revoked and expired keys with 401", async (t) => {
  const check = access();
  const unauthorized = { status: 401, type: "unauthorized" };
  await t.step("no key", async () => {
    const result = check(request(), V4, "gpt-4o");
    const body = await assertRefused(result, {
      ...unauthorized,
      reason: "missing_key",
    });
    assert.match(
      String((body.error as { message: string }).message),
      /Missing API key/,
    );
    assert.equal(
      rendered(result).headers.get("www-authenticate"),
      'Bearer realm="flow-proxy"',
    );
  });
  await t.step("no key, Anthropic shape on /v1/messages", async () => {
    await assertRefused(check(request({}, "/v1/messages"), V4, "x"), {
      ...unauthorized,
      reason: "missing_key",
      anthropic: true,
    });
  });
  await t.step("wrong key", async () => {
    const wrong = FIXTURE.keys.full.slice(0, -1) +
      (FIXTURE.keys.full.endsWith("A") ? "B" : "A");
    const body = await assertRefused(check(request(bearer(wrong)), V4, "x"), {
      ...unauthorized,
      reason: "unknown_key",
    });
    assert.equal(
      (body.error as { message: string }).message,
      "Invalid, revoked or expired API key",
    );
  });
  await t.step("revoked key", async () => {
    await assertRefused(check(request(bearer(FIXTURE.keys.revoked)), V4, "x"), {
      ...unauthorized,
      reason: "revoked_key",
      client: "gone",
    });
  });
  await t.step("expired key", async () => {
    await assertRefused(
      check(
        request({ "x-api-key": FIXTURE.keys.expired }, "/v1/messages"),
        V4,
        "x",
      ),
      {
        ...unauthorized,
        reason: "expired_key",
        client: "old",
        anthropic: true,
      },
    );
  });
  await t.step("the expired key worked before its expiry", () => {
    assertAllowed(
      access({ now: () => T0 })(request(bearer(FIXTURE.keys.expired)), V4, "x"),
      "old",
    );
  });
  await t.step("--require-key with no key at all", async () => {
    await assertRefused(
      access({ keys: new KeyVerifier(), requireKey: true })(
        request(),
        V4,
        null,
      ),
      {
        ...unauthorized,
        reason: "missing_key",
      },
    );
    await assertRefused(
      access({ keys: null, requireKey: true })(
        request(bearer(FIXTURE.keys.full)),
        V4,
        null,
      ),
      { ...unauthorized, reason: "unknown_key" },
    );
  });
});

Deno.test("createAccessControl() refuses malformed and conflicting key headers with 401", async (t) => {
  const check = access();
  const cases: [string, HeadersInit, string][] = [
    [
      "Basic scheme",
      { authorization: `Basic ${btoa("user:pass")}` },
      "malformed_key",
    ],
    ["Bearer without a key", { authorization: "Bearer" }, "malformed_key"],
    [
      "key with a space",
      { authorization: `Bearer ${FIXTURE.keys.full} extra` },
      "malformed_key",
    ],
    [
      "control character",
      { authorization: `Bearer ${FIXTURE.keys.full}\x01` },
      "malformed_key",
    ],
    ["non-ASCII", { "x-api-key": `${FIXTURE.keys.full}é` }, "malformed_key"],
    [
      "oversized Authorization",
      { authorization: `Bearer ${"a".repeat(600)}` },
      "malformed_key",
    ],
    ["oversized x-api-key", { "x-api-key": "a".repeat(513) }, "malformed_key"],
    ["two x-api-key headers", [["x-api-key", FIXTURE.keys.full], [
      "x-api-key",
      FIXTURE.keys.full,
    ]], "malformed_key"],
    [
      "different keys in both headers",
      { ...bearer(FIXTURE.keys.full), "x-api-key": FIXTURE.keys.limited },
      "conflicting_keys",
    ],
    ["valid Bearer with a wrong x-api-key", {
      ...bearer(FIXTURE.keys.full),
      "x-api-key": "nope",
    }, "conflicting_keys"],
  ];
  for (const [label, headers, reason] of cases) {
    await t.step(label, async () => {
      await assertRefused(check(request(headers), V4, "x"), {
        status: 401,
        type: "unauthorized",
        reason,
      });
    });
  }
});

Deno.test("createAccessControl() enforces a key's model allowlist with 403", async (t) => {
  const check = access();
  const key = bearer(FIXTURE.keys.gptOnly);
  await t.step(
    "listed model",
    () => assertAllowed(check(request(key), V4, "gpt-4o"), "gpt-only"),
  );
  await t.step(
    "wildcard",
    () =>
      assertAllowed(
        check(request(key), V4, "anthropic.claude-4-5-sonnet"),
        "gpt-only",
      ),
  );
  await t.step("other model", async () => {
    const body = await assertRefused(
      check(request(key), V4, "gemini-2.5-pro"),
      {
        status: 403,
        type: "forbidden",
        reason: "model_not_allowed",
        client: "gpt-only",
      },
    );
    assert.match(
      String((body.error as { message: string }).message),
      /may not use model "gemini-2.5-pro"/,
    );
  });
  await t.step("other model, Anthropic shape", async () => {
    await assertRefused(
      check(
        request({ "x-api-key": FIXTURE.keys.gptOnly }, "/v1/messages"),
        V4,
        "claude-x",
      ),
      {
        status: 403,
        type: "forbidden",
        reason: "model_not_allowed",
        client: "gpt-only",
        anthropic: true,
      },
    );
  });
  await t.step("a POST naming no model", async () => {
    await assertRefused(check(request(key, "/v1/files"), V4, null), {
      status: 403,
      type: "forbidden",
      reason: "model_missing",
      client: "gpt-only",
    });
  });
  await t.step("a GET naming no model (listing models)", () => {
    assertAllowed(
      check(request(key, "/v1/models", "GET"), V4, null),
      "gpt-only",
    );
  });
  await t.step("keys without an allowlist use any model", () => {
    assertAllowed(
      check(request(bearer(FIXTURE.keys.full)), V4, "gemini-2.5-pro"),
      "full",
    );
  });
});

Deno.test("createAccessControl() enforces --allow-ip with 403, IPv4 and IPv6", async (t) => {
  const check = access({
    ipFilter: parseCidrs(["10.0.0.0/8", "2001:db8::/32"]),
  });
  const from = (hostname: string) => ({
    remoteAddr: { transport: "tcp" as const, hostname, port: 1 },
  });
  const key = bearer(FIXTURE.keys.full);
  await t.step(
    "allowed IPv4",
    () => assertAllowed(check(request(key), from("10.1.2.3"), "x"), "full"),
  );
  await t.step(
    "allowed IPv6",
    () => assertAllowed(check(request(key), from("2001:db8::7"), "x"), "full"),
  );
  await t.step(
    "allowed mapped IPv4",
    () =>
      assertAllowed(check(request(key), from("::ffff:10.0.0.9"), "x"), "full"),
  );
  await t.step("other IPv4", async () => {
    await assertRefused(check(request(key), from("192.168.0.1"), "x"), {
      status: 403,
      type: "forbidden",
      reason: "ip_not_allowed",
    });
  });
  await t.step("other IPv6", async () => {
    await assertRefused(check(request(key), from("2001:db9::1"), "x"), {
      status: 403,
      type: "forbidden",
      reason: "ip_not_allowed",
    });
  });
  await t.step("a Unix-socket peer is in no IP range", async () => {
    const unix = {
      remoteAddr: { transport: "unix" as const, path: "/run/flow-proxy.sock" },
    };
    await assertRefused(check(request(key), unix, "x"), {
      status: 403,
      type: "forbidden",
      reason: "ip_not_allowed",
    });
  });
  await t.step("checked before the key, and with no key in use", async () => {
    await assertRefused(check(request(), from("192.168.0.1"), "x"), {
      status: 403,
      type: "forbidden",
      reason: "ip_not_allowed",
    });
    const anonymous = access({
      keys: new KeyVerifier(),
      ipFilter: parseCidrs(["10.0.0.0/8"]),
    });
    await assertRefused(anonymous(request(), from("::1"), "x"), {
      status: 403,
      type: "forbidden",
      reason: "ip_not_allowed",
    });
    assertAllowed(anonymous(request(), from("10.0.0.1"), "x"), null);
  });
});

Deno.test("createAccessControl() rate-limits per key with 429 and x-ratelimit headers", async (t) => {
  let now = T0;
  const used: string[] = [];
  const check = access({
    now: () => now,
    defaultRpm: 120,
    defaultBurst: 3,
    onUse: (name) => used.push(name),
  });
  const key = bearer(FIXTURE.keys.limited);

  await t.step("within the burst, with headers", () => {
    assert.deepEqual(allowedHeaders(check(request(key), V4, "x"), "limited"), [
      ["x-ratelimit-limit", "60"],
      ["x-ratelimit-remaining", "1"],
      ["x-ratelimit-reset", "1"],
    ]);
    assertAllowed(check(request(key), V4, "x"), "limited");
  });
  await t.step("over it: 429 with Retry-After", async () => {
    const result = check(request(key), V4, "x");
    const body = await assertRefused(result, {
      status: 429,
      type: "rate_limited",
      reason: "rate_limited",
      client: "limited",
    });
    assert.match(
      String((body.error as { message: string }).message),
      /60 requests per minute/,
    );
    const headers = rendered(result).headers;
    assert.equal(headers.get("retry-after"), "1");
    assert.equal(headers.get("x-ratelimit-limit"), "60");
    assert.equal(headers.get("x-ratelimit-remaining"), "0");
    assert.equal(headers.get("x-ratelimit-reset"), "2");
  });
  await t.step("refusals before the limiter spend no budget", async () => {
    const strict = access({ now: () => now, defaultRpm: 60, defaultBurst: 1 });
    const gpt = bearer(FIXTURE.keys.gptOnly);
    for (let i = 0; i < 5; i++) {
      await assertRefused(strict(request(gpt), V4, "gemini-2.5-pro"), {
        status: 403,
        type: "forbidden",
        reason: "model_not_allowed",
        client: "gpt-only",
      });
    }
    assertAllowed(strict(request(gpt), V4, "gpt-4o"), "gpt-only");
    assert.equal(strict(request(gpt), V4, "gpt-4o").ok, false);
  });
  await t.step(
    "another key is not affected; the default limit applies to it",
    () => {
      const other = bearer(FIXTURE.keys.defaulted);
      for (let i = 0; i < 3; i++) {
        const headers = allowedHeaders(
          check(request(other), V4, "x"),
          "defaulted",
        );
        assert.deepEqual(headers[0], ["x-ratelimit-limit", "120"]);
      }
      assert.equal(check(request(other), V4, "x").ok, false);
    },
  );
  await t.step("a key with rpm 0 is unlimited despite the default", () => {
    for (let i = 0; i < 10; i++) {
      assert.deepEqual(
        allowedHeaders(
          check(request(bearer(FIXTURE.keys.unlimited)), V4, "x"),
          "unlimited",
        ),
        [],
      );
    }
  });
  await t.step("a second later one more request passes", () => {
    now = T0 + 1000;
    assertAllowed(check(request(key), V4, "x"), "limited");
    assert.equal(check(request(key), V4, "x").ok, false);
  });
  await t.step("onUse saw only the requests let through, by name", () => {
    assert.equal(used.filter((n) => n === "limited").length, 3);
    assert.equal(used.filter((n) => n === "defaulted").length, 3);
    assert.ok(!used.includes("gone"));
    for (const name of used) assert.ok(!name.startsWith("fpk_"));
  });
});

Deno.test("createAccessControl().early() refuses on address and key alone, before any body", async (t) => {
  const check = access({
    ipFilter: parseCidrs(["127.0.0.0/8"]),
    defaultRpm: 60,
    defaultBurst: 1,
  });
  const outsider = {
    remoteAddr: { transport: "tcp" as const, hostname: "203.0.113.5", port: 1 },
  };
  await t.step("refusals", async () => {
    await assertRefused(check.early(request(), outsider)!, {
      status: 403,
      type: "forbidden",
      reason: "ip_not_allowed",
    });
    await assertRefused(check.early(request(), V4)!, {
      status: 401,
      type: "unauthorized",
      reason: "missing_key",
    });
    await assertRefused(
      check.early(request(bearer(FIXTURE.keys.revoked)), V4)!,
      {
        status: 401,
        type: "unauthorized",
        reason: "revoked_key",
        client: "gone",
      },
    );
  });
  await t.step(
    "a valid key passes without spending budget or checking the model",
    () => {
      const gpt = bearer(FIXTURE.keys.gptOnly);
      for (let i = 0; i < 3; i++) {
        assert.equal(
          check.early(request(gpt), V4),
          null,
        );
      }
      assertAllowed(check(request(gpt), V4, "gpt-4o"), "gpt-only");
    },
  );
  await t.step("no enforcement, nothing to refuse", () => {
    assert.equal(
      access({ keys: new KeyVerifier() }).early(request(), V4),
      null,
    );
  });
});

Deno.test("createAccessControl() sees keys loaded into the verifier later", () => {
  const verifier = new KeyVerifier();
  const check = access({ keys: verifier });
  assertAllowed(check(request(), V4, "x"), null);
  verifier.load([{
    id: 1,
    name: "late",
    prefix: "fpk_late00",
    hash: "00".repeat(32),
    createdAt: T0,
    expiresAt: null,
    rpm: null,
    burst: null,
    models: null,
    revokedAt: T0,
    lastUsedAt: null,
  }]);
  // Even a revoked key switches enforcement on: revoking the last key must not open the proxy.
  const result = check(request(), V4, "x");
  assert.equal(!result.ok && result.reason, "missing_key");
});

Deno.test("mustRefuseToStart() refuses a non-loopback host without keys", async (t) => {
  const off = { requireKey: false, allowAnonymous: false };
  await t.step("non-loopback, no key", () => {
    for (const host of ["0.0.0.0", "::", "192.168.1.10", "proxy.example.com"]) {
      const message = mustRefuseToStart(host, 0, off);
      assert.ok(message, host);
      assert.match(
        message,
        new RegExp(`on ${host.replace(/\./g, "\\.")} without client API keys`),
      );
      assert.match(message, /flow-proxy keys create --name NAME/);
      assert.match(message, /--allow-anonymous/);
    }
  });
  await t.step("loopback is fine", () => {
    for (const host of ["127.0.0.1", "::1", "localhost"]) {
      assert.equal(mustRefuseToStart(host, 0, off), null);
    }
  });
  await t.step("a key, --allow-anonymous or --require-key is fine", () => {
    assert.equal(mustRefuseToStart("0.0.0.0", 1, off), null);
    assert.equal(
      mustRefuseToStart("0.0.0.0", 0, { ...off, allowAnonymous: true }),
      null,
    );
    assert.equal(
      mustRefuseToStart("0.0.0.0", 0, { ...off, requireKey: true }),
      null,
    );
  });
});

Deno.test("createAccessControl() verifies a key once when early() already did", () => {
  let verified = 0;
  const counting = {
    get size() {
      return FIXTURE.verifier.size;
    },
    verify(key: string, now: number) {
      verified++;
      return FIXTURE.verifier.verify(key, now);
    },
  } as unknown as KeyVerifier;
  const check = access({ keys: counting });
  const req = request(bearer(FIXTURE.keys.gptOnly));
  assert.equal(check.early(req, V4), null);
  assertAllowed(check(req, V4, "gpt-4o"), "gpt-only");
  assert.equal(verified, 1);
  // A request early() never saw is checked in full.
  assertAllowed(
    check(request(bearer(FIXTURE.keys.gptOnly)), V4, "gpt-4o"),
    "gpt-only",
  );
  assert.equal(verified, 2);
});

Deno.test("createAccessControl() accepts Gemini's x-goog-api-key header and key= query", async (t) => {
  const check = access();
  const path = "/v1beta/models/gemini-2.5-pro:generateContent";
  await t.step("x-goog-api-key", () => {
    assertAllowed(
      check(request({ "x-goog-api-key": FIXTURE.keys.full }, path), V4, "x"),
      "full",
    );
  });
  await t.step("?key=", () => {
    assertAllowed(
      check(request({}, `${path}?alt=sse&key=${FIXTURE.keys.full}`), V4, "x"),
      "full",
    );
  });
  await t.step("the same key in the header and the query", () => {
    assertAllowed(
      check(
        request(
          { "x-goog-api-key": FIXTURE.keys.full },
          `${path}?key=${FIXTURE.keys.full}`,
        ),
        V4,
        "x",
      ),
      "full",
    );
  });
  await t.step("an unknown key in the query is refused", async () => {
    await assertRefused(check(request({}, `${path}?key=nope`), V4, "x"), {
      status: 401,
      type: "unauthorized",
      reason: "unknown_key",
    });
  });
  await t.step("different keys in the header and the query", async () => {
    const result = check(
      request(bearer(FIXTURE.keys.full), `${path}?key=${FIXTURE.keys.limited}`),
      V4,
      "x",
    );
    const body = await assertRefused(result, {
      status: 401,
      type: "unauthorized",
      reason: "conflicting_keys",
    });
    assert.equal(
      (body.error as { message: string }).message,
      "The Authorization header and the key query parameter carry different API keys: send one",
    );
  });
  await t.step("a malformed x-goog-api-key", async () => {
    const result = check(request({ "x-goog-api-key": "a b" }, path), V4, "x");
    const body = await assertRefused(result, {
      status: 401,
      type: "unauthorized",
      reason: "malformed_key",
    });
    assert.equal(
      (body.error as { message: string }).message,
      "Malformed x-goog-api-key header",
    );
  });
});
