/**
 * Login protection: failures are counted per user name and per client
 * address in the `login_failures` table (the store worker's, so every
 * serving thread sees the same counts). After `maxFailures` in a row a
 * subject is locked out for `baseLockMs`, doubling with each further
 * failure up to `maxLockMs`; a locked subject is refused before its password
 * is even checked. A run of failures is forgotten `windowMs` after its last
 * one; a successful login forgets the user's (not the address's).
 *
 * Unknown user names are counted exactly like known ones, so the answers
 * cannot tell them apart.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";

/** What is counted: a user name (lowercased) or a client address. */
export type GuardScope = "user" | "ip";

/** Thresholds and backoff of {@linkcode LoginGuard}. */
export interface LoginGuardPolicy {
  /** Failures in a row before a lockout, per scope. */
  maxFailures: Readonly<Record<GuardScope, number>>;
  /** First lockout, ms; doubles per further failure. */
  baseLockMs: number;
  /** Longest lockout, ms. */
  maxLockMs: number;
  /** A run of failures is forgotten this long after its last failure, ms. */
  windowMs: number;
}

/** Defaults: 5 failures per user, 20 per address; 30 s doubling to 15 min; forgotten after 15 min. */
export const DEFAULT_LOGIN_GUARD: Readonly<LoginGuardPolicy> = {
  maxFailures: { user: 5, ip: 20 },
  baseLockMs: 30_000,
  maxLockMs: 15 * 60_000,
  windowMs: 15 * 60_000,
};

/** How long a subject stays locked after its `failures`-th failure in a row (0: not locked). */
export function lockDuration(
  failures: number,
  scope: GuardScope,
  policy: LoginGuardPolicy,
): number {
  const over = failures - policy.maxFailures[scope];
  if (over < 0) return 0;
  return Math.min(
    policy.maxLockMs,
    policy.baseLockMs * 2 ** Math.min(over, 30),
  );
}

/** The `login_failures` table of one connection, with its policy. */
export class LoginGuard {
  #db: DatabaseSync;
  #policy: LoginGuardPolicy;

  /** Counts in `db` under `policy`. */
  constructor(
    db: DatabaseSync,
    policy: LoginGuardPolicy = DEFAULT_LOGIN_GUARD,
  ) {
    this.#db = db;
    this.#policy = policy;
  }

  /** Milliseconds until the longest lockout among `subjects` ends; 0 when none is locked. */
  lockedFor(subjects: [GuardScope, string][], now: number): number {
    let wait = 0;
    for (const [scope, subject] of subjects) {
      const row = this.#row(scope, subject);
      if (row !== null) wait = Math.max(wait, row.lockedUntil - now);
    }
    return Math.max(0, wait);
  }

  /** Counts one failure of each subject; returns the longest lockout it started (ms, 0 for none). */
  fail(subjects: [GuardScope, string][], now: number): number {
    let wait = 0;
    for (const [scope, subject] of subjects) {
      const row = this.#row(scope, subject);
      const fresh = row === null ||
        now - row.lastFailureAt > this.#policy.windowMs;
      const failures = (fresh ? 0 : row.failures) + 1;
      const lock = lockDuration(failures, scope, this.#policy);
      this.#db.prepare(
        `INSERT INTO login_failures (scope, subject, failures, last_failure_at, locked_until)
         VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (scope, subject) DO UPDATE SET failures = excluded.failures,
           last_failure_at = excluded.last_failure_at, locked_until = excluded.locked_until`,
      ).run(scope, subject, failures, now, lock === 0 ? 0 : now + lock);
      wait = Math.max(wait, lock);
    }
    return wait;
  }

  /** Forgets the failures of one subject (a user after a successful login). */
  forget(scope: GuardScope, subject: string): void {
    this.#db.prepare(
      "DELETE FROM login_failures WHERE scope = ? AND subject = ?",
    )
      .run(scope, subject);
  }

  #row(
    scope: GuardScope,
    subject: string,
  ): { failures: number; lastFailureAt: number; lockedUntil: number } | null {
    const row = this.#db.prepare(
      `SELECT failures, last_failure_at AS lastFailureAt, locked_until AS lockedUntil
       FROM login_failures WHERE scope = ? AND subject = ?`,
    ).get(scope, subject);
    if (row === undefined) return null;
    return {
      failures: Number(row.failures),
      lastFailureAt: Number(row.lastFailureAt),
      lockedUntil: Number(row.lockedUntil),
    };
  }
}
