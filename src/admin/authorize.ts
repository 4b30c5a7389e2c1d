/**
 * The one check every admin route makes: what the permission matrix
 * (src/accounts/permissions.ts) grants the caller's role for an action, and
 * the 403 when it grants nothing. A refused change is audited as `denied`.
 *
 * @module
 */
import type { AccountsClient } from "../accounts/calls.ts";
import {
  type Action,
  permission,
  type Scope,
} from "../accounts/permissions.ts";
import { fail } from "./http.ts";
import { actorOf, type Principal } from "./principal.ts";

/** What {@linkcode authorize} and {@linkcode deny} need of a request. */
export interface Denial {
  req: Request;
  /** The path after the admin prefix. */
  rest: string;
  principal: Principal;
  address: string;
  /** Where a refused change is audited. */
  accounts: AccountsClient;
}

/**
 * The scope `principal` has for `action`, or the 403 refusing it; a refused
 * mutation is audited as `denied`.
 */
export async function authorize(
  r: Denial,
  action: Action,
): Promise<Scope | Response> {
  const scope = permission(r.principal.role, action);
  if (scope !== null) return scope;
  return await deny(r, `${action} is not granted to it`);
}
/** The 403 for a request the matrix refuses; a refused change is audited as `denied`. */
export async function deny(r: Denial, why: string): Promise<Response> {
  if (r.req.method !== "GET" && r.req.method !== "HEAD") {
    await r.accounts({
      call: "audit.append",
      entry: {
        actor: actorOf(r.principal, r.address),
        action: `${r.rest.split("/")[0]}.${r.req.method.toLowerCase()}`,
        target: r.rest,
        outcome: "denied",
      },
    });
  }
  return fail(
    "forbidden",
    `Your role (${r.principal.role}) may not do this: ${why}`,
  );
}
