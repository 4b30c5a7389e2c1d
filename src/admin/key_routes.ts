/**
 * The client-key routes of the admin API: `GET keys`, `POST keys` `{name,
 * rpm?, burst?, models?, expires?, owner?, budget?}` (the key in the answer,
 * once; a budget needs `budgets.write`, see budget_routes.ts),
 * `PATCH keys/<name>` `{rpm?, burst?, models?, expires?}` (limits and model
 * rules; null resets a field) and `DELETE keys/<name>`. A role whose `keys.*` cell is `own` (member) sees,
 * creates and revokes only keys it owns; another's key answers exactly like
 * one that does not exist. Every change is audited.
 *
 * @module
 */
import {
  type CreateKeyInput,
  type KeyChanges,
  type KeyRecord,
  keyRecordJson,
  keyStatus,
  parseExpiry,
} from "../access/client_keys.ts";
import type { AccountsClient } from "../accounts/calls.ts";
import type { Scope } from "../accounts/permissions.ts";
import type { Budget } from "../access/budget.ts";
import { authorize, type Denial } from "./authorize.ts";
import {
  fail,
  json,
  methodNotAllowed,
  pathName,
  readJsonObject,
  unknownField,
} from "./http.ts";
import { actorOf } from "./principal.ts";
import { auditBudget, parseBudgetJson } from "./budget_routes.ts";

/**
 * The key operations the admin API needs: a `KeyStore`, or (in the server)
 * requests to the store worker, so that no SQLite call runs on a serving thread.
 */
export interface AdminKeys {
  list(): KeyRecord[] | Promise<KeyRecord[]>;
  create(
    input: CreateKeyInput,
  ):
    | { key: string; record: KeyRecord }
    | Promise<{ key: string; record: KeyRecord }>;
  revoke(name: string): boolean | Promise<boolean>;
  /** Sets (null: removes) the budget of the active key `name`; false when there is none. */
  setBudget(name: string, budget: Budget | null): boolean | Promise<boolean>;
  /** Changes the active key `name`'s limits and models; its record after, or null when there is none. */
  update(
    name: string,
    changes: KeyChanges,
  ): KeyRecord | null | Promise<KeyRecord | null>;
}

/** What a key route is given. */
export interface KeyRoute extends Denial {
  keys: AdminKeys;
  now: number;
  /** Called after a key was created or revoked. */
  onKeysChanged?: () => void;
  /** Audit trail and user look-ups (a no-op client without accounts). */
  accounts: AccountsClient;
}

/** Serves `keys` and `keys/<name>`. */
export async function serveKeyRoute(r: KeyRoute): Promise<Response> {
  const read = r.req.method === "GET";
  const scope = await authorize(r, read ? "keys.read" : "keys.write");
  if (scope instanceof Response) return scope;
  const self = r.principal.via === "admin-token" ? null : r.principal.name;
  const mine = (k: KeyRecord) => scope === "all" || (k.owner ?? null) === self;
  if (r.rest === "keys") {
    if (read) {
      const data = (await r.keys.list()).filter(mine).map((k) =>
        keyRecordJson(k, r.now)
      );
      return json(200, { object: "list", data });
    }
    if (r.req.method === "POST") return await createKey(r, scope, self);
    return methodNotAllowed("GET, POST");
  }
  const name = pathName(r.rest, "keys/");
  if (name === null) {
    return fail("bad_request", "Malformed key name in the path");
  }
  if (r.req.method !== "DELETE" && r.req.method !== "PATCH") {
    return methodNotAllowed("PATCH, DELETE");
  }
  const active = (await r.keys.list()).find((k) =>
    k.name === name && keyStatus(k, r.now) !== "revoked"
  );
  if (r.req.method === "PATCH") {
    if (active === undefined || !mine(active)) {
      return fail("not_found", `No active key named "${name}"`);
    }
    return await updateKey(r, active);
  }
  if (active === undefined || !mine(active) || !(await r.keys.revoke(name))) {
    return fail("not_found", `No active key named "${name}"`);
  }
  r.onKeysChanged?.();
  await auditKey(r, "key.revoke", name, active.owner ?? null);
  return json(200, { name, revoked: true });
}

