import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type AdminApiOptions,
  createAdminApi,
} from "../../src/admin/admin_api.ts";
import { ADMIN_PREFIX, isAdminPath } from "../../src/base/reserved_paths.ts";
import { KeyVerifier } from "../../src/access/client_keys.ts";
import { openKeyStore } from "../../src/access/key_store.ts";
import { usageSummary } from "../../src/request_log/sqlite_store.ts";
import { VERSION } from "../../src/version.ts";

const T0 = Date.UTC(2026, 10, 22, 12, 0, 0);
const TOKEN = "admin-token-0123456789abcdef";
const BASE = "http://127.0.0.1:8899";

async function withStore(
  fn: (store: ReturnType<typeof openKeyStore>, path: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "flow-proxy-admin-" });
  const path = join(dir, "flow-proxy.db");
  const store = openKeyStore(path, { now: () => T0 });
  try {
    await fn(store, path);
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

function api(overrides: Partial<AdminApiOptions>) {
  return createAdminApi({
    token: TOKEN,
    keys: null,
    status: () => ({
      workersReady: 2,
      workersExpected: 2,
      credentials: [{ name: "primary", state: "ok" }, {
        name: "backup",
        state: "failed",
      }],
    }),
    startedAt: T0,
    now: () => T0 + 90_500,
    ...overrides,
  });
}

function call(
  handler: (req: Request) => Promise<Response>,
  route: string,
  init: RequestInit & { token?: string | null } = {},
): Promise<Response> {
  const headers = new Headers(init.headers);
  const token = init.token === undefined ? TOKEN : init.token;
  if (token !== null) headers.set("authorization", `Bearer ${token}`);
  return handler(
    new Request(`${BASE}${ADMIN_PREFIX}${route}`, { ...init, headers }),
  );
}

async function errorOf(
  response: Response,
): Promise<{ type: string; message: string }> {
  const body = await response.json();
  assert.equal(body.error.code, body.error.type);
  return body.error;
}

Deno.test("isAdminPath() matches the reserved prefix only", () => {
  assert.equal(isAdminPath("/_flow-proxy/admin/status"), true);
  assert.equal(isAdminPath("/_flow-proxy/admin"), true);
  assert.equal(isAdminPath("/v1/_flow-proxy/admin/status"), false);
  assert.equal(isAdminPath("/_flow-proxy/administrator"), false);
});

Deno.test("createAdminApi() without a token answers 404 to everything", async () => {
  const handler = api({ token: null });
  for (const route of ["status", "keys", "usage", "nothing"]) {
    const response = await call(handler, route);
    assert.equal(response.status, 404, route);
    assert.equal((await errorOf(response)).type, "not_found");
  }
});

Deno.test("createAdminApi() answers 404 to other reserved paths, token or not", async () => {
  const handler = api({});
  for (const token of [TOKEN, null]) {
    const headers: HeadersInit = token
      ? { authorization: `Bearer ${token}` }
      : {};
    const response = await handler(
      new Request(`${BASE}/_flow-proxy/other`, { headers }),
    );
    assert.equal(response.status, 404);
    await response.body?.cancel();
  }
});

Deno.test("createAdminApi() refuses requests without the admin token", async (t) => {
  await withStore(async (store) => {
    const clientKey = store.create({ name: "client" }).key;
    const handler = api({ keys: store });
    const refused = async (response: Response) => {
      assert.equal(response.status, 401);
      assert.equal(
        response.headers.get("www-authenticate"),
        'Bearer realm="flow-proxy admin"',
      );
      const error = await errorOf(response);
      assert.equal(error.type, "unauthorized");
      assert.ok(!JSON.stringify(error).includes(TOKEN));
    };
    await t.step(
      "no token",
      async () => await refused(await call(handler, "status", { token: null })),
    );
    await t.step(
      "wrong token",
      async () =>
        await refused(await call(handler, "keys", { token: TOKEN + "x" })),
    );
    await t.step("a prefix of the token", async () => {
      await refused(await call(handler, "keys", { token: TOKEN.slice(0, 8) }));
    });
    await t.step(
      "a client key",
      async () =>
        await refused(await call(handler, "keys", { token: clientKey })),
    );
    await t.step("the token in x-api-key", async () => {
      await refused(
        await call(handler, "keys", {
          token: null,
          headers: { "x-api-key": TOKEN },
        }),
      );
    });
    await t.step("the token with another scheme", async () => {
      await refused(
        await call(handler, "keys", {
          token: null,
          headers: { authorization: `Basic ${TOKEN}` },
        }),
      );
    });
    await t.step("nothing was created by refused requests", async () => {
      await refused(
        await call(handler, "keys", {
          token: "wrong-token-0123456789",
          method: "POST",
          body: '{"name":"x"}',
        }),
      );
      assert.deepEqual(store.list().map((k) => k.name), ["client"]);
    });
  });
});

Deno.test("createAdminApi() GET status reports version, uptime, workers and credentials", async () => {
  await withStore(async (store) => {
    store.create({ name: "a" });
    store.create({ name: "b" });
    store.revoke("b");
    const response = await call(api({ keys: store }), "status");
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("cache-control"), "no-store");
    assert.deepEqual(await response.json(), {
      version: VERSION,
      started_at: "2026-11-22T12:00:00.000Z",
      uptime_seconds: 90,
      workers: { ready: 2, expected: 2 },
      credentials: [{ name: "primary", state: "ok" }, {
        name: "backup",
        state: "failed",
      }],
      keys: { total: 2, active: 1 },
    });
  });
});

