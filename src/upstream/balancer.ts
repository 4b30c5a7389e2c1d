/**
 * Credential choice: one round-robin counter and one health table for the
 * whole process, both in the SharedArrayBuffer, so every worker sees every
 * failure at once and the spread stays exact whichever worker serves.
 */
import type { Logger } from "@logtape/logtape";
import {
  CONTROL,
  COUNTERS,
  HEALTH,
  HEALTH_FIELDS,
  type SharedState,
  TIME_FIELDS,
  TIMES,
} from "../base/shared_state.ts";

/** Values of a credential's state slot. */
export const CREDENTIAL_STATE = { OK: 0, FAILED: 1, COOLING: 2 } as const;

/** A credential's health as `/healthz` and `/metrics` show it. */
export interface CredentialHealth {
  name: string;
  state: "ok" | "failed" | "cooling" | "probing";
  /** Failures in a row. */
  failures: number;
  /** Seconds until it is tried again; 0 when usable. */
  retryInSeconds: number;
}

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
export interface BalancerOptions {
  /** First retry of a failed credential after this many ms; doubles per failure. */
  backoffBase: number;
  /** Cap of the backoff, ms. */
  backoffMax: number;
  /** How long one probe may hold a failed credential before another may try, ms. */
  probeLease?: number;
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
  #health: Int32Array;
  #times: BigInt64Array;
  #names: readonly string[];
  #tokens: readonly (string | null)[];
  #generation: number;
  #backoffBase: number;
  #backoffMax: number;
  #probeLease: number;
  #now: () => number;
  #log: Logger | undefined;
  #usable: number[] = [];
  #due: number[] = [];
  #cachedHealth = -1;
  #nextChange = Infinity;

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
    if (
      !(options.backoffBase > 0) || !(options.backoffMax >= options.backoffBase)
    ) {
      throw new RangeError(
        "Backoff base must be positive and not above the cap",
      );
    }
    this.#control = state.control;
    this.#counters = state.counters;
    this.#health = state.health;
    this.#times = state.times;
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
    this.#backoffBase = options.backoffBase;
    this.#backoffMax = options.backoffMax;
    this.#probeLease = options.probeLease ?? 60_000;
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
    const slot = i * HEALTH_FIELDS;
    const state = Atomics.load(this.#health, slot + HEALTH.STATE);
    if (state === CREDENTIAL_STATE.OK) return;
    if (state === CREDENTIAL_STATE.FAILED && !pick.probe) return;
    // A request sent before a 429 may succeed after it: the cool-down holds.
    if (
      state === CREDENTIAL_STATE.COOLING &&
      this.#now() <
        Number(Atomics.load(this.#times, i * TIME_FIELDS + TIMES.RETRY_AT))
    ) return;
    if (
      Atomics.compareExchange(
        this.#health,
        slot + HEALTH.STATE,
        state,
        CREDENTIAL_STATE.OK,
      ) !== state
    ) return;
    Atomics.store(this.#health, slot + HEALTH.FAILURES, 0);
    Atomics.store(this.#times, i * TIME_FIELDS + TIMES.RETRY_AT, 0n);
    Atomics.store(this.#times, i * TIME_FIELDS + TIMES.PROBE_LEASE, 0n);
    this.#bump();
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
    const i = pick.index;
    const slot = i * HEALTH_FIELDS;
    const now = this.#now();
    if (pick.probe) {
      const failures = Atomics.add(this.#health, slot + HEALTH.FAILURES, 1) + 1;
      const wait = this.#scheduleRetry(i, failures, now);
      this.#log?.warn(
        `Configuration '${pick.name}' still failing (${reason}); next retry in ${
          seconds(wait)
        }s`,
      );
      return;
    }
    const state = Atomics.load(this.#health, slot + HEALTH.STATE);
    if (state === CREDENTIAL_STATE.FAILED) return;
    if (
      Atomics.compareExchange(
        this.#health,
        slot + HEALTH.STATE,
        state,
        CREDENTIAL_STATE.FAILED,
      ) !== state
    ) {
      return; // another worker marked it first
    }
    Atomics.store(this.#health, slot + HEALTH.FAILURES, 1);
    this.#scheduleRetry(i, 1, now);
    this.#log?.warn(
      `Configuration '${pick.name}' marked as failed (${reason}). Remaining: ${this.usableCount()}/${this.size}`,
    );
  }

  /** The upstream answered 429 with this credential: it cools down for `waitMs`. */
  rateLimited(pick: Pick, waitMs: number): void {
    if (this.#stale(pick)) return;
    const i = pick.index;
    const slot = i * HEALTH_FIELDS;
    const until = BigInt(this.#now() + waitMs);
    const state = Atomics.load(this.#health, slot + HEALTH.STATE);
    if (state === CREDENTIAL_STATE.FAILED && !pick.probe) return;
    const retryAt = i * TIME_FIELDS + TIMES.RETRY_AT;
    if (
      state === CREDENTIAL_STATE.COOLING &&
      Atomics.load(this.#times, retryAt) >= until
    ) return;
    Atomics.store(this.#times, retryAt, until);
    Atomics.store(this.#times, i * TIME_FIELDS + TIMES.PROBE_LEASE, 0n);
    Atomics.store(this.#health, slot + HEALTH.FAILURES, 0);
    Atomics.store(this.#health, slot + HEALTH.STATE, CREDENTIAL_STATE.COOLING);
    this.#bump();
    this.#log?.warn(
      `Configuration '${pick.name}' rate limited (429); cooling down for ${
        seconds(waitMs)
      }s. Remaining: ${this.usableCount()}/${this.size}`,
    );
  }

  /** A probe ended without a verdict (client left): another may probe at once. */
  release(pick: Pick): void {
    if (!pick.probe || this.#stale(pick)) return;
    Atomics.store(
      this.#times,
      pick.index * TIME_FIELDS + TIMES.PROBE_LEASE,
      0n,
    );
    this.#bump();
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
    if (!Number.isFinite(this.#nextChange)) return this.#backoffBase;
    return Math.max(0, this.#nextChange - now);
  }

  /** Every credential's health, by name only. */
  health(): CredentialHealth[] {
    const now = this.#now();
    return this.#names.map((name, i) => {
      const state = Atomics.load(
        this.#health,
        i * HEALTH_FIELDS + HEALTH.STATE,
      );
      const failures = Atomics.load(
        this.#health,
        i * HEALTH_FIELDS + HEALTH.FAILURES,
      );
      const retryAt = Number(
        Atomics.load(this.#times, i * TIME_FIELDS + TIMES.RETRY_AT),
      );
      const lease = Number(
        Atomics.load(this.#times, i * TIME_FIELDS + TIMES.PROBE_LEASE),
      );
      const wait = Math.max(0, Math.ceil((retryAt - now) / 1000));
      if (state === CREDENTIAL_STATE.FAILED) {
        return {
          name,
          state: lease > now ? "probing" : "failed",
          failures,
          retryInSeconds: wait,
        };
      }
      if (state === CREDENTIAL_STATE.COOLING && retryAt > now) {
        return { name, state: "cooling", failures, retryInSeconds: wait };
      }
      return { name, state: "ok", failures, retryInSeconds: 0 };
    });
  }

  /** A verdict about credentials that a reload has replaced since. */
  #stale(pick: Pick): boolean {
    return pick.generation !== this.#generation ||
      this.#generation !==
        Atomics.load(this.#control, CONTROL.SECRETS_GENERATION);
  }

  /** Sets when a failed credential is probed next; returns the wait in ms. */
  #scheduleRetry(index: number, failures: number, now: number): number {
    const wait = this.#backoff(failures);
    const base = index * TIME_FIELDS;
    Atomics.store(this.#times, base + TIMES.RETRY_AT, BigInt(now + wait));
    Atomics.store(this.#times, base + TIMES.PROBE_LEASE, 0n);
    this.#bump();
    return wait;
  }

  #backoff(failures: number): number {
    return Math.min(
      this.#backoffMax,
      this.#backoffBase * 2 ** Math.min(failures - 1, 30),
    );
  }

  #bump(): void {
    Atomics.add(this.#control, CONTROL.HEALTH_GENERATION, 1);
  }

  /** Rebuilds the usable list when health changed or a wait ran out. */
  #refresh(now: number): void {
    const generation = Atomics.load(this.#control, CONTROL.HEALTH_GENERATION);
    if (generation === this.#cachedHealth && now < this.#nextChange) return;
    this.#cachedHealth = generation;
    const usable: number[] = [];
    const due: number[] = [];
    let nextChange = Infinity;
    for (let i = 0; i < this.#names.length; i++) {
      const state = Atomics.load(
        this.#health,
        i * HEALTH_FIELDS + HEALTH.STATE,
      );
      if (state === CREDENTIAL_STATE.OK) {
        usable.push(i);
        continue;
      }
      const retryAt = Number(
        Atomics.load(this.#times, i * TIME_FIELDS + TIMES.RETRY_AT),
      );
      if (state === CREDENTIAL_STATE.COOLING) {
        if (now >= retryAt) usable.push(i);
        else nextChange = Math.min(nextChange, retryAt);
        continue;
      }
      const lease = Number(
        Atomics.load(this.#times, i * TIME_FIELDS + TIMES.PROBE_LEASE),
      );
      const dueAt = Math.max(retryAt, lease);
      if (now >= dueAt) due.push(i);
      else nextChange = Math.min(nextChange, dueAt);
    }
    this.#usable = usable;
    this.#due = due;
    this.#nextChange = nextChange;
  }

  #claimProbe(now: number, tried: readonly number[] = []): Pick | null {
    for (const index of this.#due) {
      if (tried.includes(index)) continue;
      const leaseSlot = index * TIME_FIELDS + TIMES.PROBE_LEASE;
      const lease = Atomics.load(this.#times, leaseSlot);
      if (Number(lease) > now) continue;
      const state = Atomics.load(
        this.#health,
        index * HEALTH_FIELDS + HEALTH.STATE,
      );
      if (state !== CREDENTIAL_STATE.FAILED) continue;
      // Whoever swaps the lease holds the one probe; the others keep skipping it.
      if (
        Atomics.compareExchange(
          this.#times,
          leaseSlot,
          lease,
          BigInt(now + this.#probeLease),
        ) !== lease
      ) {
        continue;
      }
      this.#bump();
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

/** Zeroes every credential's health (supervisor, on start and on reload). */
export function resetHealth(state: SharedState): void {
  state.health.fill(0);
  state.times.fill(0n);
  Atomics.add(state.control, CONTROL.HEALTH_GENERATION, 1);
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(ms < 10_000 ? 1 : 0);
}
