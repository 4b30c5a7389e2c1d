/**
 * SHA-256 and a constant-time compare, synchronous, for the hot path: a
 * client key is hashed on every request that carries one, and a rate-limit
 * bucket is found by the hash of its name.
 *
 * `node:crypto` would do the same, but loading its Node.js compatibility
 * layer costs about 2.4 MiB of memory in every isolate (the supervisor and
 * each worker); `@noble/hashes` is plain JavaScript and costs a fraction of
 * that (docs/architecture.md, "Memory"). WebCrypto's digest is asynchronous.
 *
 * @module
 */
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";

const encoder = new TextEncoder();

/** SHA-256 of the UTF-8 bytes of `text`. */
export function sha256(text: string): Uint8Array {
  return nobleSha256(encoder.encode(text));
}

/** SHA-256 of the UTF-8 bytes of `text`, as 64 lowercase hex digits. */
export function sha256Hex(text: string): string {
  return sha256(text).toHex();
}

/**
 * Whether `a` and `b` hold the same bytes, in time that depends only on
 * their lengths (like `timingSafeEqual` of `node:crypto`, which throws on
 * different lengths where this returns false).
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  let diff = 0;
  for (let i = 0; i < a.byteLength; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}
