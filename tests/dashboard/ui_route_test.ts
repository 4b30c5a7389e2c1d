/**
 * The dashboard's route in-process: what it answers for each path, its
 * security and cache headers, gzip and ETags, that `/_flow-proxy/ui` and
 * everything under it never reach the upstream, and that the embedded UI is
 * small and rebuilt byte for byte from ui/src.
 */
import assert from "node:assert/strict";
import { getLogger } from "@logtape/logtape";
import {
  acceptsGzip,
  INDEX_HTML,
  SCRIPT_PATH,
  serveUi,
  STYLE_PATH,
} from "../../src/dashboard/ui_route.ts";
import { CONTENT_SECURITY_POLICY } from "../../src/dashboard/headers.ts";
import { UI_CSS, UI_JS } from "../../src/dashboard/assets.gen.ts";
import { isUiPath } from "../../src/base/reserved_paths.ts";
import { createHandler } from "../../src/proxy/handler.ts";
import { TEST_HANDLER_SETTINGS } from "../support/handler_settings.ts";

const UI = "/_flow-proxy/ui/";

function get(path: string, headers: HeadersInit = {}, method = "GET") {
  return serveUi(
    new Request(`http://127.0.0.1:8899${path}`, { method, headers }),
    path,
  );
}

function assertSecurityHeaders(res: Response): void {
  assert.equal(
    res.headers.get("content-security-policy"),
    CONTENT_SECURITY_POLICY,
  );
  assert.equal(res.headers.get("x-content-type-options"), "nosniff");
  assert.equal(res.headers.get("referrer-policy"), "no-referrer");
  assert.equal(res.headers.get("x-frame-options"), "DENY");
}

async function gzip(bytes: Uint8Array | string): Promise<number> {
  const body = typeof bytes === "string"
    ? new TextEncoder().encode(bytes)
    : bytes;
  return (await new Response(
    new Blob([body as BlobPart]).stream().pipeThrough(
      new CompressionStream("gzip"),
    ),
  ).bytes()).byteLength;
}

Deno.test("the dashboard's CSP forbids inline script, eval, other origins and framing", () => {
  const directives = new Map(
    CONTENT_SECURITY_POLICY.split("; ").map((d) => {
      const [name, ...values] = d.split(" ");
      return [name, values.join(" ")];
    }),
  );
  assert.equal(directives.get("default-src"), "'self'");
  assert.equal(directives.get("script-src"), "'self'");
  assert.equal(directives.get("style-src"), "'self'");
  assert.equal(directives.get("img-src"), "'self' data:");
  assert.equal(directives.get("connect-src"), "'self'");
  assert.equal(directives.get("frame-ancestors"), "'none'");
  assert.equal(directives.get("base-uri"), "'none'");
  assert.equal(directives.get("form-action"), "'self'");
  assert.ok(!CONTENT_SECURITY_POLICY.includes("unsafe"));
});

Deno.test("serveUi() answers the page, revalidated, naming hashed assets and nothing inline", async () => {
  for (const path of [UI, `${UI}index.html`]) {
    const res = await get(path);
    assert.equal(res.status, 200);
    assertSecurityHeaders(res);
    assert.equal(res.headers.get("content-type"), "text/html; charset=utf-8");
    assert.equal(res.headers.get("cache-control"), "no-cache");
    const html = await res.text();
    assert.equal(html, INDEX_HTML);
    assert.ok(html.includes(`<script type="module" src="${SCRIPT_PATH}">`));
    assert.ok(html.includes(`<link rel="stylesheet" href="${STYLE_PATH}">`));
    assert.match(SCRIPT_PATH, /\/assets\/app-[0-9a-f]{16}\.js$/);
    // No inline script, no inline style: the CSP would refuse them.
    assert.equal(html.match(/<script/g)?.length, 1);
    assert.doesNotMatch(html, /<style|\sstyle=|\son\w+=|https?:/);
  }
});

Deno.test("serveUi() answers the assets as immutable, gzipped when accepted, with ETags", async (t) => {
  await t.step("plain", async () => {
    const res = await get(SCRIPT_PATH);
    assert.equal(res.status, 200);
    assertSecurityHeaders(res);
    assert.equal(
      res.headers.get("cache-control"),
      "public, max-age=31536000, immutable",
    );
    assert.match(res.headers.get("content-type")!, /^text\/javascript/);
    assert.equal(res.headers.get("content-encoding"), null);
    assert.equal(await res.text(), UI_JS);
  });
  await t.step("gzip", async () => {
    const res = await get(STYLE_PATH, { "accept-encoding": "br, gzip" });
    assert.equal(res.headers.get("content-encoding"), "gzip");
    assert.equal(res.headers.get("vary"), "accept-encoding");
    const text = await new Response(
      res.body!.pipeThrough(new DecompressionStream("gzip")),
    ).text();
    assert.equal(text, UI_CSS);
  });
  await t.step("a matching ETag is a 304 with no body", async () => {
    const first = await get(SCRIPT_PATH, { "accept-encoding": "gzip" });
    await first.body?.cancel();
    const etag = first.headers.get("etag")!;
    assert.match(etag, /^"[0-9a-f]{16}\.gz"$/);
    const again = await get(SCRIPT_PATH, {
      "accept-encoding": "gzip",
      "if-none-match": etag,
    });
    assert.equal(again.status, 304);
    assert.equal(await again.text(), "");
    // The plain representation has its own tag.
    const plain = await get(SCRIPT_PATH, { "if-none-match": etag });
    assert.equal(plain.status, 200);
    await plain.body?.cancel();
  });
  await t.step("HEAD has the headers and no body", async () => {
    const res = await get(SCRIPT_PATH, {}, "HEAD");
    assert.equal(res.status, 200);
    assert.equal(
      res.headers.get("content-length"),
      String(new TextEncoder().encode(UI_JS).byteLength),
    );
    assert.equal(await res.text(), "");
  });
});

