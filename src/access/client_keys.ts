/**
 * Client API keys: the `client_keys` table of the embedded SQLite database,
 * and the in-memory verifier every worker checks requests against.
 *
 * A key is `fpk_` + 32 random bytes (base64url). Only its SHA-256 is stored,
 * with a short prefix for display; the key itself is shown once, at creation.
 * Keys are never deleted: a revoked key stays in the table (so that `keys
 * list` shows it and the verifier can say why it is refused), and a new key
 * may then take the same name.
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { constantTimeEqual, sha256, sha256Hex } from "../base/digest.ts";
import {
  openDatabase,
  rollbackAfter,
  type SqliteOpenError,
} from "../base/sqlite.ts";

/** Prefix of every client key, so that a leaked key is recognisable. */
export const KEY_PREFIX = "fpk_";
/** Characters after {@linkcode KEY_PREFIX} kept for display (short enough to stay non-secret). */
const DISPLAY_CHARS = 6;
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
}

/** A record with the SHA-256 (hex) of its key, as {@linkcode KeyVerifier} needs it. */
export interface StoredKey extends KeyRecord {
  hash: string;
}

/** What {@linkcode KeyStore.create} takes. */
export interface CreateKeyInput {
  name: string;
  rpm?: number | null;
  burst?: number | null;
  models?: string[] | null;
  /** Absolute expiry, epoch ms (see {@linkcode parseExpiry}); null or absent = never. */
  expiresAt?: number | null;
}

/** Options of {@linkcode openKeyStore}. */
export interface KeyStoreOptions {
  /** Clock, epoch ms; injectable for tests. */
  now?: () => number;
  /** Write buffered last-used times at most this often, from {@linkcode KeyStore.touch}. Default 1000 ms. */
  touchFlushMs?: number;
}

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

const EXPIRY_UNITS: Record<string, number> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** A whole number with a unit `s`, `m`, `h`, `d` or `w` (`30d`) in ms; null when `value` is not one. */
export function parseLongDuration(value: string): number | null {
  const match = /^(\d+)\s*([smhdw])$/.exec(value.trim());
  return match ? Number(match[1]) * EXPIRY_UNITS[match[2]] : null;
}

/**
 * Parses an expiry: a duration from `now` (`30d`, `12h`, `90m`, `2w`) or an
 * ISO date or date-time (`2026-12-31`, `2026-12-31T18:00:00Z`). Returns epoch ms.
 */
