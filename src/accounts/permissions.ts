/**
 * Roles and what each may do: one table, {@linkcode PERMISSIONS}, read by
 * every check of the admin API and printed in docs/security.md. A cell is
 * `"all"` (anyone's), `"own"` (only the caller's own: their keys, tokens,
 * usage) or absent (refused).
 *
 * @module
 */

/** The roles, most powerful first. */
export const ROLES = ["admin", "operator", "member", "viewer"] as const;

/** One of {@linkcode ROLES}. */
export type Role = typeof ROLES[number];

/** What a request does, as the permission table names it. */
export const ACTIONS = [
  "status.read",
  "usage.read",
  "requests.read",
  "keys.read",
  "keys.write",
  "budgets.write",
  "tokens.read",
  "tokens.write",
  "users.read",
  "users.write",
  "teams.read",
  "teams.write",
  "audit.read",
  "credentials.probe",
] as const;

/** One of {@linkcode ACTIONS}. */
export type Action = typeof ACTIONS[number];

/** How far a permission reaches: anyone's objects, or only the caller's own. */
export type Scope = "all" | "own";

/**
 * The permission matrix. `status.read` is the dashboard's view of workers,
 * credential health, live traffic and the configuration; `requests.read`
 * the request log; `credentials.probe` asks for a failed credential to be
 * tried again now;
 * `budgets.write` a client key's budget (a user's or team's needs
 * `users.write` / `teams.write`); `tokens.*` per-user API tokens. Changing a cell here changes every check.
 */
export const PERMISSIONS: Readonly<
  Record<Role, Readonly<Partial<Record<Action, Scope>>>>
> = {
  admin: {
    "status.read": "all",
    "usage.read": "all",
    "requests.read": "all",
    "keys.read": "all",
    "keys.write": "all",
    "budgets.write": "all",
    "tokens.read": "all",
    "tokens.write": "all",
    "users.read": "all",
    "users.write": "all",
    "teams.read": "all",
    "teams.write": "all",
    "audit.read": "all",
    "credentials.probe": "all",
  },
  operator: {
    "status.read": "all",
    "usage.read": "all",
    "requests.read": "all",
    "keys.read": "all",
    "keys.write": "all",
    "budgets.write": "all",
    "tokens.read": "own",
    "tokens.write": "own",
    "teams.read": "all",
    "credentials.probe": "all",
  },
  member: {
    "usage.read": "own",
    "requests.read": "own",
    "keys.read": "own",
    "keys.write": "own",
    "tokens.read": "own",
    "tokens.write": "own",
  },
  viewer: {
    "status.read": "all",
    "usage.read": "all",
    "tokens.read": "own",
  },
};

/** How far `role` may do `action`; null when it may not at all. */
export function permission(role: Role, action: Action): Scope | null {
  return PERMISSIONS[role][action] ?? null;
}

/** Whether `text` names a role. */
export function isRole(text: unknown): text is Role {
  return typeof text === "string" &&
    (ROLES as readonly string[]).includes(text);
}

/** `text` as a role; throws `TypeError` naming the roles when it is none. */
export function parseRole(text: unknown): Role {
  if (isRole(text)) return text;
  throw new TypeError(
    `Unknown role ${JSON.stringify(text)}: use ${ROLES.join(", ")}`,
  );
}
