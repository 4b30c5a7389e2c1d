/**
 * Credential choice: one round-robin counter for the whole process, in the
 * SharedArrayBuffer, so the spread stays exact whichever worker serves; the
 * health every worker sees at once is in health.ts. A balancer belongs to one
 * secrets generation and ignores verdicts about credentials a reload replaced.
 */
import type { Logger } from "@logtape/logtape";
import { CONTROL, COUNTERS, type SharedState } from "../base/shared_state.ts";
import {
  CREDENTIAL_STATE,
  type CredentialHealth,
  HealthTable,
  type HealthTableOptions,
} from "./health.ts";

export {
  CREDENTIAL_STATE,
  type CredentialHealth,
  resetHealth,
} from "./health.ts";

/** The credential chosen for one attempt. */
export interface Pick {
  index: number;
  name: string;
  /** True when this attempt is the half-open probe of a failed credential. */
  probe: boolean;
  /** Secrets generation the pick belongs to; stale verdicts are ignored. */
  generation: number;
}

/** Options of {@linkcode Balancer}. */
export interface BalancerOptions extends HealthTableOptions {
  /** Clock in epoch ms; injectable for tests. */
  now?: () => number;
  logger?: Logger;
}

/**
 * Picks credentials for one worker over the shared state. Cheap to build:
 * a worker makes a new one for each secrets generation.
 */
export class Balancer {
  #control: Int32Array;
  #counters: BigInt64Array;
  #table: HealthTable;
  #names: readonly string[];
  #tokens: readonly (string | null)[];
  #generation: number;
  #now: () => number;
  #log: Logger | undefined;
  #usable: number[] = [];
  #due: number[] = [];
  #cachedHealth = -1;
  #nextChange = Infinity;
  /** The last failure reason seen by this thread, by credential index. */
  #lastError = new Map<number, string>();

  constructor(
    state: SharedState,
    credentials: {
      names: readonly string[];
      tokens: readonly (string | null)[];
      generation: number;
    },
    options: BalancerOptions,
  ) {
    if (credentials.names.length !== credentials.tokens.length) {
      throw new RangeError("Balancer needs one token per credential");
    }
    this.#table = new HealthTable(state, options);
    this.#control = state.control;
    this.#counters = state.counters;
    this.#names = credentials.names;
    this.#tokens = credentials.tokens;
    this.#generation = credentials.generation;
    // The supervisor sets the generation before any worker starts; a balancer
    // on fresh state (tests, tools) claims it so its verdicts count.
    Atomics.compareExchange(
      this.#control,
      CONTROL.SECRETS_GENERATION,
      0,
      credentials.generation,
    );
    this.#now = options.now ?? Date.now;
    this.#log = options.logger;
  }

  /** Number of credentials. */
  get size(): number {
    return this.#names.length;
  }

  /** Name of credential `index`. */
  name(index: number): string {
    return this.#names[index];
  }

  /** The `Authorization` value of credential `index`, or null if its token could not be made. */
  bearer(index: number): string | null {
    const token = this.#tokens[index];
    return token === null ? null : `Bearer ${token}`;
  }

