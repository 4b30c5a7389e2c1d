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
 */
export function createRouter(upstream: URL): (url: URL) => Route {
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

  function namesUpstream(url: URL): boolean {
    if (url.hostname !== hostname) return false;
    // A plain http:// URL on its default port also names an https upstream on its default port.
    if (url.port === "" && upstreamOnDefaultPort) return true;
    return (url.port || DEFAULT_PORT[url.protocol]) === port;
  }

  return function route(url: URL): Route {
    const pathname = url.pathname;
    const inBase = basePath !== "" &&
      (pathname === basePath || pathname.startsWith(basePath + "/"));
    const upstreamPath = basePath === "" || inBase
      ? pathname
      : basePath + pathname;
    return {
      target: origin + upstreamPath + url.search,
      forward: namesUpstream(url),
      path: inBase ? pathname.slice(basePath.length) || "/" : pathname,
    };
  };
}