export function parseExpiry(value: string, now: number): number {
  const text = value.trim();
  const duration = parseLongDuration(text);
  let at: number;
  if (duration !== null) {
    at = now + duration;
  } else if (
    /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text)
  ) {
    at = Date.parse(text);
  } else {
    at = NaN;
  }
  if (!Number.isFinite(at)) {
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
  };
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS client_keys (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  prefix TEXT NOT NULL,
  hash TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  rpm INTEGER,
  burst INTEGER,
  models TEXT,
  revoked_at INTEGER,
  last_used_at INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS client_keys_hash ON client_keys (hash);
CREATE UNIQUE INDEX IF NOT EXISTS client_keys_active_name ON client_keys (name) WHERE revoked_at IS NULL;
`;

const COLUMNS =
  `id, name, prefix, hash, created_at AS createdAt, expires_at AS expiresAt, rpm, burst,
  models, revoked_at AS revokedAt, last_used_at AS lastUsedAt`;

/** SQLite's extended code for a UNIQUE constraint violation. */
const SQLITE_CONSTRAINT_UNIQUE = 2067;

/** Client keys in the SQLite database; one instance per thread (the connection is not shareable). */
export class KeyStore {
  #db: DatabaseSync;
  #now: () => number;
  #touchFlushMs: number;
  #pendingTouches = new Map<string, number>();
  #lastFlush = 0;
  #insert: StatementSync;
  #selectAll: StatementSync;
  #stamp: StatementSync;
  #touchStatement: StatementSync;
  #closed = false;

  /** Use {@linkcode openKeyStore}. */
  constructor(db: DatabaseSync, options: KeyStoreOptions = {}) {
    this.#db = db;
    this.#now = options.now ?? Date.now;
    this.#touchFlushMs = options.touchFlushMs ?? 1000;
    this.#insert = db.prepare(
      `INSERT INTO client_keys (name, prefix, hash, created_at, expires_at, rpm, burst, models)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#selectAll = db.prepare(
      `SELECT ${COLUMNS} FROM client_keys ORDER BY id`,
    );
    // Changes on every create (max id) and revoke (revoked count), not on last-used updates.
    this.#stamp = db.prepare(
      `SELECT count(*) || ':' || coalesce(max(id), 0) || ':' || count(revoked_at) AS stamp FROM client_keys`,
    );
    this.#touchStatement = db.prepare(
      `UPDATE client_keys SET last_used_at = max(coalesce(last_used_at, 0), ?)
       WHERE name = ? AND revoked_at IS NULL`,
    );
  }

  /** Creates a key; the returned `key` is the only copy there will ever be. */
  create(input: CreateKeyInput): { key: string; record: KeyRecord } {
    validateKeyInput(input);
    const key = generateKey();
    const prefix = key.slice(0, KEY_PREFIX.length + DISPLAY_CHARS);
    const models = input.models ? JSON.stringify(input.models) : null;
    let id: number;
    try {
      const result = this.#insert.run(
        input.name,
        prefix,
        hashKey(key),
        this.#now(),
        input.expiresAt ?? null,
        input.rpm ?? null,
        input.burst ?? null,
        models,
      );
      id = Number(result.lastInsertRowid);
    } catch (err) {
      if ((err as { errcode?: number }).errcode === SQLITE_CONSTRAINT_UNIQUE) {
        throw new Error(
          `A key named "${input.name}" already exists: revoke it first or choose another name`,
          {
            cause: err,
          },
        );
      }
      throw err;
    }
    const row = this.#db.prepare(
      `SELECT ${COLUMNS} FROM client_keys WHERE id = ?`,
    ).get(id);
    const { hash: _hash, ...record } = toRecord(row as unknown as Row);
    return { key, record };
  }

  /** Every key, oldest first, revoked and expired ones included; never the keys themselves. */
  list(): KeyRecord[] {
    return this.snapshot().map(({ hash: _hash, ...record }) => record);
  }

  /** Revokes the active key called `name`; false when there is none. */
  revoke(name: string): boolean {
    this.flush();
    const result = this.#db.prepare(
      "UPDATE client_keys SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
    ).run(this.#now(), name);
    return Number(result.changes) > 0;
  }

  /** Number of keys ever created and still in the table (enforcement is on once there is one). */
  count(): number {
    const row = this.#db.prepare("SELECT count(*) AS n FROM client_keys")
      .get() as { n: number };
    return Number(row.n);
  }

  /** Records a use of key `name`; written in batches (see {@linkcode KeyStoreOptions.touchFlushMs}). */
  touch(name: string, when: number): void {
    const previous = this.#pendingTouches.get(name);
    if (previous === undefined || previous < when) {
      this.#pendingTouches.set(name, when);
    }
    if (this.#now() - this.#lastFlush >= this.#touchFlushMs) this.flush();
  }

  /**
   * Writes the buffered last-used times now. When the write fails (a locked
   * or full database) the times stay buffered for the next flush and the
   * error thrown is SQLite's own, never a failed ROLLBACK's.
   */
  flush(): void {
    this.#lastFlush = this.#now();
    if (this.#pendingTouches.size === 0 || this.#closed) return;
    const pending = [...this.#pendingTouches];
    this.#pendingTouches.clear();
    try {
      this.#db.exec("BEGIN IMMEDIATE");
      try {
        for (const [name, when] of pending) {
          this.#touchStatement.run(when, name);
        }
        this.#db.exec("COMMIT");
      } catch (err) {
        throw rollbackAfter(this.#db, err);
      }
    } catch (err) {
      for (const [name, when] of pending) {
        const newer = this.#pendingTouches.get(name);
        if (newer === undefined || newer < when) {
          this.#pendingTouches.set(name, when);
        }
      }
      throw new Error(
        `Cannot write the last-used times of ${pending.length} client keys: ${
          (err as Error).message
        }`,
        { cause: err },
      );
    }
  }

  /** Last-used times buffered and not written yet. */
  get pendingTouches(): number {
    return this.#pendingTouches.size;
  }

  /** Every key with its hash, for {@linkcode KeyVerifier.load}. */
  snapshot(): StoredKey[] {
    return (this.#selectAll.all() as unknown as Row[]).map(toRecord);
  }

  /** A cheap value that changes whenever a key is created or revoked, by any process. */
  changeStamp(): string {
    return String((this.#stamp.get() as { stamp: string }).stamp);
  }

  /** Flushes last-used times and closes the connection. */
  close(): void {
    if (this.#closed) return;
    try {
      this.flush();
    } finally {
      this.#closed = true;
      this.#db.close();
    }
  }

  /** Same as {@linkcode close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}

interface Row {
  id: number | bigint;
  name: string;
  prefix: string;
  hash: string;
  createdAt: number;
  expiresAt: number | null;
  rpm: number | null;
  burst: number | null;
  models: string | null;
  revokedAt: number | null;
  lastUsedAt: number | null;
}

function toRecord(row: Row): StoredKey {
  const num = (v: number | bigint | null) => v === null ? null : Number(v);
  return {
    id: Number(row.id),
    name: row.name,
    prefix: row.prefix,
    hash: row.hash,
    createdAt: Number(row.createdAt),
    expiresAt: num(row.expiresAt),
    rpm: num(row.rpm),
    burst: num(row.burst),
    models: row.models === null ? null : JSON.parse(row.models) as string[],
    revokedAt: num(row.revokedAt),
    lastUsedAt: num(row.lastUsedAt),
  };
}

/**
 * How long a key statement waits for another connection's lock: `flow-proxy
 * keys` and the admin API make one statement per command, and a person can
 * wait five seconds for a `sqlite3` shell's transaction to end.
 */
const KEY_BUSY_TIMEOUT_MS = 5000;

/**
 * Opens (creating if needed) the database at `path` and its `client_keys`
 * table. WAL and a busy timeout let the request log, workers and the `keys`
 * command share the file.
 */
export function openKeyStore(
  path: string,
  options: KeyStoreOptions = {},
): KeyStore {
  let db: DatabaseSync;
  try {
    db = openDatabase(path, { busyTimeoutMs: KEY_BUSY_TIMEOUT_MS });
  } catch (err) {
    const { stage, message, cause } = err as SqliteOpenError;
    throw new Error(
      `Cannot ${
        stage === "open" ? "open" : "use"
      } key database "${path}": ${message}`,
      { cause },
    );
  }
  try {
    db.exec(SCHEMA);
    return new KeyStore(db, options);
  } catch (err) {
    db.close();
    throw new Error(
      `Cannot use key database "${path}": ${(err as Error).message}`,
      { cause: err },
    );
  }
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

/** The keys of one worker, in memory: verifying a key is one SHA-256 and one map lookup. */
export class KeyVerifier {
  #byHash = new Map<string, VerifierEntry>();
  #enforced = false;

  /** Starts with `snapshot` (from {@linkcode KeyStore.snapshot}), or no key. */
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
    const digest = sha256(presented);
    const entry = this.#byHash.get(digest.toHex());
    if (entry === undefined || !constantTimeEqual(digest, entry.hash)) {
      return { ok: false, reason: "unknown_key", record: null };
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

/** What {@linkcode watchKeys} uses of a {@linkcode KeyStore}. */
export type WatchedStore = Pick<KeyStore, "changeStamp" | "snapshot" | "flush">;

/** Options of {@linkcode watchKeys}. */
export interface WatchKeysOptions {
  /** How often to look for changes; default 1000 ms. */
  intervalMs?: number;
  /** Called after the verifier was reloaded, with the number of keys. */
  onReload?: (count: number) => void;
  /** Called with the first error of a run of failed polls (a locked or missing database). */
  onError?: (err: unknown) => void;
}

/** A running {@linkcode watchKeys}; close it on shutdown. */
export interface KeyWatch extends Disposable {
  /** Reloads now if the store changed (e.g. right after the admin API changed a key); true if it did. */
  check(): boolean;
  /** Stops polling (and flushes last-used times); the poll timer keeps the event loop alive until then. */
  close(): void;
}

/**
 * Keeps `verifier` in step with `store`: loads it now, then polls the store's
 * change stamp, so keys created or revoked by any process (`flow-proxy keys`,
 * the admin API in another worker) take effect within one interval. Each
 * poll also writes the store's buffered last-used times.
 */
export function watchKeys(
  store: WatchedStore,
  verifier: KeyVerifier,
  options: WatchKeysOptions = {},
): KeyWatch {
  let stamp = store.changeStamp();
  verifier.load(store.snapshot());
  let failing = false;

  function check(): boolean {
    const current = store.changeStamp();
    if (current === stamp) return false;
    const snapshot = store.snapshot();
    stamp = current;
    verifier.load(snapshot);
    options.onReload?.(snapshot.length);
    return true;
  }

  function poll(): void {
    try {
      store.flush();
      check();
      failing = false;
    } catch (err) {
      if (!failing) options.onError?.(err);
      failing = true;
    }
  }

  const timer = setInterval(poll, options.intervalMs ?? 1000);
  let closed = false;
  function close(): void {
    if (closed) return;
    closed = true;
    clearInterval(timer);
    try {
      store.flush();
    } catch (err) {
      options.onError?.(err);
    }
  }
  return { check, close, [Symbol.dispose]: close };
}
