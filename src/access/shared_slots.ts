/**
 * Slots keyed by name in a SharedArrayBuffer, found the same way by every
 * worker: open addressing over a 64-bit hash of the name, the first worker
 * to need a free slot claiming it with a compare-and-swap. Used by the
 * rate limits and the budgets.
 */
import { sha256 } from "../base/digest.ts";

/** Tags already computed, by name: a key's limit is found on every request it makes. */
const TAGS = new Map<string, bigint>();
/** Names are keys, users and teams: a bound only against a caller that makes up names. */
const MAX_TAGS = 4096;

/** The 64-bit tag a slot of `key` is marked with (never 0, which marks a free slot). */
export function slotTag(key: string): bigint {
  // A SHA-256 costs a few µs in JavaScript; a Map lookup a few ns.
  const known = TAGS.get(key);
  if (known !== undefined) return known;
  const digest = sha256(key);
  const raw = new DataView(digest.buffer, digest.byteOffset, 8).getBigInt64(
    0,
    true,
  );
  const tag = raw === 0n ? 1n : raw;
  if (TAGS.size >= MAX_TAGS) TAGS.clear();
  TAGS.set(key, tag);
  return tag;
}

/**
 * The slot marked `tag` among `slots` slots of `stride` values each (the tag
 * first), claimed if none is: the index of its first value, or -1 when every
 * slot belongs to another name.
 */
export function claimSlot(
  cells: BigInt64Array,
  slots: number,
  stride: number,
  tag: bigint,
): number {
  const start = Number(BigInt.asUintN(64, tag) % BigInt(slots));
  for (let probe = 0; probe < slots; probe++) {
    const base = ((start + probe) % slots) * stride;
    const seen = Atomics.load(cells, base);
    if (seen === tag) return base;
    if (seen === 0n) {
      const was = Atomics.compareExchange(cells, base, 0n, tag);
      // Claimed by us, or by another worker for the same name.
      if (was === 0n || was === tag) return base;
    }
  }
  return -1;
}
