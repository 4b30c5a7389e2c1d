/**
 * `POST /_flow-proxy/admin/login` `{name, password}`: the one admin route
 * that needs no credential. A success sets the session cookie and answers the
 * session's CSRF token; a failure answers the same for an unknown user, a
 * wrong password and a disabled user (401), or 429 with `Retry-After` while
 * the user or address is locked out. Each failure is a WARN line (user name
 * and address, never the password) and counts in
 * `flow_proxy_login_failures_total`.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { AccountsClient } from "../accounts/calls.ts";
import { isValidName } from "../accounts/names.ts";
import { sessionCookie, type SessionPolicy } from "../accounts/sessions.ts";
import { fail, json, readJsonObject, unknownField } from "./http.ts";
import { userJson } from "./account_json.ts";

/** What {@linkcode serveLogin} needs. */
export interface LoginRouteOptions {
  accounts: AccountsClient;
  policy: SessionPolicy;
  /** Where failures are logged at WARN. */
  logger?: Pick<Logger, "warn">;
  /** Called once per failed login (the metric), with why. */
  onLoginFailure?: (reason: "invalid" | "locked") => void;
}

/** Answers one login request from `address`. */
export async function serveLogin(
  req: Request,
  address: string,
  options: LoginRouteOptions,
): Promise<Response> {
  const body = await readJsonObject(req);
  if (typeof body === "string") return fail("bad_request", body);
  const bad = unknownField(body, ["name", "password"]);
  if (bad !== null) return fail("bad_request", bad);
  const { name, password } = body;
  if (typeof name !== "string" || typeof password !== "string") {
    return fail(
      "bad_request",
      `Login needs "name" and "password", both strings`,
    );
  }
  const answer = await options.accounts({
    call: "login",
    name,
    password,
    address,
  });
  if (!answer.ok) return fail(answer.kind, answer.message);
  const result = answer.value;
  if (!result.ok) {
    options.onLoginFailure?.(result.locked ? "locked" : "invalid");
    // A name that is not a valid user name may be a password typed in the wrong field: never logged.
    const who = isValidName(name) ? `"${name}"` : "(not a valid user name)";
    const seconds = Math.ceil(result.retryAfterMs / 1000);
    options.logger?.warn(
      result.locked
        ? `Login refused for ${who} from ${address}: locked out for ${seconds} s after repeated failures`
        : `Login failed for ${who} from ${address}`,
    );
    if (result.locked) {
      return fail(
        "rate_limited",
        `Too many failed logins: try again in ${seconds} s`,
        { "retry-after": String(seconds) },
      );
    }
    return fail("unauthorized", "Wrong user name or password");
  }
  return json(200, {
    "user": userJson(result.user),
    "csrf_token": result.csrf,
    "expires_at": new Date(result.expiresAt).toISOString(),
  }, { "set-cookie": sessionCookie(result.sessionId, options.policy) });
}
