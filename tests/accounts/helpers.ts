/** Shared set-up of the accounts tests: a fast scrypt, a clock to move, a fresh database. */
import {
  Accounts,
  type AccountsOptions,
  openAccounts,
} from "../../src/accounts/accounts.ts";
import type { Actor } from "../../src/accounts/audit.ts";

/** scrypt parameters small enough for tests (the stored hash says which were used). */
export const FAST_SCRYPT = { logN: 10, r: 8, p: 1 };
/** A start time for injected clocks. */
export const T0 = Date.UTC(2026, 11, 2, 4, 0, 0);
/** A password that passes the strength check. */
export const PASSWORD = "correct horse battery";
/** The command line as actor. */
export const CLI: Actor = { name: "cli:test", role: null, address: null };

/** A clock tests move by hand. */
export interface TestClock {
  now: () => number;
  advance(ms: number): void;
}

/** A clock at {@linkcode T0}. */
export function testClock(): TestClock {
  let t = T0;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

/** Accounts in a fresh in-memory database. */
export function memoryAccounts(options: AccountsOptions = {}): Accounts {
  return openAccounts(":memory:", { scrypt: FAST_SCRYPT, ...options });
}
