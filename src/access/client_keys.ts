/**
 * Client API keys: what a key is (its record, status, expiry and model
 * allowlist rules) and the in-memory verifier every worker checks requests
 * against. Nothing here touches SQLite, so serving threads import it without
 * `node:sqlite`; the `client_keys` table is in key_store.ts, which only the
 * store worker and `flow-proxy keys` open.
 *
 * A key is `fpk_` + 32 random bytes (base64url). Only its SHA-256 is stored,
 * with a short prefix for display; the key itself is shown once, at creation.
 * Keys are never deleted: a revoked key stays in the table (so that `keys
 * list` shows it and the verifier can say why it is refused), and a new key
 * may then take the same name.
 */
import { constantTimeEqual, sha256, sha256Hex } from "../base/digest.ts";
import { parseDeadline } from "../base/time_grammar.ts";
import type { Budget, SharedBudget } from "./budget.ts";

/** Prefix of every client key, so that a leaked key is recognisable. */
export const KEY_PREFIX = "fpk_";
/** Allowed key names. */
export const KEY_NAME_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
/** Most models one key's allowlist may hold. */
const MAX_MODELS = 256;

/** Why a key is not usable, or `active`. */
export type KeyStatus = "active" | "revoked" | "expired";

/** One row of `client_keys`, without the hash. Times are epoch milliseconds. */
export interface KeyRecord {
  id: number;
  name: string;
  /** `fpk_` and the first characters of the key: enough to recognise it, useless to use it. */
  prefix: string;
  createdAt: number;
  expiresAt: number | null;
  /** Requests per minute; null = the server's default (`--default-rpm`), 0 = unlimited. */
  rpm: number | null;
  /** Bucket size; null = the RPM (or the server's default burst when the RPM is the default too). */
  burst: number | null;
  /** Models this key may call (a trailing `*` matches a prefix); null = any. */
  models: string[] | null;
  revokedAt: number | null;
  lastUsedAt: number | null;
  /** Tokens, spend and parallel requests allowed per period (src/access/budget.ts); null or absent = none. */
  budget?: Budget | null;
  /** The user (accounts) the key belongs to; absent or null: nobody's, managed by operators. */
  owner?: string | null;
  /**
   * Budgets of the owner and the owner's team (added by the store worker);
   * absent when neither has one.
   */
  shared?: SharedBudget[];
}

/** A record with the SHA-256 (hex) of its key, as {@linkcode KeyVerifier} needs it. */
export interface StoredKey extends KeyRecord {
  hash: string;
  /**
   * What the request log says the key used in its budget's current period
   * (added by the store worker): seeds the shared budget counters of a
   * process that has not counted this period yet.
   */
  budgetUsed?: { period: number; tokens: number; nanos: number };
}

/** What `KeyStore.create` (key_store.ts) takes. */
export interface CreateKeyInput {
  name: string;
  rpm?: number | null;
  burst?: number | null;
  models?: string[] | null;
  /** Absolute expiry, epoch ms (see {@linkcode parseExpiry}); null or absent = never. */
  expiresAt?: number | null;
  /** A budget checked by `validateBudget` (src/access/budget.ts); null or absent = none. */
  budget?: Budget | null;
  /** The user the key belongs to; null or absent = nobody's. */
  owner?: string | null;
}

/** What `KeyStore.update` changes: the fields given (null resets one), the others kept. */
export type KeyChanges = Pick<
  CreateKeyInput,
  "rpm" | "burst" | "models" | "expiresAt"
>;

/** The status of a key at time `now`. */
export function keyStatus(record: KeyRecord, now: number): KeyStatus {
  if (record.revokedAt !== null) return "revoked";
  if (record.expiresAt !== null && record.expiresAt <= now) return "expired";
  return "active";
}

/** Makes a new random key: `fpk_` + 32 random bytes in base64url (43 characters). */
export function generateKey(): string {
  return KEY_PREFIX +
    crypto.getRandomValues(new Uint8Array(32)).toBase64({
      alphabet: "base64url",
      omitPadding: true,
    });
}

/** SHA-256 of a key, hex. */
export function hashKey(key: string): string {
  return sha256Hex(key);
}

/**
 * Parses an expiry: a duration from `now` (`30d`, `12h`, `90m`, `2w`) or an
 * ISO date or date-time (`2026-12-31`, `2026-12-31T18:00:00Z`). Returns epoch ms.
 */
export function parseExpiry(value: string, now: number): number {
  // The base time grammar: a date-time without a zone is UTC.
  const at = parseDeadline(value, now);
  if (at === null) {
    throw new TypeError(
      `Invalid expiry "${value}": use a duration such as 30d, 12h or 90m, or a date such as 2026-12-31`,
    );
  }
  if (at <= now) {
    throw new RangeError(`Invalid expiry "${value}": it is not in the future`);
  }
  return at;
}

