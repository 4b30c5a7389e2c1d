/**
 * Who a command-line change is audited as: `cli:<login name>` from the
 * environment, with no role and no address (the command runs on the host,
 * with direct access to the database).
 *
 * @module
 */
import type { Actor } from "../accounts/audit.ts";
import { openAccounts } from "../accounts/accounts.ts";

/** The actor of a command run with environment `env`. */
export function cliActor(env: Record<string, string | undefined>): Actor {
  return {
    name: `cli:${env.USER ?? env.LOGNAME ?? "unknown"}`,
    role: null,
    address: null,
  };
}

/** Appends one record of a successful command-line change to the audit trail of `db`. */
export function auditCliChange(
  db: string,
  env: Record<string, string | undefined>,
  action: string,
  target: string,
  detail?: Record<string, string | number | boolean | null>,
): void {
  using accounts = openAccounts(db);
  accounts.audit({
    actor: cliActor(env),
    action,
    target,
    outcome: "ok",
    ...(detail === undefined ? {} : { detail }),
  });
}
