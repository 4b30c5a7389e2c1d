import assert from "node:assert/strict";
import {
  mayBeReserved,
  type ReservedOptions,
  type ReservedRequest,
  serveReserved,
} from "../../src/proxy/reserved.ts";

const INFO = {
  remoteAddr: { transport: "tcp", hostname: "10.0.0.7", port: 50000 },
  completed: Promise.resolve(),
} as unknown as Deno.ServeHandlerInfo;

function at(path: string, method = "GET"): ReservedRequest {
  return {
    req: new Request(`http://127.0.0.1:8899${path}`, { method }),
    info: INFO,
    path,
    id: "req-1",
    family: "openai",
  };
}

const HEALTH: ReservedOptions["health"] = () => ({
  healthy: false,
  body: { status: "starting" },
});

Deno.test("mayBeReserved() is true for /healthz, /metrics and the reserved prefix only", () => {
  assert.equal(mayBeReserved("/healthz"), true);
  assert.equal(mayBeReserved("/metrics"), true);
  assert.equal(mayBeReserved("/_flow-proxy/admin/keys"), true);
  assert.equal(mayBeReserved("/v1/chat/completions"), false);
  assert.equal(mayBeReserved("/healthz/x"), false);
});

Deno.test("serveReserved() answers /healthz from the health callback", async () => {
  const res = await serveReserved({ health: HEALTH }, at("/healthz"))!;
  assert.equal(res.status, 503);
  assert.equal(res.headers.get("x-request-id"), "req-1");
  assert.equal(res.headers.get("cache-control"), "no-store");
  assert.deepEqual(await res.json(), { status: "starting" });
});

Deno.test("serveReserved() leaves other methods and paths to the proxy", () => {
  assert.equal(serveReserved({ health: HEALTH }, at("/healthz", "POST")), null);
  assert.equal(serveReserved({ health: HEALTH }, at("/metrics")), null);
  assert.equal(serveReserved({ health: HEALTH }, at("/v1/models")), null);
});

Deno.test("serveReserved() serves /metrics and the admin API, with the request id", async () => {
  const options: ReservedOptions = {
    health: HEALTH,
    metrics: () => "flow_proxy_up 1\n",
    admin: () => Response.json({ admin: true }),
  };
  const metrics = await serveReserved(options, at("/metrics"))!;
  assert.equal(await metrics.text(), "flow_proxy_up 1\n");
  assert.match(metrics.headers.get("content-type")!, /^text\/plain/);
  const admin = await serveReserved(options, at("/_flow-proxy/admin/keys"))!;
  assert.deepEqual(await admin.json(), { admin: true });
  assert.equal(admin.headers.get("x-request-id"), "req-1");
});

Deno.test("serveReserved() answers 404 under the prefix without an admin API", async () => {
  const res = await serveReserved(
    { health: HEALTH },
    at("/_flow-proxy/admin/keys"),
  )!;
  assert.equal(res.status, 404);
  assert.equal((await res.json()).error.type, "not_found");
});

Deno.test("serveReserved() refuses /metrics and the prefix to an address --allow-ip excludes", async () => {
  const seen: string[] = [];
  const options: ReservedOptions = {
    health: HEALTH,
    metrics: () => "",
    admin: () => Response.json({}),
    allowAddress: (address) => {
      seen.push(address);
      return false;
    },
  };
  for (const path of ["/metrics", "/_flow-proxy/admin/keys"]) {
    const res = await serveReserved(options, at(path))!;
    assert.equal(res.status, 403);
    assert.equal(res.headers.get("x-request-id"), "req-1");
  }
  const health = await serveReserved(options, at("/healthz"))!;
  assert.equal(health.status, 503, "/healthz stays open");
  assert.deepEqual(seen, ["10.0.0.7", "10.0.0.7"]);
});
