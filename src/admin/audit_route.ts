/**
 * `GET /_flow-proxy/admin/audit?since=&user=&action=&limit=`: the audit
 * trail, newest first, for roles granted `audit.read`. There is no route
 * that changes or deletes a record.
 *
 * @module
 */
import { parseSince } from "../base/time_grammar.ts";
import type { AccountsClient } from "../accounts/calls.ts";
import { authorize, type Denial } from "./authorize.ts";
import { answer, fail } from "./http.ts";

/** What the audit route is given. */
export interface AuditRoute extends Denial {
  url: URL;
  accounts: AccountsClient;
  now: number;
}

/** Answers one `GET audit`. */
export async function serveAudit(r: AuditRoute): Promise<Response> {
  const scope = await authorize(r, "audit.read");
  if (scope instanceof Response) return scope;
  const q = r.url.searchParams;
  const filter: {
    since?: number;
    user?: string;
    action?: string;
    limit?: number;
  } = {};
  const since = q.get("since");
  if (since !== null) {
    const at = parseSince(since, r.now);
    if (at === null) {
      return fail(
        "bad_request",
        `Invalid "since" value "${since}": use a duration such as 24h or 7d, an ISO date, or epoch milliseconds`,
      );
    }
    filter.since = at;
  }
  const limit = q.get("limit");
  if (limit !== null) {
    if (!/^\d{1,6}$/.test(limit) || Number(limit) < 1) {
      return fail(
        "bad_request",
        `Invalid "limit" value "${limit}": a whole number from 1`,
      );
    }
    filter.limit = Number(limit);
  }
  if (q.get("user") !== null) filter.user = q.get("user")!;
  if (q.get("action") !== null) filter.action = q.get("action")!;
  return answer(await r.accounts({ call: "audit.list", filter }), (list) => ({
    object: "list",
    data: list.map((a) => ({ ...a, at: new Date(a.at).toISOString() })),
  }));
}
