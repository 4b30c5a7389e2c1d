/**
 * The accounts routes of the admin API, each checked against the
 * permission matrix (src/accounts/permissions.ts):
 *
 * ```
 * POST   login                 {name, password} → session cookie + CSRF token (no auth needed)
 * POST   logout                ends the caller's session
 * GET    me                    the caller, role and permissions
 * GET    users                 POST users {name, role, password, team?}
 * GET    users/<name>          PATCH users/<name> {role | team | password | disabled}   DELETE
 * GET    teams                 POST teams {name}        DELETE teams/<name>
 * GET    tokens[?user=]        POST tokens {name, expires?, user?} → the token, once
 * DELETE tokens/<name>[?user=]
 * GET    audit?since=&user=&action=&limit=
 * ```
 * A role whose cell is `own` acts on the caller's own tokens only; a refusal
 * by the matrix comes before any lookup, so it never tells whether a user or
 * token exists.
 *
 * @module
 */
import type { CreateUserInput } from "../accounts/accounts.ts";
import type { AccountsClient } from "../accounts/calls.ts";
import { ACTIONS, permission, type Scope } from "../accounts/permissions.ts";
import {
  clearedSessionCookie,
  type SessionPolicy,
} from "../accounts/sessions.ts";
import { parseExpiry } from "../access/client_keys.ts";
import {
  answer,
  fail,
  json,
  methodNotAllowed,
  pathName,
  readJsonObject,
  unknownField,
} from "./http.ts";
import { authorize, deny } from "./authorize.ts";
import { serveAudit } from "./audit_route.ts";
import { actorOf, type Principal } from "./principal.ts";
import { tokenJson, userJson } from "./account_json.ts";

/** What an accounts route is given. */
export interface AccountRoute {
  req: Request;
  url: URL;
  /** The path after the admin prefix. */
  rest: string;
  principal: Principal;
  address: string;
  accounts: AccountsClient;
  now: number;
  /** How session cookies are set (logout clears the cookie). */
  policy: SessionPolicy;
}

/** Paths served by {@linkcode serveAccountRoute} (`login` is served before authentication). */
export function isAccountRoute(rest: string): boolean {
  return /^(logout|me|users|teams|tokens|audit)$/.test(rest) ||
    /^(users|teams|tokens)\/[^/]+$/.test(rest);
}

/** Serves one accounts route (see the module doc). */
export async function serveAccountRoute(r: AccountRoute): Promise<Response> {
  const [head] = r.rest.split("/");
  switch (head) {
    case "logout":
      return r.req.method === "POST"
        ? await logout(r)
        : methodNotAllowed("POST");
    case "me":
      return r.req.method === "GET" ? me(r) : methodNotAllowed("GET");
    case "users":
      return await users(r);
    case "teams":
      return await teams(r);
    case "tokens":
      return await tokens(r);
    default:
      return r.req.method === "GET"
        ? await serveAudit(r)
        : methodNotAllowed("GET");
  }
}

async function logout(r: AccountRoute): Promise<Response> {
  if (r.principal.sessionId === null) {
    return fail(
      "bad_request",
      "Logout ends a session, and this request carries none (it used a token)",
    );
  }
  await r.accounts({
    call: "logout",
    id: r.principal.sessionId,
    actor: actorOf(r.principal, r.address),
  });
  return json(200, { "logged_out": true }, {
    "set-cookie": clearedSessionCookie(r.policy),
  });
}

function me(r: AccountRoute): Response {
  const permissions: Record<string, Scope> = {};
  for (const action of ACTIONS) {
    const scope = permission(r.principal.role, action);
    if (scope !== null) permissions[action] = scope;
  }
  return json(200, {
    name: r.principal.name,
    role: r.principal.role,
    via: r.principal.via,
    permissions,
    ...(r.principal.csrf === null ? {} : { csrf_token: r.principal.csrf }),
  });
}

async function users(r: AccountRoute): Promise<Response> {
  const read = r.req.method === "GET";
  const scope = await authorize(r, read ? "users.read" : "users.write");
  if (scope instanceof Response) return scope;
  const actor = actorOf(r.principal, r.address);
  if (r.rest === "users") {
    if (read) {
      return answer(
        await r.accounts({ call: "users.list" }),
        (list) => ({ object: "list", data: list.map(userJson) }),
      );
    }
    if (r.req.method !== "POST") return methodNotAllowed("GET, POST");
    const body = await readJsonObject(r.req);
    if (typeof body === "string") return fail("bad_request", body);
    const bad = unknownField(body, ["name", "role", "team", "password"]);
    if (bad !== null) return fail("bad_request", bad);
    // Types are checked by the accounts service, which names the field at fault.
    const input = {
      name: body.name,
      role: body.role,
      team: body.team ?? null,
      password: body.password,
    } as CreateUserInput;
    return answer(
      await r.accounts({ call: "users.create", input, actor }),
      userJson,
      201,
    );
  }
  const name = pathName(r.rest, "users/");
  if (name === null) {
    return fail("bad_request", "Malformed user name in the path");
  }
  if (read) {
    const found = await r.accounts({ call: "users.get", name });
    if (found.ok && found.value === null) {
      return fail("not_found", `No user named "${name}"`);
    }
    return answer(found, (u) => userJson(u!));
  }
  if (r.req.method === "DELETE") {
    return answer(
      await r.accounts({ call: "users.delete", name, actor }),
      (u) => ({ ...userJson(u), deleted: true }),
    );
  }
  if (r.req.method !== "PATCH") return methodNotAllowed("GET, PATCH, DELETE");
  const body = await readJsonObject(r.req);
  if (typeof body === "string") return fail("bad_request", body);
  const fields = ["role", "team", "password", "disabled"];
  const bad = unknownField(body, fields);
  if (bad !== null) return fail("bad_request", bad);
  const given = Object.keys(body);
  if (given.length !== 1) {
    return fail(
      "bad_request",
      `PATCH takes exactly one of "role", "team", "password" or "disabled"`,
    );
  }
  const field = given[0];
  const value = body[field];
  if (field === "disabled" && typeof value !== "boolean") {
    return fail("bad_request", `"disabled" must be true or false`);
  }
  if (field === "team" && value !== null && typeof value !== "string") {
    return fail("bad_request", `"team" must be a team name or null`);
  }
  if ((field === "role" || field === "password") && typeof value !== "string") {
    return fail("bad_request", `"${field}" must be a string`);
  }
  const change = { [field]: value } as never;
  return answer(
    await r.accounts({ call: "users.update", name, change, actor }),
    userJson,
  );
}

