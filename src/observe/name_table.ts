/**
 * A fixed table of short names in shared memory, so that a label (a model, a
 * client key name) gets the same slot in every thread and the set of label
 * values stays bounded. Used by the metrics' model table and the client
 * metrics.
 *
 * Layout, at an offset that is a multiple of 4 inside its owner's region
 * ({@linkcode nameTableBytes} bytes):
 * ```
 * Int32  state [capacity]              0 empty, 1 being written, 2 ready
 * Int32  size  [capacity]              bytes of the name
 * Uint8  names [capacity][nameBytes]   UTF-8, truncated to nameBytes
 * ```
 * Slots fill in order. A writer claims the first empty slot with
 * `Atomics.compareExchange` (empty → writing), writes the bytes and the size,
 * then publishes `ready`: a reader that sees `ready` sees the whole name, and
 * two threads racing with one name may both intern it (readers sum by name).
 */
import type { Region } from "../base/shared_state.ts";

/** Options of {@linkcode NameTable}. */
export interface NameTableOptions {
  /** Slots in the table. */
  capacity: number;
  /** Longest name in UTF-8 bytes; longer names are truncated (to whole characters). */
  nameBytes: number;
}

/** Bytes a table of `capacity` names of up to `nameBytes` takes. */
export function nameTableBytes(capacity: number, nameBytes: number): number {
  return capacity * 8 + capacity * nameBytes;
}

const EMPTY = 0;
const WRITING = 1;
const READY = 2;
/** Names remembered per thread; beyond it a name is looked up in the table again. */
const CACHE_LIMIT = 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One thread's view of a shared name table. */
export class NameTable {
  /** Slots in the table; {@linkcode NameTable.slot} returns this for a name without one. */
  readonly capacity: number;
  #state: Int32Array;
  #size: Int32Array;
  #names: Uint8Array;
  #nameBytes: number;
  #scratch: Uint8Array;
  #cache = new Map<string, number>();

  /** Maps the table onto the start of `region`; throws a RangeError when it does not fit or is misaligned. */
  constructor(region: Region, options: NameTableOptions) {
    const { capacity, nameBytes } = options;
    const bytes = nameTableBytes(capacity, nameBytes);
    if (region.byteLength < bytes) {
      throw new RangeError(
        `Name table needs ${bytes} bytes, the region has ${region.byteLength}`,
      );
    }
    if (region.byteOffset % 4 !== 0) {
      throw new RangeError(
        `Name table must start at a multiple of 4, got offset ${region.byteOffset}`,
      );
    }
    const { buffer, byteOffset } = region;
    this.capacity = capacity;
    this.#nameBytes = nameBytes;
    this.#state = new Int32Array(buffer, byteOffset, capacity);
    this.#size = new Int32Array(buffer, byteOffset + capacity * 4, capacity);
    this.#names = new Uint8Array(
      buffer,
      byteOffset + capacity * 8,
      capacity * nameBytes,
    );
    this.#scratch = new Uint8Array(nameBytes);
  }

  /**
   * The slot of `name`, or {@linkcode NameTable.capacity} when it has none:
   * the table is full, or `claim` is false and nobody claimed it yet.
   */
  slot(name: string, claim: boolean): number {
    const cached = this.#cache.get(name);
    if (cached !== undefined) return cached;
    const slot = this.#find(name, claim);
    if (slot !== this.capacity && this.#cache.size < CACHE_LIMIT) {
      this.#cache.set(name, slot);
    }
    return slot;
  }

  /** The names by slot; null for a slot not (yet) ready. */
  names(): (string | null)[] {
    const out: (string | null)[] = [];
    for (let m = 0; m < this.capacity; m++) {
      if (Atomics.load(this.#state, m) !== READY) {
        out.push(null);
        continue;
      }
      const size = Atomics.load(this.#size, m);
      const start = m * this.#nameBytes;
      // slice() copies: TextDecoder does not read shared memory.
      out.push(decoder.decode(this.#names.slice(start, start + size)));
    }
    return out;
  }

  #find(name: string, claim: boolean): number {
    const scratch = this.#scratch;
    // encodeInto stops before a character that does not fit: truncation keeps valid UTF-8.
    const size = encoder.encodeInto(name, scratch).written;
    const state = this.#state;
    for (let m = 0; m < this.capacity; m++) {
      let s = Atomics.load(state, m);
      // Slots fill in order: the first empty one ends the names there are.
      if (s === EMPTY && !claim) return this.capacity;
      if (s === EMPTY) {
        s = Atomics.compareExchange(state, m, EMPTY, WRITING);
        if (s === EMPTY) {
          this.#names.set(scratch.subarray(0, size), m * this.#nameBytes);
          Atomics.store(this.#size, m, size);
          // Publishing the state after the bytes makes them visible to readers that see READY.
          Atomics.store(state, m, READY);
          return m;
        }
      }
      if (s === READY && this.#sameName(m, size)) return m;
    }
    return this.capacity;
  }

  #sameName(slot: number, size: number): boolean {
    if (Atomics.load(this.#size, slot) !== size) return false;
    const start = slot * this.#nameBytes;
    for (let i = 0; i < size; i++) {
      if (this.#names[start + i] !== this.#scratch[i]) return false;
    }
    return true;
  }
}
