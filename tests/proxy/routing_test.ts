import assert from "node:assert/strict";
import { createRouter, type Route } from "../../src/proxy/routing.ts";

const FLOW = "https://flow.ciandt.com/flow-llm-proxy";

function routeOf(upstream: string, url: string): Route {
  return createRouter(new URL(upstream))(new URL(url));
}

Deno.test("createRouter maps reverse-mode requests onto the upstream base", async (t) => {
  const route = createRouter(new URL(FLOW));

  await t.step("path appended to the base path", () => {
    const r = route(new URL("http://127.0.0.1:8899/v1/models"));
    assert.equal(r.target, `${FLOW}/v1/models`);
    assert.equal(r.forward, false);
    assert.equal(r.path, "/v1/models");
  });

  await t.step("query string kept as is", () => {
    const r = route(
      new URL("http://127.0.0.1:8899/v1/models?limit=2&q=a%20b&x=%2F"),
    );
    assert.equal(r.target, `${FLOW}/v1/models?limit=2&q=a%20b&x=%2F`);
    assert.equal(r.path, "/v1/models");
  });

  await t.step("base path never doubled", () => {
    const r = route(
      new URL("http://localhost:8899/flow-llm-proxy/v1/chat/completions"),
    );
    assert.equal(r.target, `${FLOW}/v1/chat/completions`);
    assert.equal(r.path, "/v1/chat/completions");
  });

  await t.step("the base path alone", () => {
    const r = route(new URL("http://localhost:8899/flow-llm-proxy"));
    assert.equal(r.target, FLOW);
    assert.equal(r.path, "/");
  });

  await t.step("a path that only starts like the base is not the base", () => {
    const r = route(new URL("http://localhost:8899/flow-llm-proxyX/v1"));
    assert.equal(r.target, `${FLOW}/flow-llm-proxyX/v1`);
    assert.equal(r.path, "/flow-llm-proxyX/v1");
  });

  await t.step("root path", () => {
    const r = route(new URL("http://localhost:8899/"));
    assert.equal(r.target, `${FLOW}/`);
    assert.equal(r.path, "/");
  });

  await t.step("reserved paths keep their proxy-relative path", () => {
    assert.equal(
      route(new URL("http://localhost:8899/healthz")).path,
      "/healthz",
    );
    assert.equal(
      route(new URL("http://localhost:8899/flow-llm-proxy/healthz")).path,
      "/healthz",
    );
  });
});

Deno.test("createRouter with a trailing slash or a root base path", async (t) => {
  await t.step("trailing slash on the upstream is not doubled", () => {
    const r = routeOf(`${FLOW}/`, "http://127.0.0.1:1/v1/models");
    assert.equal(r.target, `${FLOW}/v1/models`);
  });
  await t.step("root upstream: the path goes as it is", () => {
    const r = routeOf(
      "http://127.0.0.1:9000",
      "http://127.0.0.1:8899/v1/x?a=1",
    );
    assert.equal(r.target, "http://127.0.0.1:9000/v1/x?a=1");
    assert.equal(r.path, "/v1/x");
  });
  await t.step("root upstream with an explicit slash", () => {
    const r = routeOf("http://127.0.0.1:9000/", "http://127.0.0.1:8899/");
    assert.equal(r.target, "http://127.0.0.1:9000/");
  });
});