/** Checks a new key's fields; throws a `TypeError`/`RangeError` naming the field. */
export function validateKeyInput(input: CreateKeyInput): void {
  if (typeof input.name !== "string" || !KEY_NAME_PATTERN.test(input.name)) {
    throw new TypeError(
      `Invalid key name "${
        String(input.name)
      }": use 1 to 64 letters, digits, ".", "_" or "-"`,
    );
  }
  if (input.rpm !== undefined && input.rpm !== null) {
    if (
      !Number.isSafeInteger(input.rpm) || input.rpm < 0 || input.rpm > 1_000_000
    ) {
      throw new RangeError(
        `Invalid rpm ${input.rpm}: must be a whole number from 0 (unlimited) to 1000000`,
      );
    }
  }
  if (input.burst !== undefined && input.burst !== null) {
    if (
      !Number.isSafeInteger(input.burst) || input.burst < 1 ||
      input.burst > 1_000_000
    ) {
      throw new RangeError(
        `Invalid burst ${input.burst}: must be a whole number from 1 to 1000000`,
      );
    }
  }
  if (input.models !== undefined && input.models !== null) {
    if (
      !Array.isArray(input.models) || input.models.length === 0 ||
      input.models.length > MAX_MODELS
    ) {
      throw new TypeError(
        `Invalid models: must be a list of 1 to ${MAX_MODELS} model names`,
      );
    }
    for (const model of input.models) {
      if (
        typeof model !== "string" || !/^[\x21-\x7e]{1,256}$/.test(model) ||
        model.includes(",")
      ) {
        throw new TypeError(
          `Invalid model name "${
            String(model)
          }": must be 1 to 256 visible characters, no comma`,
        );
      }
    }
  }
  if (
    input.expiresAt !== undefined && input.expiresAt !== null &&
    !Number.isFinite(input.expiresAt)
  ) {
    throw new TypeError("Invalid expiry: must be a time in epoch milliseconds");
  }
}

/** Whether `model` is allowed by an allowlist (null = any; `prefix*` matches a prefix). */
export function modelAllowed(
  models: readonly string[] | null,
  model: string,
): boolean {
  if (models === null) return true;
  for (const allowed of models) {
    if (allowed === model) return true;
    if (allowed.endsWith("*") && model.startsWith(allowed.slice(0, -1))) {
      return true;
    }
  }
  return false;
}

/** A record as JSON for `keys list --json` and the admin API (ISO times, snake_case, status). */
export function keyRecordJson(
  record: KeyRecord,
  now: number,
): Record<string, unknown> {
  const iso = (t: number | null) =>
    t === null ? null : new Date(t).toISOString();
  return {
    "name": record.name,
    "prefix": record.prefix,
    "status": keyStatus(record, now),
    "created_at": iso(record.createdAt),
    "expires_at": iso(record.expiresAt),
    "rpm": record.rpm,
    "burst": record.burst,
    "models": record.models,
    "revoked_at": iso(record.revokedAt),
    "last_used_at": iso(record.lastUsedAt),
    "owner": record.owner ?? null,
    "budget": budgetJson(record.budget ?? null),
  };
}

/** A budget as `keys list --json` and the admin API show it (spend in currency units). */
export function budgetJson(
  budget: Budget | null,
): Record<string, unknown> | null {
  if (budget === null) return null;
  return {
    "period": budget.period,
    "tokens": budget.tokens,
    "spend": budget.spendNanos === null ? null : budget.spendNanos / 1e9,
    "max_parallel": budget.maxParallel,
  };
}

/** Outcome of {@linkcode KeyVerifier.verify}; `reason` is for logs, never for the client. */
export type VerifyResult =
  | { ok: true; record: KeyRecord }
  | {
    ok: false;
    reason: "unknown_key" | "revoked_key" | "expired_key";
    record: KeyRecord | null;
  };

interface VerifierEntry {
  record: KeyRecord;
  hash: Uint8Array;
}

/** Presented keys remembered by a verifier (more only when more keys are in use at once). */
const MAX_KNOWN = 1024;

/** The keys of one worker, in memory: verifying a key is one SHA-256 and one map lookup (a lookup alone for a key seen since the last load). */
export class KeyVerifier {
  #byHash = new Map<string, VerifierEntry>();
  /**
   * Presented keys that matched a stored hash, so a client's key is hashed
   * once per load and not on every request (a SHA-256 in JavaScript costs a
   * few µs, a Map lookup a few ns). Only keys that are stored get in, so
   * guesses cannot fill it; the status is checked on every request.
   */
  #known = new Map<string, VerifierEntry>();
  #enforced = false;

  /** Starts with `snapshot` (from `KeyStore.snapshot`, key_store.ts), or no key. */
  constructor(snapshot: readonly StoredKey[] = []) {
    this.load(snapshot);
  }

  /** Replaces every key with `snapshot`. */
  load(snapshot: readonly StoredKey[]): void {
    const next = new Map<string, VerifierEntry>();
    for (const { hash, ...record } of snapshot) {
      next.set(hash, { record, hash: Uint8Array.fromHex(hash) });
    }
    this.#byHash = next;
    this.#known = new Map();
    if (next.size > 0) this.#enforced = true;
  }

  /** Keys known, revoked and expired included. */
  get size(): number {
    return this.#byHash.size;
  }

  /**
   * Whether keys are enforced: once any key was loaded, for good. A database
   * deleted or replaced by an empty one must not open the proxy, as revoking
   * the last key does not.
   */
  get enforced(): boolean {
    return this.#enforced;
  }

  /** Checks a presented key at time `now` (epoch ms). */
  verify(presented: string, now: number): VerifyResult {
    // Looking up by the hash only tells an attacker about hashes of guesses,
    // never about a stored key; the compare is constant-time all the same.
    let entry = this.#known.get(presented);
    if (entry === undefined) {
      const digest = sha256(presented);
      entry = this.#byHash.get(digest.toHex());
      if (entry === undefined || !constantTimeEqual(digest, entry.hash)) {
        return { ok: false, reason: "unknown_key", record: null };
      }
      if (this.#known.size >= MAX_KNOWN) this.#known.clear();
      this.#known.set(presented, entry);
    }
    const status = keyStatus(entry.record, now);
    if (status === "revoked") {
      return { ok: false, reason: "revoked_key", record: entry.record };
    }
    if (status === "expired") {
      return { ok: false, reason: "expired_key", record: entry.record };
    }
    return { ok: true, record: entry.record };
  }
}
