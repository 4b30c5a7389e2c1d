/**
 * Users, tokens and audit records as the admin API and `--json` print them:
 * snake_case fields, ISO times, never a hash.
 *
 * @module
 */
import type { UserRecord } from "../accounts/users.ts";
import type { ApiTokenRecord } from "../accounts/api_tokens.ts";

function iso(t: number | null): string | null {
  return t === null ? null : new Date(t).toISOString();
}

/** A user as JSON. */
export function userJson(user: UserRecord): Record<string, unknown> {
  return {
    "name": user.name,
    "role": user.role,
    "team": user.team,
    "status": user.disabledAt === null ? "active" : "disabled",
    "created_at": iso(user.createdAt),
    "password_changed_at": iso(user.passwordChangedAt),
    "disabled_at": iso(user.disabledAt),
  };
}

/** An API token's record as JSON (never the token). */
export function tokenJson(
  record: ApiTokenRecord,
  now: number,
): Record<string, unknown> {
  const status = record.revokedAt !== null
    ? "revoked"
    : record.expiresAt !== null && record.expiresAt <= now
    ? "expired"
    : "active";
  return {
    "user": record.user,
    "name": record.name,
    "prefix": record.prefix,
    "status": status,
    "created_at": iso(record.createdAt),
    "expires_at": iso(record.expiresAt),
    "revoked_at": iso(record.revokedAt),
    "last_used_at": iso(record.lastUsedAt),
  };
}
