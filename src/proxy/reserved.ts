/**
 * Paths flow-proxy answers itself in reverse mode: `/healthz`, `/metrics`,
 * the web dashboard and the admin API under {@linkcode RESERVED_PREFIX};
 * --allow-ip guards all but the first.
 */
import { isUiPath, RESERVED_PREFIX } from "../base/reserved_paths.ts";
import type { ApiFamily } from "../base/api_errors.ts";
import { errorAnswer } from "./error_answer.ts";
import { peerAddress } from "./exchange.ts";

/** Options of {@linkcode serveReserved}: the answers the reserved paths give. */
export interface ReservedOptions {
  /** Body of `GET /healthz`: status 200 when healthy, else 503. */
  health: () => { healthy: boolean; body: Record<string, unknown> };
  /** Body of `GET /metrics`, or null when metrics are off. */
  metrics?: () => string;
  /** Whether a peer address may use `/metrics` and the admin API (`--allow-ip`); absent = all may. */
  allowAddress?: (address: string) => boolean;
  /** Serves the reserved prefix `/_flow-proxy/` (see {@linkcode RESERVED_PREFIX}). */
  admin?: (
    req: Request,
    info: Deno.ServeHandlerInfo,
  ) => Promise<Response> | Response;
}

/** A request to a path of the proxy's own, as {@linkcode serveReserved} reads it. */
export interface ReservedRequest {
  req: Request;
  info: Deno.ServeHandlerInfo;
  /** The path relative to the proxy. */
  path: string;
  id: string;
  family: ApiFamily;
}

const JSON_HEADERS = { "content-type": "application/json" };

/**
 * Whether {@linkcode serveReserved} may answer `path`: checked first, so a
 * request to any other path costs a comparison or two.
 */
export function mayBeReserved(path: string): boolean {
  return path === "/healthz" || path === "/metrics" ||
    path.startsWith(RESERVED_PREFIX);
}

/**
 * The answer to a reserved path, or null when `path` is not one (the
 * request is then proxied).
 */
export function serveReserved(
  options: ReservedOptions,
  r: ReservedRequest,
): Promise<Response> | Response | null {
  const { req, path, id } = r;
  const readOnly = req.method === "GET" || req.method === "HEAD";
  if (path === "/healthz" && readOnly) return healthz(options, id);
  const reserved = path.startsWith(RESERVED_PREFIX);
  if (
    options.allowAddress && (path === "/metrics" || reserved) &&
    !options.allowAddress(peerAddress(r.info))
  ) {
    return errorAnswer(id, {
      family: r.family,
      type: "forbidden",
      message: "Your address may not use this path (--allow-ip)",
    });
  }
  if (path === "/metrics" && options.metrics && readOnly) {
    return new Response(options.metrics(), {
      headers: {
        "content-type": "text/plain; version=0.0.4; charset=utf-8",
        "x-request-id": id,
      },
    });
  }
  if (!reserved) return null;
  // The dashboard is static and needs no admin API: without one, its pages say so.
  if (isUiPath(path)) return dashboard(req, path, id);
  if (!options.admin) {
    return errorAnswer(id, {
      family: r.family,
      type: "not_found",
      message: `No such path: ${path}`,
    });
  }
  return admin(options.admin, r);
}

async function admin(
  serve: NonNullable<ReservedOptions["admin"]>,
  r: ReservedRequest,
): Promise<Response> {
  const res = await serve(r.req, r.info);
  res.headers.set("x-request-id", r.id);
  return res;
}

/**
 * The dashboard's answer; its module (the UI's assets, some 120 KB of text)
 * is loaded by the first request for it, so a thread that never serves the
 * dashboard never holds it.
 */
async function dashboard(
  req: Request,
  path: string,
  id: string,
): Promise<Response> {
  const { serveUi } = await import("../dashboard/ui_route.ts");
  const res = await serveUi(req, path);
  res.headers.set("x-request-id", id);
  return res;
}

function healthz(options: ReservedOptions, id: string): Response {
  const { healthy, body } = options.health();
  return new Response(JSON.stringify(body), {
    status: healthy ? 200 : 503,
    headers: {
      ...JSON_HEADERS,
      "x-request-id": id,
      "cache-control": "no-store",
    },
  });
}