Deno.test("createAdminApi() creates, lists and revokes keys", async (t) => {
  await withStore(async (store) => {
    let changes = 0;
    const handler = api({ keys: store, onKeysChanged: () => changes++ });
    let key = "";

    await t.step("POST keys returns the key once", async () => {
      const response = await call(handler, "keys", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          name: "ci",
          rpm: 30,
          burst: 5,
          models: ["gpt-4o"],
          expires: "30d",
        }),
      });
      assert.equal(response.status, 201);
      assert.equal(response.headers.get("cache-control"), "no-store");
      const body = await response.json();
      key = body.key;
      assert.match(key, /^fpk_[A-Za-z0-9_-]{43}$/);
      assert.equal(body.name, "ci");
      assert.equal(body.status, "active");
      assert.equal(body.rpm, 30);
      assert.equal(body.burst, 5);
      assert.deepEqual(body.models, ["gpt-4o"]);
      assert.equal(
        body.expires_at,
        new Date(T0 + 90_500 + 30 * 86_400_000).toISOString(),
      );
      assert.equal(changes, 1);
      const verdict = new KeyVerifier(store.snapshot()).verify(key, T0);
      assert.equal(verdict.ok && verdict.record.name, "ci");
    });

    await t.step("models as a comma-separated string", async () => {
      const response = await call(handler, "keys", {
        method: "POST",
        body: JSON.stringify({ name: "two", models: "gpt-4o, gemini-2.5-pro" }),
      });
      assert.equal(response.status, 201);
      assert.deepEqual((await response.json()).models, [
        "gpt-4o",
        "gemini-2.5-pro",
      ]);
    });

    await t.step("GET keys lists without keys or hashes", async () => {
      const response = await call(handler, "keys");
      assert.equal(response.status, 200);
      const text = await response.text();
      assert.ok(!text.includes(key.slice(10)), "the key leaked");
      assert.ok(!text.includes('"hash"'));
      const body = JSON.parse(text);
      assert.equal(body.object, "list");
      assert.deepEqual(body.data.map((k: { name: string }) => k.name), [
        "ci",
        "two",
      ]);
      assert.equal(body.data[0].prefix, key.slice(0, 10));
    });

    await t.step("bad requests are 400 with a reason", async () => {
      const cases: [string, string][] = [
        ['{"name":"ci"}', 'A key named "ci" already exists'],
        ['{"name":"bad name"}', 'Invalid key name "bad name"'],
        ['{"name":"x","rpm":"ten"}', '"rpm" must be a whole number'],
        ['{"name":"x","rpm":-5}', "Invalid rpm -5"],
        ['{"name":"x","expires":"yesterday"}', 'Invalid expiry "yesterday"'],
        ['{"name":"x","expire":"30d"}', 'Unknown field "expire"'],
        ["[1,2]", "Request body must be a JSON object"],
        ["{oops", "Request body must be a JSON object"],
        ["x".repeat(70_000), "Request body is larger than 65536 bytes"],
      ];
      for (const [body, message] of cases) {
        const response = await call(handler, "keys", { method: "POST", body });
        assert.equal(response.status, 400, body.slice(0, 40));
        const error = await errorOf(response);
        assert.equal(error.type, "bad_request");
        assert.ok(
          error.message.includes(message),
          `${error.message} should include ${message}`,
        );
      }
      assert.equal(store.count(), 2);
    });

    await t.step("DELETE keys/<name> revokes", async () => {
      const response = await call(handler, "keys/ci", { method: "DELETE" });
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), { name: "ci", revoked: true });
      const verdict = new KeyVerifier(store.snapshot()).verify(key, T0);
      assert.equal(!verdict.ok && verdict.reason, "revoked_key");
      assert.equal(changes, 3);
    });

    await t.step("DELETE of an unknown or revoked key is 404", async () => {
      for (
        const [route, status] of [["keys/ci", 404], ["keys/nobody", 404], [
          "keys/%E0%A4%A",
          400,
        ]] as const
      ) {
        const response = await call(handler, route, { method: "DELETE" });
        assert.equal(response.status, status, route);
        await response.body?.cancel();
      }
      assert.equal(changes, 3);
    });
  });
});

