/**
 * The paths on the proxy port that are flow-proxy's own and never forwarded,
 * named once for the handler that routes them and the APIs that serve them.
 */

/** Everything under this prefix is flow-proxy's own and never forwarded. */
export const RESERVED_PREFIX = "/_flow-proxy/";
/** Prefix of the admin API, inside {@linkcode RESERVED_PREFIX}. */
export const ADMIN_PREFIX = `${RESERVED_PREFIX}admin/`;

/** Whether `path` belongs to the admin API. */
export function isAdminPath(path: string): boolean {
  return path.startsWith(ADMIN_PREFIX) || path === ADMIN_PREFIX.slice(0, -1);
}