  /**
   * The credential for a new request: a due half-open probe if one can be
   * claimed, else the next usable one in round-robin order (the shared
   * counter advances exactly once). Null when none is usable.
   */
  next(): Pick | null {
    const now = this.#now();
    this.#refresh(now);
    if (this.#due.length > 0) {
      const probe = this.#claimProbe(now);
      if (probe !== null) return probe;
    }
    const usable = this.#usable;
    if (usable.length === 0) return null;
    const turn = Number(
      Atomics.add(this.#counters, COUNTERS.ROUND_ROBIN, 1n) %
        BigInt(usable.length),
    );
    const index = usable[turn];
    return {
      index,
      name: this.#names[index],
      probe: false,
      generation: this.#generation,
    };
  }

  /**
   * The credential for a failover: the next usable one after the last tried,
   * in ring order, that this request has not tried yet. The counter is not
   * advanced: one request, one turn.
   */
  nextAfter(tried: readonly number[]): Pick | null {
    const now = this.#now();
    this.#refresh(now);
    const n = this.#names.length;
    const last = tried[tried.length - 1] ?? -1;
    for (let step = 1; step <= n; step++) {
      const index = (last + step) % n;
      if (tried.includes(index)) continue;
      if (this.#usable.includes(index)) {
        return {
          index,
          name: this.#names[index],
          probe: false,
          generation: this.#generation,
        };
      }
    }
    return this.#claimProbe(now, tried);
  }

  /** Whether a failover after `tried` would find a credential. */
  hasAlternative(tried: readonly number[]): boolean {
    this.#refresh(this.#now());
    return this.#usable.some((i) => !tried.includes(i)) ||
      this.#due.some((i) => !tried.includes(i));
  }

  /** The credential answered normally: a probe restores it, a cooled one is ok again. */
  succeeded(pick: Pick): void {
    if (this.#stale(pick)) return;
    const i = pick.index;
    const state = this.#table.state(i);
    if (state === CREDENTIAL_STATE.OK) return;
    if (state === CREDENTIAL_STATE.FAILED && !pick.probe) return;
    // A request sent before a 429 may succeed after it: the cool-down holds.
    if (
      state === CREDENTIAL_STATE.COOLING && this.#now() < this.#table.retryAt(i)
    ) return;
    if (!this.#table.restore(i, state)) return;
    if (state === CREDENTIAL_STATE.FAILED) {
      this.#log?.info(
        `Configuration '${pick.name}' recovered. Available: ${this.usableCount()}/${this.size}`,
      );
    }
  }

  /**
   * The credential failed (401/403, or its token cannot be made). It leaves the
   * rotation until its backoff ends; a failed probe doubles the backoff.
   */
  failed(pick: Pick, reason: string): void {
    if (this.#stale(pick)) return;
    this.#lastError.set(pick.index, reason);
    const now = this.#now();
    if (pick.probe) {
      const wait = this.#table.failProbe(pick.index, now);
      this.#log?.warn(
        `Configuration '${pick.name}' still failing (${reason}); next retry in ${
          seconds(wait)
        }s`,
      );
      return;
    }
    // False when it was failed already or another worker marked it first.
    if (!this.#table.markFailed(pick.index, now)) return;
    this.#log?.warn(
      `Configuration '${pick.name}' marked as failed (${reason}). Remaining: ${this.usableCount()}/${this.size}`,
    );
  }

  /** The upstream answered 429 with this credential: it cools down for `waitMs`. */
  rateLimited(pick: Pick, waitMs: number): void {
    if (this.#stale(pick)) return;
    const i = pick.index;
    const until = this.#now() + waitMs;
    if (this.#table.state(i) === CREDENTIAL_STATE.FAILED && !pick.probe) return;
    if (!this.#table.coolDown(i, until)) return;
    this.#log?.warn(
      `Configuration '${pick.name}' rate limited (429); cooling down for ${
        seconds(waitMs)
      }s. Remaining: ${this.usableCount()}/${this.size}`,
    );
  }

  /** A probe ended without a verdict (client left): another may probe at once. */
  release(pick: Pick): void {
    if (!pick.probe || this.#stale(pick)) return;
    this.#table.releaseProbe(pick.index);
  }

  /** Credentials usable right now. */
  usableCount(): number {
    this.#refresh(this.#now());
    return this.#usable.length;
  }

  /** Milliseconds until the first unusable credential may be tried again (0 if one is usable). */
  retryAfterMs(): number {
    const now = this.#now();
    this.#refresh(now);
    if (this.#usable.length > 0 || this.#due.length > 0) return 0;
    if (!Number.isFinite(this.#nextChange)) return this.#table.backoffBase;
    return Math.max(0, this.#nextChange - now);
  }

  /**
   * The last failure reason this thread saw for credential `index` (a 401,
   * a token that cannot be made), or null; other threads keep their own.
   */
  lastError(index: number): string | null {
    return this.#lastError.get(index) ?? null;
  }

  /** Epoch ms until which credential `index` waits (backoff or cool-down); 0 when it does not. */
  retryAt(index: number): number {
    return this.#table.retryAt(index);
  }

  /**
   * Ends the wait of credential `name` so it is tried with the next request
   * (see `HealthTable.probeNow`); its health after that, or null for an
   * unknown name.
   */
  probeNow(name: string): CredentialHealth | null {
    const index = this.#names.indexOf(name);
    if (index < 0) return null;
    const now = this.#now();
    if (this.#table.probeNow(index, now)) {
      this.#log?.info(
        `Configuration '${name}' will be probed now (asked by the admin API)`,
      );
    }
    return this.#table.describe(index, name, now);
  }

  /** Every credential's health, by name only. */
  health(): CredentialHealth[] {
    const now = this.#now();
    return this.#names.map((name, i) => this.#table.describe(i, name, now));
  }

  /** A verdict about credentials that a reload has replaced since. */
  #stale(pick: Pick): boolean {
    return pick.generation !== this.#generation ||
      this.#generation !==
        Atomics.load(this.#control, CONTROL.SECRETS_GENERATION);
  }

  /** Rebuilds the usable list when health changed or a wait ran out. */
  #refresh(now: number): void {
    const generation = this.#table.generation();
    if (generation === this.#cachedHealth && now < this.#nextChange) return;
    this.#cachedHealth = generation;
    const view = this.#table.view(this.#names.length, now);
    this.#usable = view.usable;
    this.#due = view.due;
    this.#nextChange = view.nextChange;
  }

  #claimProbe(now: number, tried: readonly number[] = []): Pick | null {
    for (const index of this.#due) {
      if (tried.includes(index)) continue;
      if (!this.#table.claimProbe(index, now)) continue;
      this.#log?.info(
        `Probing configuration '${this.#names[index]}' after its backoff`,
      );
      return {
        index,
        name: this.#names[index],
        probe: true,
        generation: this.#generation,
      };
    }
    return null;
  }
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(ms < 10_000 ? 1 : 0);
}