async function createKey(
  r: KeyRoute,
  scope: Scope,
  self: string | null,
): Promise<Response> {
  const body = await readJsonObject(r.req);
  if (typeof body === "string") return fail("bad_request", body);
  const bad = unknownField(body, [
    "name",
    "rpm",
    "burst",
    "models",
    "expires",
    "owner",
    "budget",
  ]);
  if (bad !== null) return fail("bad_request", bad);
  const input: CreateKeyInput = { name: body.name as string };
  try {
    for (const field of ["rpm", "burst"] as const) {
      const value = body[field];
      if (value !== undefined && value !== null && typeof value !== "number") {
        throw new TypeError(`"${field}" must be a whole number`);
      }
      input[field] = value as number | null | undefined;
    }
    if (typeof body.models === "string") {
      input.models = body.models.split(",").map((m) => m.trim()).filter((m) =>
        m !== ""
      );
    } else if (body.models !== undefined && body.models !== null) {
      input.models = body.models as string[];
    }
    if (body.expires !== undefined && body.expires !== null) {
      if (typeof body.expires !== "string") {
        throw new TypeError(
          `"expires" must be a duration such as "30d" or a date such as "2026-12-31"`,
        );
      }
      input.expiresAt = parseExpiry(body.expires, r.now);
    }
    const owner = await ownerOf(r, body.owner, scope, self);
    if (owner instanceof Response) return owner;
    input.owner = owner;
    if (body.budget !== undefined && body.budget !== null) {
      // Budgets are set by operators and admins, never by a key's owner.
      const may = await authorize(r, "budgets.write");
      if (may instanceof Response) return may;
      input.budget = parseBudgetJson(body.budget);
    }
    const { key, record } = await r.keys.create(input);
    r.onKeysChanged?.();
    await auditKey(r, "key.create", record.name, owner);
    if (input.budget) {
      await auditBudget(r, "key.set_budget", record.name, input.budget);
    }
    return json(201, { key, ...keyRecordJson(record, r.now) });
  } catch (err) {
    return fail("bad_request", (err as Error).message);
  }
}

/** `PATCH keys/<name>`: the fields given change, null resets one. */
async function updateKey(r: KeyRoute, key: KeyRecord): Promise<Response> {
  const body = await readJsonObject(r.req);
  if (typeof body === "string") return fail("bad_request", body);
  const bad = unknownField(body, ["rpm", "burst", "models", "expires"]);
  if (bad !== null) return fail("bad_request", bad);
  if (Object.keys(body).length === 0) {
    return fail(
      "bad_request",
      "Nothing to change: send rpm, burst, models or expires",
    );
  }
  const changes: KeyChanges = {};
  try {
    for (const field of ["rpm", "burst"] as const) {
      const value = body[field];
      if (value === undefined) continue;
      if (value !== null && typeof value !== "number") {
        throw new TypeError(`"${field}" must be a whole number or null`);
      }
      changes[field] = value;
    }
    if (body.models !== undefined) {
      if (typeof body.models === "string") {
        changes.models = body.models.split(",").map((m) => m.trim())
          .filter((m) => m !== "");
      } else if (body.models === null || Array.isArray(body.models)) {
        changes.models = body.models as string[] | null;
      } else {
        throw new TypeError(
          `"models" must be a list of model names, a comma-separated string, or null`,
        );
      }
    }
    if (body.expires !== undefined) {
      if (body.expires !== null && typeof body.expires !== "string") {
        throw new TypeError(
          `"expires" must be a duration such as "30d", a date such as "2026-12-31", or null`,
        );
      }
      changes.expiresAt = body.expires === null
        ? null
        : parseExpiry(body.expires, r.now);
    }
    const updated = await r.keys.update(key.name, changes);
    if (updated === null) {
      return fail("not_found", `No active key named "${key.name}"`);
    }
    r.onKeysChanged?.();
    await r.accounts({
      call: "audit.append",
      entry: {
        actor: actorOf(r.principal, r.address),
        action: "key.update",
        target: key.name,
        outcome: "ok",
        detail: Object.fromEntries(
          Object.keys(body).map((f) => {
            const v = body[f];
            // A list of models is recorded as its comma-joined text.
            return [
              f,
              Array.isArray(v) ? v.join(",") : v as string | number | null,
            ];
          }),
        ),
      },
    });
    return json(200, keyRecordJson(updated, r.now));
  } catch (err) {
    return fail("bad_request", (err as Error).message);
  }
}

/** The owner a new key gets: the caller's own for `own`, else the named user (who must exist) or nobody. */
async function ownerOf(
  r: KeyRoute,
  given: unknown,
  scope: Scope,
  self: string | null,
): Promise<string | null | Response> {
  if (given !== undefined && given !== null && typeof given !== "string") {
    return fail("bad_request", `"owner" must be a user name or null`);
  }
  if (scope === "own") {
    if (given !== undefined && given !== null && given !== self) {
      return fail(
        "forbidden",
        `Your role (${r.principal.role}) may not do this: it may create keys only for itself`,
      );
    }
    return self;
  }
  if (given === undefined || given === null) return null;
  const found = await r.accounts({ call: "users.get", name: given });
  if (!found.ok || found.value === null) {
    return fail("bad_request", `No user named "${given}" to own the key`);
  }
  return found.value.name;
}

async function auditKey(
  r: KeyRoute,
  action: string,
  name: string,
  owner: string | null,
): Promise<void> {
  await r.accounts({
    call: "audit.append",
    entry: {
      actor: actorOf(r.principal, r.address),
      action,
      target: name,
      outcome: "ok",
      ...(owner === null ? {} : { detail: { owner } }),
    },
  });
}