Deno.test("createAdminApi() answers unknown routes and methods in the OpenAI error shape", async (t) => {
  await withStore(async (store) => {
    const handler = api({ keys: store });
    await t.step("unknown route", async () => {
      const response = await call(handler, "nothing");
      assert.equal(response.status, 404);
      assert.equal((await errorOf(response)).type, "not_found");
    });
    await t.step("wrong method", async () => {
      for (
        const [route, method, allow] of [["status", "POST", "GET"], [
          "keys",
          "PUT",
          "GET, POST",
        ]]
      ) {
        const response = await call(handler, route, { method });
        assert.equal(response.status, 405);
        assert.equal(response.headers.get("allow"), allow);
        assert.equal((await errorOf(response)).type, "method_not_allowed");
      }
    });
    await t.step("keys without a database", async () => {
      const response = await call(api({ keys: null }), "keys");
      assert.equal(response.status, 404);
      assert.match((await errorOf(response)).message, /--no-db/);
    });
  });
});

Deno.test("createAdminApi() GET usage summarises from a start time", async (t) => {
  const seen: number[] = [];
  const handler = api({
    usage: (since) => {
      seen.push(since);
      return { total: { requests: 7 } };
    },
  });
  const now = T0 + 90_500;
  await t.step("default: the last 24 hours", async () => {
    const response = await call(handler, "usage");
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { total: { requests: 7 } });
    assert.equal(seen.at(-1), now - 86_400_000);
  });
  await t.step("a duration, a date, epoch ms", async () => {
    for (
      const [since, expected] of [
        ["7d", now - 7 * 86_400_000],
        ["2026-11-01", Date.UTC(2026, 10, 1)],
        [String(T0), T0],
      ] as const
    ) {
      const response = await call(handler, `usage?since=${since}`);
      assert.equal(response.status, 200, since);
      await response.body?.cancel();
      assert.equal(seen.at(-1), expected);
    }
  });
  await t.step("a bad value", async () => {
    const response = await call(handler, "usage?since=last-week");
    assert.equal(response.status, 400);
    assert.match(
      (await errorOf(response)).message,
      /Invalid "since" value "last-week"/,
    );
  });
  await t.step(
    "the time grammar of usage --since: zone-less is UTC, no rolled-over dates",
    async () => {
      const response = await call(handler, "usage?since=2026-11-01T08:00");
      assert.equal(response.status, 200);
      await response.body?.cancel();
      assert.equal(seen.at(-1), Date.UTC(2026, 10, 1, 8));
      const missing = await call(handler, "usage?since=2026-02-30");
      assert.equal(missing.status, 400);
      assert.match(
        (await errorOf(missing)).message,
        /Invalid "since" value "2026-02-30"/,
      );
    },
  );
  await t.step("without a request log", async () => {
    const response = await call(api({}), "usage");
    assert.equal(response.status, 404);
    await response.body?.cancel();
  });
  await t.step("from the SQLite request log (usageSummary)", async () => {
    await withStore(async (_store, path) => {
      const response = await call(
        api({ usage: (since) => usageSummary(path, { since }) }),
        "usage?since=1h",
      );
      assert.equal(response.status, 200);
      const body = await response.json();
      assert.equal(body.since, now - 3_600_000);
      assert.equal(body.total.requests, 0);
    });
  });
});

Deno.test("createAdminApi() serves over a real socket", async () => {
  await withStore(async (store) => {
    const handler = api({ keys: store, now: Date.now, startedAt: undefined });
    await using server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      onListen() {},
    }, handler);
    const base = `http://127.0.0.1:${server.addr.port}${ADMIN_PREFIX}`;
    const created = await fetch(`${base}keys`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ name: "wire" }),
    });
    assert.equal(created.status, 201);
    assert.match((await created.json()).key, /^fpk_/);
    const refused = await fetch(`${base}keys`);
    assert.equal(refused.status, 401);
    await refused.body?.cancel();
    const status = await fetch(`${base}status`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    assert.equal((await status.json()).keys.total, 1);
  });
});
