/**
 * Per-key rate limits shared by every worker, in the `limits` region of the
 * SharedArrayBuffer (src/base/shared_state.ts).
 *
 * Each key owns one slot, found by open addressing over a 64-bit hash of its
 * name: the first worker to need it claims it with a compare-and-swap, and
 * every worker then finds the same slot. A slot holds the key's token bucket
 * as one number, the GCRA "theoretical arrival time" (TAT): the bucket is
 * full when TAT ≤ now, each request pushes TAT one emission interval
 * (60 s / rpm) later, and a request is refused when that would put TAT more
 * than `burst` intervals ahead of now. One 64-bit value per bucket means a
 * single `Atomics.compareExchange` updates it, so two workers can never both
 * spend the same token.
 *
 * Layout of the `limits` region, all `LIMITS_BYTES` of it (the size is set
 * in src/base/shared_state.ts; the slot count follows from it):
 * ```
 * region  tags  BigInt64[SLOTS]  0 = free, else the key's hash
 *         tats  BigInt64[SLOTS]  theoretical arrival time, epoch µs
 * ```
 */
import { claimSlot, slotTag } from "./shared_slots.ts";
import { LIMITS_BYTES, type Region } from "../base/shared_state.ts";

/** Bytes the limiter needs in its region: the whole region. */
export const LIMITS_BYTE_LENGTH = LIMITS_BYTES;
/** Buckets the region holds: distinct key names one process can limit. */
export const LIMIT_SLOTS = LIMITS_BYTE_LENGTH / 16;

/** A key's limit: requests per minute and bucket size (both ≥ 1). */
export interface LimitRule {
  rpm: number;
  burst: number;
}

/** Outcome of {@linkcode RateLimiter.take}, with what the `x-ratelimit-*` headers say. */
export interface TakeResult {
  allowed: boolean;
  /** The rule's requests per minute. */
  limit: number;
  /** Requests that could still be made right now. */
  remaining: number;
  /** Seconds until the bucket is full again. */
  resetSeconds: number;
  /** When refused: seconds until one request will be allowed; else 0. */
  retryAfterSeconds: number;
}

/** Options of {@linkcode RateLimiter}. */
export interface RateLimiterOptions {
  /** Called once per key name when the shared table is full and the key falls back to a per-thread bucket. */
  onOverflow?: (key: string) => void;
}

const MICROS_PER_MINUTE = 60_000_000n;

/** Token buckets keyed by name, shared through a region of a SharedArrayBuffer. */
export class RateLimiter {
  #tags: BigInt64Array;
  #tats: BigInt64Array;
  #slots = new Map<string, number>();
  /** Buckets of keys that found no free slot: per thread, so not shared (see `onOverflow`). */
  #local = new Map<string, BigInt64Array>();
  #onOverflow?: (key: string) => void;

  /** Maps the limiter onto `region` (at least {@linkcode LIMITS_BYTE_LENGTH} bytes, 8-aligned). */
  constructor(region: Region, options: RateLimiterOptions = {}) {
    if (region.byteLength < LIMITS_BYTE_LENGTH) {
      throw new RangeError(
        `Rate-limit region has ${region.byteLength} bytes, needs ${LIMITS_BYTE_LENGTH}`,
      );
    }
    if (region.byteOffset % 8 !== 0) {
      throw new RangeError(
        `Rate-limit region must start at a multiple of 8, got offset ${region.byteOffset}`,
      );
    }
    this.#tags = new BigInt64Array(
      region.buffer,
      region.byteOffset,
      LIMIT_SLOTS,
    );
    this.#tats = new BigInt64Array(
      region.buffer,
      region.byteOffset + LIMIT_SLOTS * 8,
      LIMIT_SLOTS,
    );
    this.#onOverflow = options.onOverflow;
  }

  /** Takes one request from `key`'s bucket at time `now` (epoch ms). */
  take(key: string, rule: LimitRule, now: number): TakeResult {
    if (!Number.isSafeInteger(rule.rpm) || rule.rpm < 1) {
      throw new RangeError(
        `Rate limit must be at least 1 request per minute, got ${rule.rpm}`,
      );
    }
    if (!Number.isSafeInteger(rule.burst) || rule.burst < 1) {
      throw new RangeError(`Burst must be at least 1, got ${rule.burst}`);
    }
    let tats = this.#tats;
    let index = this.#slotOf(key);
    if (index < 0) {
      tats = this.#localBucket(key);
      index = 0;
    }
    const interval = (MICROS_PER_MINUTE + BigInt(rule.rpm) / 2n) /
      BigInt(rule.rpm);
    const capacity = interval * BigInt(rule.burst);
    const nowUs = BigInt(Math.floor(now * 1000));
    for (;;) {
      const tat = Atomics.load(tats, index);
      const next = (tat > nowUs ? tat : nowUs) + interval;
      if (next - nowUs > capacity) {
        return {
          allowed: false,
          limit: rule.rpm,
          remaining: 0,
          resetSeconds: ceilSeconds(tat - nowUs),
          retryAfterSeconds: Math.max(1, ceilSeconds(next - nowUs - capacity)),
        };
      }
      if (Atomics.compareExchange(tats, index, tat, next) === tat) {
        return {
          allowed: true,
          limit: rule.rpm,
          remaining: Number((capacity - (next - nowUs)) / interval),
          resetSeconds: ceilSeconds(next - nowUs),
          retryAfterSeconds: 0,
        };
      }
      // Another worker moved this bucket between the load and the swap: retry with its value.
    }
  }

  #slotOf(key: string): number {
    const cached = this.#slots.get(key);
    if (cached !== undefined) return cached;
    const index = claimSlot(this.#tags, LIMIT_SLOTS, 1, slotTag(key));
    if (index >= 0) {
      this.#slots.set(key, index);
      return index;
    }
    this.#slots.set(key, -1);
    this.#onOverflow?.(key);
    return -1;
  }

  #localBucket(key: string): BigInt64Array {
    let bucket = this.#local.get(key);
    if (bucket === undefined) {
      bucket = new BigInt64Array(1);
      this.#local.set(key, bucket);
    }
    return bucket;
  }
}

function ceilSeconds(micros: bigint): number {
  if (micros <= 0n) return 0;
  return Number((micros + 999_999n) / 1_000_000n);
}

/** The effective rule of a key: its own RPM/burst, else the server's defaults; null = unlimited. */
export function effectiveRule(
  key: { rpm: number | null; burst: number | null },
  defaults: { rpm: number; burst: number },
): LimitRule | null {
  const rpm = key.rpm ?? defaults.rpm;
  if (rpm <= 0) return null;
  const burst = key.burst ??
    (key.rpm === null && defaults.burst > 0 ? defaults.burst : rpm);
  return { rpm, burst };
}