Deno.test("serveUi() redirects /_flow-proxy/ui, and refuses unknown files and other methods", async () => {
  const bare = await get("/_flow-proxy/ui");
  assert.equal(bare.status, 308);
  assert.equal(bare.headers.get("location"), UI);
  await bare.body?.cancel();
  const missing = await get(`${UI}assets/app-0000000000000000.js`);
  assert.equal(missing.status, 404);
  assertSecurityHeaders(missing);
  assert.match(await missing.text(), /No dashboard file/);
  const post = await get(UI, {}, "POST");
  assert.equal(post.status, 405);
  assert.equal(post.headers.get("allow"), "GET, HEAD");
  await post.body?.cancel();
});

Deno.test("acceptsGzip() reads Accept-Encoding, q=0 included", () => {
  assert.equal(acceptsGzip(null), false);
  assert.equal(acceptsGzip("gzip, deflate, br"), true);
  assert.equal(acceptsGzip("br;q=1, gzip;q=0.5"), true);
  assert.equal(acceptsGzip("gzip;q=0"), false);
  assert.equal(acceptsGzip("identity"), false);
  assert.equal(acceptsGzip("*"), true);
});

Deno.test("isUiPath() holds for /_flow-proxy/ui and everything under it only", () => {
  assert.equal(isUiPath("/_flow-proxy/ui"), true);
  assert.equal(isUiPath("/_flow-proxy/ui/"), true);
  assert.equal(isUiPath("/_flow-proxy/ui/assets/x.js"), true);
  assert.equal(isUiPath("/_flow-proxy/uix"), false);
  assert.equal(isUiPath("/ui/"), false);
});

Deno.test("the handler never forwards /_flow-proxy/ui or anything under it, admin API or not", async () => {
  const forwarded: string[] = [];
  for (const admin of [undefined, () => new Response("admin")]) {
    const handler = createHandler({
      ...TEST_HANDLER_SETTINGS,
      balancer: () => {
        throw new Error("The dashboard must not reach the balancer");
      },
      logger: getLogger(["flow-proxy", "test"]),
      health: () => ({ healthy: true, body: {} }),
      admin,
      fetch: ((input: RequestInfo | URL) => {
        forwarded.push(String(input));
        return Promise.resolve(new Response("upstream"));
      }) as typeof fetch,
      connectCheck: null,
    });
    try {
      const info = {
        remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 1 },
        completed: Promise.resolve(),
      } as unknown as Deno.ServeHandlerInfo;
      for (
        const [path, method, status] of [
          ["/_flow-proxy/ui", "GET", 308],
          [UI, "GET", 200],
          [SCRIPT_PATH, "GET", 200],
          [`${UI}nothing/here`, "GET", 404],
          [`${UI}index.html`, "POST", 405],
          [`${UI}x`, "DELETE", 405],
        ] as const
      ) {
        const res = await handler(
          new Request(`http://127.0.0.1:8899${path}`, { method }),
          info,
        );
        assert.equal(res.status, status, `${method} ${path}`);
        assert.ok(res.headers.get("x-request-id"), `${method} ${path}`);
        assert.equal(
          res.headers.get("content-security-policy"),
          CONTENT_SECURITY_POLICY,
        );
        await res.body?.cancel();
      }
    } finally {
      handler.close();
    }
  }
  assert.deepEqual(forwarded, []);
});

Deno.test("the embedded dashboard is under 300 KB gzipped", async () => {
  const total = await gzip(UI_JS) + await gzip(UI_CSS) + await gzip(INDEX_HTML);
  assert.ok(total < 300 * 1024, `${total} bytes gzipped`);
  // And it is the real thing: preact, htm and uPlot are in it.
  assert.ok(UI_JS.length > 20_000);
  assert.ok(UI_CSS.includes(".uplot"));
});

Deno.test("deno task build:ui rebuilds src/dashboard/assets.gen.ts byte for byte", async () => {
  const dir = await Deno.makeTempDir({ prefix: "flow-proxy-ui-test-" });
  try {
    const out = `${dir}/assets.gen.ts`;
    const script = new URL("../../scripts/build_ui.ts", import.meta.url);
    const run = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", script.pathname, "--out", out],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(run.code, 0, new TextDecoder().decode(run.stderr));
    const rebuilt = await Deno.readFile(out);
    const committed = await Deno.readFile(
      new URL("../../src/dashboard/assets.gen.ts", import.meta.url),
    );
    assert.ok(
      rebuilt.byteLength === committed.byteLength &&
        rebuilt.every((b, i) => b === committed[i]),
      "src/dashboard/assets.gen.ts is stale: run `deno task build:ui` and commit it",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a serving thread's module graph holds the dashboard (so deno compile embeds it), imported by the first dashboard request only", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "src/server/worker.ts"],
    cwd: new URL("../../", import.meta.url),
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: {
      specifier: string;
      dependencies?: { specifier: string; isDynamic?: boolean }[];
    }[];
  };
  const edges = info.modules.flatMap((m) =>
    (m.dependencies ?? [])
      .filter((d) => d.specifier.endsWith("/dashboard/ui_route.ts"))
      .map((d) => ({ from: m.specifier, dynamic: d.isDynamic === true }))
  );
  assert.equal(edges.length, 1, JSON.stringify(edges));
  assert.match(edges[0].from, /\/src\/proxy\/reserved\.ts$/);
  assert.equal(edges[0].dynamic, true);
  assert.ok(
    info.modules.some((m) =>
      m.specifier.endsWith("/src/dashboard/assets.gen.ts")
    ),
  );
});
