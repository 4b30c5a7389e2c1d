/**
 * Who is calling the admin API: the shared admin token (bootstrap and
 * automation, role admin), a user's API token (`Authorization: Bearer
 * fpu_…`), or a user's session (the `flow_proxy_session` cookie, whose
 * mutating requests must carry the session's CSRF token in `x-csrf-token`).
 * Sessions and API tokens are checked by the store worker; the admin token
 * here, against its digest, in constant time.
 *
 * @module
 */
import { constantTimeEqual, sha256 } from "../base/digest.ts";
import type { AccountsClient } from "../accounts/calls.ts";
import type { Role } from "../accounts/permissions.ts";
import { API_TOKEN_PREFIX } from "../accounts/api_tokens.ts";
import { CSRF_HEADER, sessionIdFromCookie } from "../accounts/sessions.ts";
import type { Actor } from "../accounts/audit.ts";

/** An authenticated caller. */
export interface Principal {
  /** How the caller proved who it is. */
  via: "admin-token" | "api-token" | "session";
  /** The user's name, or `admin-token`. */
  name: string;
  role: Role;
  /** The session's CSRF token (sessions only). */
  csrf: string | null;
  /** The session id presented (sessions only), for logout. */
  sessionId: string | null;
}

/** Why no {@linkcode Principal} could be made. */
export type Refusal = "unauthenticated" | "csrf";

/** Methods that change nothing, which need no CSRF token. */
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** The caller of `req`, or why there is none. */
export async function authenticate(
  req: Request,
  options: { tokenDigest: Uint8Array | null; accounts: AccountsClient | null },
): Promise<Principal | Refusal> {
  const header = req.headers.get("authorization");
  const bearer = header === null ? null : /^bearer +(\S+)$/i.exec(header)?.[1];
  if (bearer) {
    if (options.accounts !== null && bearer.startsWith(API_TOKEN_PREFIX)) {
      const answer = await options.accounts({ call: "token", token: bearer });
      if (answer.ok && answer.value !== null) {
        const user = answer.value;
        return {
          via: "api-token",
          name: user.name,
          role: user.role,
          csrf: null,
          sessionId: null,
        };
      }
      return "unauthenticated";
    }
    // Comparing digests keeps the comparison constant-time whatever the length presented.
    if (
      options.tokenDigest !== null &&
      constantTimeEqual(sha256(bearer), options.tokenDigest)
    ) {
      return {
        via: "admin-token",
        name: "admin-token",
        role: "admin",
        csrf: null,
        sessionId: null,
      };
    }
    return "unauthenticated";
  }
  const sessionId = sessionIdFromCookie(req.headers.get("cookie"));
  if (sessionId === null || options.accounts === null) return "unauthenticated";
  const answer = await options.accounts({ call: "session", id: sessionId });
  if (!answer.ok || answer.value === null) return "unauthenticated";
  const { user, csrf } = answer.value;
  if (!SAFE_METHODS.has(req.method)) {
    const presented = req.headers.get(CSRF_HEADER);
    if (
      presented === null || !constantTimeEqual(sha256(presented), sha256(csrf))
    ) {
      return "csrf";
    }
  }
  return { via: "session", name: user.name, role: user.role, csrf, sessionId };
}

/** The audit trail's view of a caller from `address`. */
export function actorOf(principal: Principal, address: string): Actor {
  return { name: principal.name, role: principal.role, address };
}
