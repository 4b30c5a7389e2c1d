/**
 * Password hashing with scrypt (`@noble/hashes`, plain JavaScript, already a
 * dependency): a 16-byte random salt per password, and the parameters stored
 * with the hash so that they can be raised later without invalidating old
 * hashes. The stored form is
 *
 * ```
 * scrypt$<log2 N>$<r>$<p>$<salt, base64url>$<32-byte key, base64url>
 * ```
 *
 * Defaults: N = 2^16, r = 8, p = 1 (64 MiB and about 0.2 s per hash on one
 * core). The asynchronous form yields to the event loop while it works, so the
 * store worker that runs it keeps answering other messages.
 *
 * @module
 */
import { scrypt, scryptAsync } from "@noble/hashes/scrypt.js";
import { constantTimeEqual } from "../base/digest.ts";

/** Shortest password accepted, in characters. */
export const MIN_PASSWORD_LENGTH = 12;
/** Longest password accepted, in characters (bounds the work of one hash). */
export const MAX_PASSWORD_LENGTH = 1024;

/** scrypt's cost parameters. */
export interface ScryptParams {
  /** log2 of the CPU/memory cost N. */
  logN: number;
  /** Block size. */
  r: number;
  /** Parallelism. */
  p: number;
}

/** The parameters new hashes get unless told otherwise. */
export const DEFAULT_SCRYPT: Readonly<ScryptParams> = { logN: 16, r: 8, p: 1 };

const KEY_BYTES = 32;
const SALT_BYTES = 16;
const encoder = new TextEncoder();

/** Throws `RangeError` saying why `password` is not acceptable. */
export function checkPasswordStrength(password: string): void {
  const length = [...password].length;
  if (length < MIN_PASSWORD_LENGTH) {
    throw new RangeError(
      `Password too short: at least ${MIN_PASSWORD_LENGTH} characters are needed`,
    );
  }
  if (length > MAX_PASSWORD_LENGTH) {
    throw new RangeError(
      `Password too long: at most ${MAX_PASSWORD_LENGTH} characters`,
    );
  }
  if (new Set(password).size < 4) {
    throw new RangeError(
      "Password too weak: use at least 4 different characters",
    );
  }
}

/** The stored form of `password` (see the module doc); checks its strength first. */
export async function hashPassword(
  password: string,
  params: ScryptParams = DEFAULT_SCRYPT,
): Promise<string> {
  checkPasswordStrength(password);
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const key = await scryptAsync(encoder.encode(password), salt, {
    N: 2 ** params.logN,
    r: params.r,
    p: params.p,
    dkLen: KEY_BYTES,
  });
  return [
    "scrypt",
    params.logN,
    params.r,
    params.p,
    salt.toBase64({ alphabet: "base64url", omitPadding: true }),
    key.toBase64({ alphabet: "base64url", omitPadding: true }),
  ].join("$");
}

/**
 * Whether `password` matches `stored`, compared in constant time. A stored
 * value that cannot be read is a mismatch, never an error.
 */
export async function verifyPassword(
  password: string,
  stored: string,
): Promise<boolean> {
  const parsed = parseStored(stored);
  if (parsed === null || password.length > MAX_PASSWORD_LENGTH * 4) {
    return false;
  }
  const key = await scryptAsync(encoder.encode(password), parsed.salt, {
    N: 2 ** parsed.params.logN,
    r: parsed.params.r,
    p: parsed.params.p,
    dkLen: parsed.key.byteLength,
  });
  return constantTimeEqual(key, parsed.key);
}

/** The parameters a stored hash was made with; null when it is not one of ours. */
export function storedParams(stored: string): ScryptParams | null {
  return parseStored(stored)?.params ?? null;
}

/**
 * A hash of a random password with `params`: checked against for unknown
 * users, so that a login for a name that does not exist costs the same time.
 */
export function decoyHash(params: ScryptParams = DEFAULT_SCRYPT): string {
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const key = scrypt(crypto.getRandomValues(new Uint8Array(16)), salt, {
    N: 2 ** params.logN,
    r: params.r,
    p: params.p,
    dkLen: KEY_BYTES,
  });
  const b64 = (b: Uint8Array) =>
    b.toBase64({ alphabet: "base64url", omitPadding: true });
  return `scrypt$${params.logN}$${params.r}$${params.p}$${b64(salt)}$${
    b64(key)
  }`;
}

function parseStored(
  stored: string,
): { params: ScryptParams; salt: Uint8Array; key: Uint8Array } | null {
  const parts = stored.split("$");
  if (parts.length !== 6 || parts[0] !== "scrypt") return null;
  const [logN, r, p] = parts.slice(1, 4).map(Number);
  if (
    !Number.isInteger(logN) || logN < 1 || logN > 24 ||
    !Number.isInteger(r) || r < 1 || r > 64 ||
    !Number.isInteger(p) || p < 1 || p > 16
  ) {
    return null;
  }
  try {
    const salt = Uint8Array.fromBase64(parts[4], { alphabet: "base64url" });
    const key = Uint8Array.fromBase64(parts[5], { alphabet: "base64url" });
    if (salt.byteLength < 8 || key.byteLength < 16) return null;
    return { params: { logN, r, p }, salt, key };
  } catch {
    return null;
  }
}
