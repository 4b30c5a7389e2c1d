/**
 * What the store worker adds to the keys it publishes for user and team
 * budgets: on every active key whose owner (or the owner's team) has a
 * budget, a {@linkcode SharedBudget} per budget with what all the keys
 * counted by it used this period, from the request log. Serving threads
 * then enforce them without touching SQLite.
 *
 * @module
 */
import {
  type Budget,
  periodBounds,
  type SharedBudget,
} from "../access/budget.ts";
import type { StoredKey } from "../access/client_keys.ts";
import type { Accounts } from "../accounts/accounts.ts";

/** Tokens and spend of the requests of `clients` (key names) since `since`. */
export type UsedByClients = (
  clients: readonly string[],
  since: number,
) => { tokens: number; nanos: number };

/** Adds `shared` to the active keys of owners with a user or team budget (in place). */
export function addSharedBudgets(
  keys: StoredKey[],
  accounts: Pick<Accounts, "ownerBudgets">,
  used: UsedByClients,
  options: { now: number; zone: string },
): void {
  const { owners, members } = accounts.ownerBudgets();
  if (owners.size === 0) return;
  // Every key (revoked ones too: their requests this period still count) by owner.
  const byOwner = new Map<string, string[]>();
  for (const key of keys) {
    if (!key.owner) continue;
    const owner = key.owner.toLowerCase();
    const list = byOwner.get(owner) ?? [];
    list.push(key.name);
    byOwner.set(owner, list);
  }
  const made = new Map<string, SharedBudget>();
  const shared = (
    holder: "user" | "team",
    name: string,
    budget: unknown,
    clients: () => string[],
  ): SharedBudget => {
    const slot = `${holder}:${name.toLowerCase()}`;
    let entry = made.get(slot);
    if (entry === undefined) {
      const limits = budget as Budget;
      const { start } = periodBounds(options.now, limits.period, options.zone);
      entry = {
        slot,
        holder,
        name,
        budget: limits,
        used: { period: start, ...used(clients(), start) },
      };
      made.set(slot, entry);
    }
    return entry;
  };
  for (const key of keys) {
    if (!key.owner || key.revokedAt !== null) continue;
    const owner = owners.get(key.owner.toLowerCase());
    if (owner === undefined) continue;
    const list: SharedBudget[] = [];
    if (owner.userBudget !== null) {
      list.push(
        shared(
          "user",
          owner.user,
          owner.userBudget,
          () => byOwner.get(owner.user.toLowerCase()) ?? [],
        ),
      );
    }
    if (owner.team !== null && owner.teamBudget !== null) {
      const team = owner.team;
      list.push(
        shared(
          "team",
          team,
          owner.teamBudget,
          () =>
            (members.get(team.toLowerCase()) ?? []).flatMap((user) =>
              byOwner.get(user.toLowerCase()) ?? []
            ),
        ),
      );
    }
    if (list.length > 0) key.shared = list;
  }
}

/** The names of every key (revoked ones too) `owner` owns, matched without case. */
export function ownedKeys(
  keys: readonly { name: string; owner?: string | null }[],
  owner: string,
): string[] {
  const wanted = owner.toLowerCase();
  return keys.filter((k) => k.owner?.toLowerCase() === wanted).map((k) =>
    k.name
  );
}
