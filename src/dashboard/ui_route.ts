/**
 * The web dashboard at `/_flow-proxy/ui/`: one HTML page naming two assets
 * whose URLs carry their content hash (so they are cached for good), all
 * embedded in the program from assets.gen.ts (written by `deno task
 * build:ui` from ui/src). Gzip when the client accepts it, ETags and 304s,
 * and the headers of headers.ts on every answer.
 *
 * @module
 */
import { UI_PREFIX } from "../base/reserved_paths.ts";
import { UI_CSS, UI_CSS_HASH, UI_JS, UI_JS_HASH } from "./assets.gen.ts";
import { IMMUTABLE, REVALIDATE, SECURITY_HEADERS } from "./headers.ts";

/** URL of the script, under {@linkcode UI_PREFIX}. */
export const SCRIPT_PATH = `${UI_PREFIX}assets/app-${UI_JS_HASH}.js`;
/** URL of the style sheet, under {@linkcode UI_PREFIX}. */
export const STYLE_PATH = `${UI_PREFIX}assets/app-${UI_CSS_HASH}.css`;

/** The page: no inline script or style, so the CSP can forbid both. */
export const INDEX_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>flow-proxy</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${STYLE_PATH}">
<script type="module" src="${SCRIPT_PATH}"></script>
</head>
<body>
<div id="app"><noscript>The flow-proxy dashboard needs JavaScript.</noscript></div>
</body>
</html>
`;

/** One file the dashboard serves. */
interface Asset {
  body: Uint8Array;
  type: string;
  cache: string;
  etag: string;
  gzip?: Promise<Uint8Array>;
}

const encoder = new TextEncoder();

function asset(text: string, type: string, cache: string, tag: string): Asset {
  return { body: encoder.encode(text), type, cache, etag: `"${tag}"` };
}

const ASSETS = new Map<string, Asset>([
  [
    UI_PREFIX,
    asset(
      INDEX_HTML,
      "text/html; charset=utf-8",
      REVALIDATE,
      `${UI_JS_HASH}.${UI_CSS_HASH}`,
    ),
  ],
  [
    SCRIPT_PATH,
    asset(UI_JS, "text/javascript; charset=utf-8", IMMUTABLE, UI_JS_HASH),
  ],
  [
    STYLE_PATH,
    asset(UI_CSS, "text/css; charset=utf-8", IMMUTABLE, UI_CSS_HASH),
  ],
]);
ASSETS.set(`${UI_PREFIX}index.html`, ASSETS.get(UI_PREFIX)!);

/** `bytes` gzipped, once per asset (the first request that accepts gzip pays for it). */
function gzipped(a: Asset): Promise<Uint8Array> {
  a.gzip ??= new Response(
    new Blob([a.body as BlobPart]).stream().pipeThrough(
      new CompressionStream("gzip"),
    ),
  ).bytes();
  return a.gzip;
}

function plain(status: number, text: string, headers?: HeadersInit): Response {
  const h = new Headers(headers);
  for (const [k, v] of Object.entries(SECURITY_HEADERS)) h.set(k, v);
  h.set("content-type", "text/plain; charset=utf-8");
  h.set("cache-control", "no-store");
  return new Response(text, { status, headers: h });
}

/** Whether `header` (Accept-Encoding) accepts gzip (a `q=0` refuses it). */
export function acceptsGzip(header: string | null): boolean {
  if (header === null) return false;
  return header.split(",").some((part) => {
    const [coding, ...params] = part.trim().toLowerCase().split(";");
    if (coding.trim() !== "gzip" && coding.trim() !== "*") return false;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

/**
 * Answers a request for `path` (the path relative to the proxy, which
 * {@linkcode isUiPath} accepts).
 */
export async function serveUi(req: Request, path: string): Promise<Response> {
  if (req.method !== "GET" && req.method !== "HEAD") {
    return plain(405, "The dashboard answers GET and HEAD only", {
      allow: "GET, HEAD",
    });
  }
  if (path === UI_PREFIX.slice(0, -1)) {
    return plain(308, `See ${UI_PREFIX}`, { location: UI_PREFIX });
  }
  const a = ASSETS.get(path);
  if (a === undefined) {
    return plain(404, `No dashboard file ${path}: open ${UI_PREFIX}`);
  }
  const headers = new Headers(SECURITY_HEADERS);
  headers.set("content-type", a.type);
  headers.set("cache-control", a.cache);
  headers.set("vary", "accept-encoding");
  const gzip = acceptsGzip(req.headers.get("accept-encoding"));
  // Each encoding is its own representation, with its own tag.
  const etag = gzip ? `${a.etag.slice(0, -1)}.gz"` : a.etag;
  headers.set("etag", etag);
  const match = req.headers.get("if-none-match");
  if (match !== null && match.split(",").some((t) => t.trim() === etag)) {
    return new Response(null, { status: 304, headers });
  }
  let body = a.body;
  if (gzip) {
    body = await gzipped(a);
    headers.set("content-encoding", "gzip");
  }
  headers.set("content-length", String(body.byteLength));
  return new Response(req.method === "HEAD" ? null : body as BlobPart, {
    headers,
  });
}