Deno.test("createRouter recognizes forward-mode requests for the upstream's host", async (t) => {
  await t.step(
    "http URL on the default port names an https upstream on 443",
    () => {
      const r = routeOf(
        FLOW,
        "http://flow.ciandt.com/flow-llm-proxy/v1/models?x=1",
      );
      assert.equal(r.forward, true);
      assert.equal(
        r.target,
        `${FLOW}/v1/models?x=1`,
        "upstream's scheme, no doubling",
      );
      assert.equal(r.path, "/v1/models");
    },
  );

  await t.step("https URL on 443", () => {
    const r = routeOf(FLOW, "https://flow.ciandt.com/flow-llm-proxy/v1/models");
    assert.equal(r.forward, true);
    assert.equal(r.target, `${FLOW}/v1/models`);
  });

  await t.step("forward path without the base path gets the base", () => {
    const r = routeOf(FLOW, "http://flow.ciandt.com/v1/models");
    assert.equal(r.forward, true);
    assert.equal(r.target, `${FLOW}/v1/models`);
  });

  await t.step("same host, a different port does not match", () => {
    const r = routeOf(FLOW, "http://flow.ciandt.com:8080/flow-llm-proxy/v1/m");
    assert.equal(r.forward, false);
    assert.equal(r.target, `${FLOW}/v1/m`);
  });

  await t.step("same host on the upstream's own port number matches", () => {
    const r = routeOf(FLOW, "http://flow.ciandt.com:443/flow-llm-proxy/v1/m");
    assert.equal(r.forward, true);
    assert.equal(r.target, `${FLOW}/v1/m`);
  });

  await t.step(
    "https upstream on a custom port: the default http port does not match",
    () => {
      const up = "https://flow.example:8443/base";
      assert.equal(routeOf(up, "http://flow.example/base/v1/m").forward, false);
      assert.equal(
        routeOf(up, "http://flow.example:8443/base/v1/m").forward,
        true,
      );
    },
  );

  await t.step("upstream on an explicit port: same port matches", () => {
    const up = "http://127.0.0.1:9000/base";
    assert.equal(routeOf(up, "http://127.0.0.1:9000/base/v1/m").forward, true);
    assert.equal(routeOf(up, "http://127.0.0.1:9001/base/v1/m").forward, false);
    assert.equal(routeOf(up, "http://127.0.0.1/base/v1/m").forward, false);
  });

  await t.step(
    "hostname comparison is case-insensitive (URL lowercases)",
    () => {
      const r = routeOf(
        FLOW,
        "http://FLOW.CiandT.com/flow-llm-proxy/v1/models",
      );
      assert.equal(r.forward, true);
    },
  );

  await t.step("dev host is a different host", () => {
    const r = routeOf(
      FLOW,
      "http://dev.flow.ciandt.com/flow-llm-proxy/v1/models",
    );
    assert.equal(r.forward, false);
  });
});

Deno.test("createRouter never targets another host", async (t) => {
  const upstreams = [
    FLOW,
    "http://127.0.0.1:9000/base",
    "http://127.0.0.1:9000",
  ];
  const urls = [
    "http://evil.example/v1/models",
    "http://evil.example:8080/flow-llm-proxy/v1/models?q=1",
    "https://169.254.169.254/latest/meta-data/",
    "http://flow.ciandt.com.evil.example/flow-llm-proxy/v1/models",
    "http://evil.example//flow.ciandt.com/v1",
    "http://evil.example/%2F%2Fevil2.example/x",
    "http://evil.example/@evil2.example/x",
    "http://127.0.0.1:8899/..%2F..%2Fx",
    "http://localhost:8899/v1/models?next=http://evil.example/",
  ];
  for (const upstream of upstreams) {
    const base = new URL(upstream);
    const prefix = base.origin + base.pathname.replace(/\/+$/, "");
    const route = createRouter(base);
    for (const raw of urls) {
      await t.step(`${upstream} ← ${raw}`, () => {
        const r = route(new URL(raw));
        assert.equal(r.forward, false);
        assert.ok(
          r.target.startsWith(prefix + "/") || r.target === prefix,
          `${r.target} is outside ${prefix}`,
        );
        assert.equal(new URL(r.target).origin, base.origin);
      });
    }
  }
});

Deno.test("createRouter refuses a non-http upstream", () => {
  assert.throws(
    () => createRouter(new URL("ftp://flow.example/x")),
    (err: unknown) =>
      err instanceof TypeError &&
      err.message ===
        'Upstream must be an http(s) URL, got "ftp://flow.example/x"',
  );
});