async function teams(r: AccountRoute): Promise<Response> {
  const read = r.req.method === "GET";
  const scope = await authorize(r, read ? "teams.read" : "teams.write");
  if (scope instanceof Response) return scope;
  const actor = actorOf(r.principal, r.address);
  if (r.rest === "teams") {
    if (read) {
      return answer(await r.accounts({ call: "teams.list" }), (list) => ({
        object: "list",
        data: list.map((t) => ({
          name: t.name,
          members: t.members,
          created_at: new Date(t.createdAt).toISOString(),
        })),
      }));
    }
    if (r.req.method !== "POST") return methodNotAllowed("GET, POST");
    const body = await readJsonObject(r.req);
    if (typeof body === "string") return fail("bad_request", body);
    const bad = unknownField(body, ["name"]);
    if (bad !== null) return fail("bad_request", bad);
    return answer(
      await r.accounts({
        call: "teams.create",
        name: body.name as string,
        actor,
      }),
      (t) => ({ name: t.name, members: t.members }),
      201,
    );
  }
  const name = pathName(r.rest, "teams/");
  if (name === null) {
    return fail("bad_request", "Malformed team name in the path");
  }
  if (r.req.method !== "DELETE") return methodNotAllowed("DELETE");
  return answer(
    await r.accounts({ call: "teams.delete", name, actor }),
    (t) => ({ name: t.name, deleted: true }),
  );
}

async function tokens(r: AccountRoute): Promise<Response> {
  const read = r.req.method === "GET";
  const scope = await authorize(r, read ? "tokens.read" : "tokens.write");
  if (scope instanceof Response) return scope;
  const actor = actorOf(r.principal, r.address);
  const self = r.principal.via === "admin-token" ? null : r.principal.name;
  const named = r.url.searchParams.get("user");
  if (r.rest === "tokens") {
    if (read) {
      const user = named ?? (scope === "all" && self === null ? null : self);
      if (scope === "own" && user !== self) return await ownOnly(r);
      return answer(
        await r.accounts({ call: "tokens.list", user }),
        (list) => ({
          object: "list",
          data: list.map((t) => tokenJson(t, r.now)),
        }),
      );
    }
    if (r.req.method !== "POST") return methodNotAllowed("GET, POST");
    const body = await readJsonObject(r.req);
    if (typeof body === "string") return fail("bad_request", body);
    const bad = unknownField(body, ["name", "expires", "user"]);
    if (bad !== null) return fail("bad_request", bad);
    const user = (body.user as string | undefined) ?? self;
    if (user === null) {
      return fail(
        "bad_request",
        `Name the user the token is for ("user"): the admin token is not a user`,
      );
    }
    if (scope === "own" && user !== self) return await ownOnly(r);
    let expiresAt: number | null = null;
    try {
      if (body.expires !== undefined && body.expires !== null) {
        if (typeof body.expires !== "string") {
          throw new TypeError(
            `"expires" must be a duration such as "30d" or a date`,
          );
        }
        expiresAt = parseExpiry(body.expires, r.now);
      }
    } catch (err) {
      return fail("bad_request", (err as Error).message);
    }
    const created = await r.accounts({
      call: "tokens.create",
      user,
      name: body.name as string,
      expiresAt,
      actor,
    });
    return answer(
      created,
      (c) => ({ token: c.token, ...tokenJson(c.record, r.now) }),
      201,
    );
  }
  const name = pathName(r.rest, "tokens/");
  if (name === null) {
    return fail("bad_request", "Malformed token name in the path");
  }
  if (r.req.method !== "DELETE") return methodNotAllowed("DELETE");
  const user = named ?? self;
  if (user === null) {
    return fail(
      "bad_request",
      "Name the token's user (?user=NAME): the admin token is not a user",
    );
  }
  if (scope === "own" && user !== self) return await ownOnly(r);
  return answer(
    await r.accounts({ call: "tokens.revoke", user, name, actor }),
    (t) => tokenJson(t, r.now),
  );
}

function ownOnly(r: AccountRoute): Promise<Response> {
  return deny(r, "it may only see and manage its own API tokens");
}
