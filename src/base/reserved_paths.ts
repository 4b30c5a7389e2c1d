/**
 * The paths on the proxy port that are flow-proxy's own and never forwarded,
 * named once for the handler that routes them and the APIs that serve them.
 */

/** Everything under this prefix is flow-proxy's own and never forwarded. */
export const RESERVED_PREFIX = "/_flow-proxy/";
/** Prefix of the admin API, inside {@linkcode RESERVED_PREFIX}. */
export const ADMIN_PREFIX = `${RESERVED_PREFIX}admin/`;

/** Prefix of the web dashboard (src/dashboard/), inside {@linkcode RESERVED_PREFIX}. */
export const UI_PREFIX = `${RESERVED_PREFIX}ui/`;

/** Whether `path` belongs to the web dashboard (`/_flow-proxy/ui` and all under it). */
export function isUiPath(path: string): boolean {
  return path.startsWith(UI_PREFIX) || path === UI_PREFIX.slice(0, -1);
}

/** Whether `path` belongs to the admin API. */
export function isAdminPath(path: string): boolean {
  return path.startsWith(ADMIN_PREFIX) || path === ADMIN_PREFIX.slice(0, -1);
}
