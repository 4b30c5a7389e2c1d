/**
 * Random secrets of the accounts room (session ids, CSRF tokens, API
 * tokens): 32 bytes from the platform's CSPRNG, base64url, behind a prefix
 * that says what each is; stored only as their SHA-256.
 *
 * @module
 */
import { sha256Hex } from "../base/digest.ts";

/** Bytes of randomness in every secret: 256 bits. */
export const SECRET_BYTES = 32;

/** A new random secret: `prefix` and 43 base64url characters. */
export function randomSecret(prefix: string): string {
  const bytes = crypto.getRandomValues(new Uint8Array(SECRET_BYTES));
  return prefix + bytes.toBase64({ alphabet: "base64url", omitPadding: true });
}

/** How a secret is stored and looked up: SHA-256 hex (the secret has 256 bits, so no salt or KDF is needed). */
export function secretHash(secret: string): string {
  return sha256Hex(secret);
}
