/**
 * The credentials' shared health: each credential's state, failures in a
 * row, retry time and probe lease live in the SharedArrayBuffer (the health
 * and times regions of base/shared_state.ts), so a 401 one worker sees takes
 * the credential out of every worker's rotation at once.
 *
 * A credential is ok; failed (401/403) until a doubling backoff ends, then
 * tried again by one half-open probe that holds a lease; or cooling (429)
 * until its Retry-After has passed. Every change of state is a
 * compare-and-swap on the state slot, so two workers racing over one
 * credential agree on one outcome, and bumps the health generation so each
 * worker's cached view (balancer.ts) knows to rebuild.
 */
import {
  CONTROL,
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

/** Options of {@linkcode HealthTable}. */
export interface HealthTableOptions {
  /** First retry of a failed credential after this many ms; doubles per failure. */
  backoffBase: number;
  /** Cap of the backoff, ms. */
  backoffMax: number;
  /** How long one probe may hold a failed credential before another may try, ms. */
  probeLease?: number;
}

/** One credential's health as instances exchange it (values of {@linkcode CREDENTIAL_STATE}). */
export interface HealthSnapshot {
  state: number;
  failures: number;
  /** Epoch ms until which it waits; 0 when it does not. */
  retryAt: number;
}

/** Which credentials may be picked at one moment, and until when that holds. */
export interface HealthView {
  /** Credentials in the rotation (ok, or cooled down). */
  usable: number[];
  /** Failed credentials whose backoff has ended and whose lease is free. */
  due: number[];
  /** Epoch ms at which the next wait runs out; Infinity when none does. */
  nextChange: number;
}

/**
 * The health slots of one process's credentials, read and changed with
 * atomics. Holds no state of its own beyond its options: any number of
 * tables over one {@linkcode SharedState} agree.
 */
export class HealthTable {
  #control: Int32Array;
  #health: Int32Array;
  #times: BigInt64Array;
  #backoffBase: number;
  #backoffMax: number;
  #probeLease: number;

  constructor(state: SharedState, options: HealthTableOptions) {
    if (
      !(options.backoffBase > 0) || !(options.backoffMax >= options.backoffBase)
    ) {
      throw new RangeError(
        "Backoff base must be positive and not above the cap",
      );
    }
    this.#control = state.control;
    this.#health = state.health;
    this.#times = state.times;
    this.#backoffBase = options.backoffBase;
    this.#backoffMax = options.backoffMax;
    this.#probeLease = options.probeLease ?? 60_000;
  }

  /** The first backoff, ms: the wait to announce when nothing says better. */
  get backoffBase(): number {
    return this.#backoffBase;
  }

  /** Changes whenever any credential's health changes. */
  generation(): number {
    return Atomics.load(this.#control, CONTROL.HEALTH_GENERATION);
  }

  /** The state slot of credential `index`: one of {@linkcode CREDENTIAL_STATE}. */
  state(index: number): number {
    return Atomics.load(this.#health, index * HEALTH_FIELDS + HEALTH.STATE);
  }

  /** Epoch ms until which credential `index` waits (backoff or cool-down). */
  retryAt(index: number): number {
    return Number(
      Atomics.load(this.#times, index * TIME_FIELDS + TIMES.RETRY_AT),
    );
  }

  /**
   * Back to ok from `from` (a won probe, or a cool-down that has passed).
   * False when another worker changed the state first.
   */
  restore(index: number, from: number): boolean {
    const slot = index * HEALTH_FIELDS;
    if (
      Atomics.compareExchange(
        this.#health,
        slot + HEALTH.STATE,
        from,
        CREDENTIAL_STATE.OK,
      ) !== from
    ) return false;
    Atomics.store(this.#health, slot + HEALTH.FAILURES, 0);
    Atomics.store(this.#times, index * TIME_FIELDS + TIMES.RETRY_AT, 0n);
    Atomics.store(this.#times, index * TIME_FIELDS + TIMES.PROBE_LEASE, 0n);
    this.#bump();
    return true;
  }

  /**
   * Marks a credential in the rotation failed and starts its first backoff.
   * False when it already was failed, or another worker marked it first.
   */
  markFailed(index: number, now: number): boolean {
    const slot = index * HEALTH_FIELDS;
    const state = Atomics.load(this.#health, slot + HEALTH.STATE);
    if (state === CREDENTIAL_STATE.FAILED) return false;
    if (
      Atomics.compareExchange(
        this.#health,
        slot + HEALTH.STATE,
        state,
        CREDENTIAL_STATE.FAILED,
      ) !== state
    ) return false;
    Atomics.store(this.#health, slot + HEALTH.FAILURES, 1);
    this.#scheduleRetry(index, 1, now);
    return true;
  }

  /** A probe failed: one more failure, a doubled backoff. Returns the wait, ms. */
  failProbe(index: number, now: number): number {
    const failures = Atomics.add(
      this.#health,
      index * HEALTH_FIELDS + HEALTH.FAILURES,
      1,
    ) + 1;
    return this.#scheduleRetry(index, failures, now);
  }

  /** Cools credential `index` until `until` (epoch ms); a longer cool-down already set holds. */
  coolDown(index: number, until: number): boolean {
    const slot = index * HEALTH_FIELDS;
    const state = Atomics.load(this.#health, slot + HEALTH.STATE);
    const retryAt = index * TIME_FIELDS + TIMES.RETRY_AT;
    const end = BigInt(until);
    if (
      state === CREDENTIAL_STATE.COOLING &&
      Atomics.load(this.#times, retryAt) >= end
    ) return false;
    Atomics.store(this.#times, retryAt, end);
    Atomics.store(this.#times, index * TIME_FIELDS + TIMES.PROBE_LEASE, 0n);
    Atomics.store(this.#health, slot + HEALTH.FAILURES, 0);
    Atomics.store(this.#health, slot + HEALTH.STATE, CREDENTIAL_STATE.COOLING);
    this.#bump();
    return true;
  }

  /**
   * Takes the one probe of failed credential `index` for a lease. False when
   * the lease is held, or the credential is no longer failed.
   */
  claimProbe(index: number, now: number): boolean {
    const leaseSlot = index * TIME_FIELDS + TIMES.PROBE_LEASE;
    const lease = Atomics.load(this.#times, leaseSlot);
    if (Number(lease) > now) return false;
    if (this.state(index) !== CREDENTIAL_STATE.FAILED) return false;
    // Whoever swaps the lease holds the one probe; the others keep skipping it.
    if (
      Atomics.compareExchange(
        this.#times,
        leaseSlot,
        lease,
        BigInt(now + this.#probeLease),
      ) !== lease
    ) return false;
    this.#bump();
    return true;
  }

  /** Frees the probe lease of credential `index` so another may probe at once. */
  releaseProbe(index: number): void {
    Atomics.store(this.#times, index * TIME_FIELDS + TIMES.PROBE_LEASE, 0n);
    this.#bump();
  }

  /** Credential `index`'s state, failures in a row and retry time, as another instance is told them. */
  snapshot(index: number): HealthSnapshot {
    return {
      state: this.state(index),
      failures: Atomics.load(
        this.#health,
        index * HEALTH_FIELDS + HEALTH.FAILURES,
      ),
      retryAt: this.retryAt(index),
    };
  }

  /**
   * Puts what another instance saw in force here (the Redis bridge): the
   * state, failures and retry time as they are; a failed credential's probe
   * lease is left to {@linkcode holdProbe}, any other state frees it.
   */
  apply(index: number, health: HealthSnapshot): void {
    const slot = index * HEALTH_FIELDS;
    const times = index * TIME_FIELDS;
    Atomics.store(this.#times, times + TIMES.RETRY_AT, BigInt(health.retryAt));
    Atomics.store(this.#health, slot + HEALTH.FAILURES, health.failures);
    if (health.state !== CREDENTIAL_STATE.FAILED) {
      Atomics.store(this.#times, times + TIMES.PROBE_LEASE, 0n);
    }
    Atomics.store(this.#health, slot + HEALTH.STATE, health.state);
    this.#bump();
  }

  /**
   * Asks for credential `index` to be tried now (the dashboard's "probe
   * now"): a failed credential's backoff ends, so the next request claims
   * its half-open probe; a cooling one's cool-down ends. A held probe lease
   * is left alone (a probe is under way, or another instance holds it).
   * False for a credential that is ok. With Redis, the shared-health bridge
   * publishes the new retry time like any other change.
   */
  probeNow(index: number, now: number): boolean {
    const state = this.state(index);
    if (state === CREDENTIAL_STATE.OK) return false;
    const retryAt = index * TIME_FIELDS + TIMES.RETRY_AT;
    if (Number(Atomics.load(this.#times, retryAt)) > now) {
      Atomics.store(this.#times, retryAt, BigInt(now));
    }
    this.#bump();
    return true;
  }

  /** Epoch ms until which the probe of credential `index` is held (0: free). */
  probeLease(index: number): number {
    return this.#lease(index);
  }

  /**
   * Holds (or with 0, frees) the probe of credential `index` until `until`:
   * another instance has it, so no thread here may claim it.
   */
  holdProbe(index: number, until: number): void {
    Atomics.store(
      this.#times,
      index * TIME_FIELDS + TIMES.PROBE_LEASE,
      BigInt(until),
    );
    this.#bump();
  }

  /** Which of the first `count` credentials may be picked at `now`. */
  view(count: number, now: number): HealthView {
    const usable: number[] = [];
    const due: number[] = [];
    let nextChange = Infinity;
    for (let i = 0; i < count; i++) {
      const state = this.state(i);
      if (state === CREDENTIAL_STATE.OK) {
        usable.push(i);
        continue;
      }
      const retryAt = this.retryAt(i);
      if (state === CREDENTIAL_STATE.COOLING) {
        if (now >= retryAt) usable.push(i);
        else nextChange = Math.min(nextChange, retryAt);
        continue;
      }
      const dueAt = Math.max(retryAt, this.#lease(i));
      if (now >= dueAt) due.push(i);
      else nextChange = Math.min(nextChange, dueAt);
    }
    return { usable, due, nextChange };
  }

  /** The health of credential `index`, named `name`, as `/healthz` shows it. */
  describe(index: number, name: string, now: number): CredentialHealth {
    const state = this.state(index);
    const failures = Atomics.load(
      this.#health,
      index * HEALTH_FIELDS + HEALTH.FAILURES,
    );
    const retryAt = this.retryAt(index);
    const wait = Math.max(0, Math.ceil((retryAt - now) / 1000));
    if (state === CREDENTIAL_STATE.FAILED) {
      return {
        name,
        // A lease held during the backoff (another instance's, to come) is no probe yet.
        state: this.#lease(index) > now && retryAt <= now
          ? "probing"
          : "failed",
        failures,
        retryInSeconds: wait,
      };
    }
    if (state === CREDENTIAL_STATE.COOLING && retryAt > now) {
      return { name, state: "cooling", failures, retryInSeconds: wait };
    }
    return { name, state: "ok", failures, retryInSeconds: 0 };
  }

  #lease(index: number): number {
    return Number(
      Atomics.load(this.#times, index * TIME_FIELDS + TIMES.PROBE_LEASE),
    );
  }

  /** Sets when a failed credential is probed next; returns the wait in ms. */
  #scheduleRetry(index: number, failures: number, now: number): number {
    const wait = Math.min(
      this.#backoffMax,
      this.#backoffBase * 2 ** Math.min(failures - 1, 30),
    );
    const base = index * TIME_FIELDS;
    Atomics.store(this.#times, base + TIMES.RETRY_AT, BigInt(now + wait));
    Atomics.store(this.#times, base + TIMES.PROBE_LEASE, 0n);
    this.#bump();
    return wait;
  }

  #bump(): void {
    Atomics.add(this.#control, CONTROL.HEALTH_GENERATION, 1);
  }
}

/** Zeroes every credential's health (supervisor, on start and on reload). */
export function resetHealth(state: SharedState): void {
  state.health.fill(0);
  state.times.fill(0n);
  Atomics.add(state.control, CONTROL.HEALTH_GENERATION, 1);
}
