/**
 * Charges that could not reach Redis, kept until it answers again. Each
 * carries its idempotency key (the lease id), so a charge that did reach
 * Redis before its answer timed out is not counted a second time when the
 * buffer is flushed (src/cluster/limit_scripts.ts `fpSettle`).
 *
 * @module
 */

/** One charge of a budget counter. */
export interface Charge {
  /** The counter: a key's name, `user:<name>`, `team:<name>`. */
  slot: string;
  /** Idempotency key: the lease id, unique across instances. */
  id: string;
  /** Start of the period the request was let through in, epoch ms. */
  period: number;
  tokens: number;
  /** -1: the model has no price. */
  nanos: number;
  /** Token and spend limits for the thresholds (-1: none). */
  tokenLimit: number;
  spendLimit: number;
}

/** Most charges kept; beyond it the oldest are dropped (and counted). */
export const MAX_BUFFERED_CHARGES = 100_000;

/** Charges waiting for Redis, oldest first. */
export class SpendBuffer {
  #charges: Charge[] = [];
  #dropped = 0;
  #max: number;

  constructor(max: number = MAX_BUFFERED_CHARGES) {
    this.#max = max;
  }

  /** Charges waiting. */
  get size(): number {
    return this.#charges.length;
  }

  /** Charges dropped because the buffer was full, since the last {@linkcode takeDropped}. */
  takeDropped(): number {
    const dropped = this.#dropped;
    this.#dropped = 0;
    return dropped;
  }

  /** Keeps `charge` until the next flush. */
  push(charge: Charge): void {
    if (this.#charges.length >= this.#max) {
      this.#charges.shift();
      this.#dropped++;
    }
    this.#charges.push(charge);
  }

  /**
   * Sends every waiting charge with `send` (all at once: one pipeline);
   * those it rejects stay for the next flush. Resolves with how many were
   * delivered.
   */
  async flush(send: (charge: Charge) => Promise<unknown>): Promise<number> {
    const batch = this.#charges;
    this.#charges = [];
    if (batch.length === 0) return 0;
    const outcomes = await Promise.allSettled(batch.map(send));
    const again = batch.filter((_, i) => outcomes[i].status === "rejected");
    // Charges made during the flush stay after the ones sent before them.
    this.#charges = again.concat(this.#charges);
    return batch.length - again.length;
  }
}
