/**
 * Where a request goes: reverse mode (`http://proxy/<path>`) and forward mode
 * (`curl -x proxy http://flow.ciandt.com/…`) both map onto the one upstream.
 */

/** A request's destination on the upstream. */
export interface Route {
  /** Absolute upstream URL, query string kept. */
  target: string;
  /** True when the request URL named the upstream's own host (forward mode). */
  forward: boolean;
  /** The path relative to the proxy, used for reserved paths and the error shape. */
  path: string;
  /**
   * Why the request must be refused (400), or null. Set when the resolved
   * path leaves the upstream's base path; `target` is then the base path
   * itself, so even a caller that ignores this never leaves it.
   */
  refusal: string | null;
}

const DEFAULT_PORT: Record<string, string> = { "http:": "80", "https:": "443" };

/**
 * Builds the router for one upstream. The upstream is validated once here,
 * so the returned function does no checks per request.
 *
 * No URL ever leads anywhere but the upstream: a request that names another
 * host is served in reverse mode, as the Host header of an origin-form request
 * cannot be told apart from an absolute-form one.
 *
 * The returned function works on the URL string (it runs for every request,
 * and a `URL` object costs more than the rest of the routing).
 */
export function createRouter(upstream: URL): (url: URL | string) => Route {
  if (upstream.protocol !== "http:" && upstream.protocol !== "https:") {
    throw new TypeError(
      `Upstream must be an http(s) URL, got "${upstream.href}"`,
    );
  }
  const origin = upstream.origin;
  const basePath = upstream.pathname.replace(/\/+$/, "");
  const hostname = upstream.hostname;
  const port = upstream.port || DEFAULT_PORT[upstream.protocol];
  const upstreamOnDefaultPort = upstream.port === "";

  /** Whether `scheme://authority` names the upstream (same host, same port). */
  function namesUpstream(scheme: string, authority: string): boolean {
    const lower = authority.toLowerCase();
    const colon = lower.lastIndexOf(":");
    const hasPort = colon !== -1 && lower.indexOf("]", colon) === -1;
    const host = hasPort ? lower.slice(0, colon) : lower;
    if (host !== hostname) return false;
    const defaultPort = DEFAULT_PORT[scheme];
    const requested = hasPort ? lower.slice(colon + 1) : defaultPort;
    // A URL on its scheme's default port also names an upstream on its own
    // default port: plain http:// to an https:// upstream is forward mode.
    if (requested === defaultPort && upstreamOnDefaultPort) return true;
    return requested === port;
  }

  return function route(url: URL | string): Route {
    const href = typeof url === "string" ? url : url.href;
    const schemeEnd = href.indexOf("://") + 3;
    let pathStart = href.indexOf("/", schemeEnd);
    if (pathStart === -1) pathStart = href.length;
    let queryStart = href.indexOf("?", pathStart);
    const hashStart = href.indexOf("#", pathStart);
    const end = hashStart === -1 ? href.length : hashStart;
    if (queryStart === -1 || queryStart > end) queryStart = end;
    const pathname = pathStart === end
      ? "/"
      : href.slice(pathStart, queryStart);
    const search = href.slice(queryStart, end);
    const inBase = basePath !== "" &&
      (pathname === basePath || pathname.startsWith(basePath + "/"));
    let upstreamPath = basePath === "" || inBase
      ? pathname
      : basePath + pathname;
    const forward = namesUpstream(
      href.slice(0, schemeEnd - 2),
      href.slice(schemeEnd, pathStart),
    );
    // A dot segment starts after a separator, and an encoded one needs a
    // "%": a path with neither (nearly every request) needs no resolving.
    if (mayHaveDotSegments(upstreamPath)) {
      const resolved = resolveDotSegments(upstreamPath, false);
      if (
        !underBase(resolved, basePath) ||
        !underBase(resolveDotSegments(upstreamPath, true), basePath)
      ) {
        return {
          target: origin + basePath,
          forward,
          path: pathname,
          refusal:
            "The request path leaves the API's base path once its dot segments are resolved",
        };
      }
      upstreamPath = resolved;
    }
    return {
      target: origin + upstreamPath + search,
      forward,
      path: upstreamPath.slice(basePath.length) || "/",
      refusal: null,
    };
  };
}

/** Whether `path` is `base` or below it (every path is below the root). */
function underBase(path: string, base: string): boolean {
  return base === "" || path === base || path.startsWith(base + "/");
}

/** Cheap test: false only when `path` certainly has no dot segment, plain or encoded. */
function mayHaveDotSegments(path: string): boolean {
  return path.includes("/.") || path.includes("%") || path.includes("\\");
}

const ENCODED_SEPARATOR = /%2f|%5c/gi;

/**
 * Resolves `.` and `..` segments the way a WHATWG URL parser does (and so
 * the way `fetch` will before sending): `%2e` counts as a dot, a backslash
 * as a slash, and a `..` at the root stays there. With `strict`, `%2f` and `%5c`
 * count as separators too, as for a server in front of the upstream that
 * decodes them before resolving: the path must stay under the base path in
 * both readings.
 */
function resolveDotSegments(path: string, strict: boolean): string {
  const text = strict ? path.replace(ENCODED_SEPARATOR, "/") : path;
  const segments = text.split(/[\\/]/);
  const out: string[] = [];
  // segments[0] is the empty string before the leading slash.
  for (let i = 1; i < segments.length; i++) {
    const segment = segments[i];
    const last = i === segments.length - 1;
    const dots = dotSegment(segment);
    if (dots === 2) {
      out.pop();
      if (last) out.push("");
    } else if (dots === 1) {
      if (last) out.push("");
    } else {
      out.push(segment);
    }
  }
  return "/" + out.join("/");
}

/** 1 for a single-dot segment, 2 for a double-dot one (`%2e` a dot, any case), else 0. */
function dotSegment(segment: string): 0 | 1 | 2 {
  if (segment.length === 0 || segment.length > 6) return 0;
  const lower = segment.toLowerCase();
  if (lower === "." || lower === "%2e") return 1;
  if (
    lower === ".." || lower === ".%2e" || lower === "%2e." ||
    lower === "%2e%2e"
  ) return 2;
  return 0;
}
