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
    const upstreamPath = basePath === "" || inBase
      ? pathname
      : basePath + pathname;
    const forward = namesUpstream(
      href.slice(0, schemeEnd - 2),
      href.slice(schemeEnd, pathStart),
    );
    return {
      target: origin + upstreamPath + search,
      forward,
      path: inBase ? pathname.slice(basePath.length) || "/" : pathname,
    };
  };
}
