/**
 * A user who is deleted or disabled loses their client keys: the keys are
 * revoked (for good; enabling the user again does not bring them back) and
 * each revocation is audited. Run right after the user change, by the store
 * worker and by the `users` command, each with its own key table.
 *
 * @module
 */
import type { Accounts } from "./accounts.ts";
import type { AccountsAnswer, AccountsCall } from "./calls.ts";

/** What {@linkcode revokeOwnedKeys} needs of the key table. */
export interface OwnedKeys {
  /** Revokes the active keys of `owner`; their names. */
  revokeOwnedBy(owner: string): string[];
}

/** The user whose keys a successful `call` takes away, or null. */
export function ownerLosingKeys(
  call: AccountsCall,
  answer: AccountsAnswer,
): { user: string; reason: "owner deleted" | "owner disabled" } | null {
  if (!answer.ok) return null;
  if (call.call === "users.delete") {
    return { user: call.name, reason: "owner deleted" };
  }
  if (
    call.call === "users.update" && "disabled" in call.change &&
    call.change.disabled
  ) {
    return { user: call.name, reason: "owner disabled" };
  }
  return null;
}

/** Revokes the keys `call` takes away (see {@linkcode ownerLosingKeys}) and audits each; how many. */
export function revokeOwnedKeys(
  call: AccountsCall,
  answer: AccountsAnswer,
  keys: OwnedKeys,
  accounts: Accounts,
): number {
  const losing = ownerLosingKeys(call, answer);
  if (losing === null || !("actor" in call)) return 0;
  const names = keys.revokeOwnedBy(losing.user);
  for (const name of names) {
    accounts.audit({
      actor: call.actor,
      action: "key.revoke",
      target: name,
      outcome: "ok",
      detail: { reason: losing.reason, owner: losing.user },
    });
  }
  return names.length;
}
