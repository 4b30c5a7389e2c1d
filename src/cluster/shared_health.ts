/**
 * Credential health shared by the instances behind one Redis: a bridge in
 * each instance's supervisor between its own health table (shared memory,
 * which the request path keeps reading with no Redis call) and the other
 * instances.
 *
 * Every {@linkcode TICK_MS} the bridge looks at the health generation; a
 * credential whose state, failures or retry time changed here is written to
 * the `health` hash (one field per credential) and PUBLISHed. What another
 * instance publishes is put in force here at once; the hash is read again
 * on every (re)connect and every {@linkcode RESYNC_MS}, so a lost message
 * costs at most that long.
 *
 * The one half-open probe of a failed credential is a lease in Redis
 * (`SET probe:<id> NX PX`), contested by the bridges as soon as they learn
 * of the failure, not by requests: the winner's threads probe as before,
 * every other instance holds the probe in its own table until the lease
 * ends, and contests again then (an instance killed while it held the lease
 * lets it expire). While Redis is down each instance keeps its own health.
 *
 * @module
 */
import type { Redis } from "ioredis";
import {
  CREDENTIAL_STATE,
  type HealthSnapshot,
  HealthTable,
  type HealthTableOptions,
} from "../upstream/health.ts";
import type { SharedState } from "../base/shared_state.ts";
import { sha256Hex } from "../base/digest.ts";
import { describe } from "../base/describe.ts";
import type { RedisLink } from "./redis_link.ts";

/** How often the bridge looks for local changes and due probe leases, ms. */
export const TICK_MS = 50;
/** How often the hash is read again even when no message came, ms. */
export const RESYNC_MS = 2_000;
/** A held probe is contested this long before its lease in Redis ends, ms. */
const CONTEST_EARLY_MS = 4 * TICK_MS;

/** Deletes the probe lease only while this instance holds it. */
const RELEASE_SCRIPT =
  `if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`;

/**
 * How instances name one credential: its name and a digest of its clientId
 * (never the secret), so two instances with the same secrets file agree and
 * a renamed or replaced credential is another one.
 */
export function credentialId(name: string, clientId: string): string {
  return `${name}:${sha256Hex(clientId).slice(0, 16)}`;
}

/** What names a credential across instances; never its secret. */
export interface SharedCredential {
  name: string;
  clientId: string;
}

/** Where the bridge reports trouble; never with a secret. */
export interface SharedHealthLogger {
  warn(message: string): void;
  info(message: string): void;
}

/** Options of {@linkcode shareHealth}. */
export interface SharedHealthOptions {
  link: RedisLink;
  /** This instance's shared memory, whose health region the bridge mirrors. */
  state: SharedState;
  /** The backoff of the instance's balancers (the table needs it). */
  table: HealthTableOptions;
  /** How long one probe may take, ms: the lease each instance takes in Redis. */
  probeLeaseMs: number;
  /** Each credential, by index (named across instances by {@linkcode credentialId}). */
  credentials: readonly SharedCredential[];
  /** This instance's id in messages and leases; unique per process. */
  instance: string;
  logger: SharedHealthLogger;
  /** Clock, epoch ms; injectable for tests. */
  now?: () => number;
}

/** The running bridge. */
export interface SharedHealth {
  /** The credentials after a reload (their health was reset). */
  setCredentials(credentials: readonly SharedCredential[]): void;
  /** Whether this instance holds credential `index`'s probe lease. */
  holdsProbe(index: number): boolean;
  /** Resolves after the next tick has run (tests). */
  settled(): Promise<void>;
  close(): Promise<void>;
}

interface Message {
  by: string;
  id: string;
  s: number;
  f: number;
  r: number;
}

/** Starts the bridge; it works whenever the link is up. */
export function shareHealth(options: SharedHealthOptions): SharedHealth {
  return new HealthBridge(options);
}

class HealthBridge implements SharedHealth {
  #o: SharedHealthOptions;
  #client: Redis;
  #table: HealthTable;
  #now: () => number;
  #ids: readonly string[];
  #last: (HealthSnapshot | null)[] = [];
  /** Changed here while Redis was down: pushed, not overwritten, on reconnect. */
  #dirty = new Set<number>();
  /** Probe leases this instance holds: index → epoch ms the lease ends. */
  #owned = new Map<number, number>();
  /** Probes this instance holds back for another's lease. */
  #held = new Set<number>();
  #contesting = new Set<number>();
  #generation = -1;
  #wasUp = false;
  #lastSync = 0;
  #timer: ReturnType<typeof setInterval>;
  #running: Promise<void> = Promise.resolve();
  #busy = false;
  #closed = false;
  #channel: string;
  #failing = false;
  #sub: Redis;
  #subscribed: Promise<void>;
  #onSubscriberReady = () => {
    this.#wasUp = false;
  };
  #onMessage = (channel: string, text: string) => {
    if (channel === this.#channel) this.#received(text);
  };

  constructor(options: SharedHealthOptions) {
    this.#o = options;
    this.#client = options.link.client;
    this.#table = new HealthTable(options.state, options.table);
    this.#now = options.now ?? Date.now;
    this.#ids = ids(options.credentials);
    this.#channel = `${options.link.prefix}health`;
    this.#sub = options.link.subscriber();
    this.#sub.on("message", this.#onMessage);
    // What is published before the subscription (or while the subscriber
    // reconnects) is never received: read everything once it is in place.
    this.#sub.on("ready", this.#onSubscriberReady);
    this.#subscribed = this.#sub.subscribe(this.#channel).then(
      this.#onSubscriberReady,
      () => {
        // ioredis subscribes again on each reconnect; the link reports outages.
      },
    );
    this.#timer = setInterval(() => this.#schedule(), TICK_MS);
  }

  setCredentials(credentials: readonly SharedCredential[]): void {
    this.#ids = ids(credentials);
    this.#last = [];
    this.#dirty.clear();
    this.#owned.clear();
    this.#held.clear();
    this.#generation = -1;
    this.#lastSync = 0;
  }

  holdsProbe(index: number): boolean {
    return (this.#owned.get(index) ?? 0) > this.#now();
  }

  async settled(): Promise<void> {
    await this.#subscribed;
    await this.#running;
    this.#schedule();
    await this.#running;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#sub.off("message", this.#onMessage);
    this.#sub.off("ready", this.#onSubscriberReady);
    await this.#running;
  }

  #schedule(): void {
    if (this.#busy || this.#closed) return;
    this.#busy = true;
    this.#running = this.#tick().catch((err) => this.#trouble(err)).finally(
      () => this.#busy = false,
    );
  }

  async #tick(): Promise<void> {
    const up = this.#o.link.up;
    const changed = this.#changedHere();
    if (!up) {
      for (const i of changed) this.#dirty.add(i);
      this.#wasUp = false;
      return;
    }
    for (const i of changed) await this.#publish(i);
    const now = this.#now();
    // After an outage Redis wins, except for what changed here meanwhile.
    if (!this.#wasUp || now - this.#lastSync >= RESYNC_MS) {
      await this.#resync();
      this.#wasUp = true;
      this.#lastSync = now;
    }
    for (let i = 0; i < this.#ids.length; i++) await this.#contest(i);
    if (this.#failing) {
      this.#failing = false;
      this.#o.logger.info("Credential health is shared through Redis again");
    }
  }

  /** Credentials whose health changed here since last looked at. */
  #changedHere(): number[] {
    const generation = this.#table.generation();
    if (generation === this.#generation) return [];
    this.#generation = generation;
    const changed: number[] = [];
    for (let i = 0; i < this.#ids.length; i++) {
      const now = this.#table.snapshot(i);
      const last = this.#last[i];
      if (last && same(last, now)) continue;
      if (!last) {
        // Not synced yet: a fresh ok is no news, and must not overwrite others' view.
        this.#last[i] = now;
        if (now.state !== CREDENTIAL_STATE.OK) changed.push(i);
        continue;
      }
      // A verdict on the probe (or a recovery) ends this instance's lease.
      if (this.#owned.has(i)) this.#release(i);
      this.#last[i] = now;
      changed.push(i);
    }
    return changed;
  }

  #message(i: number): Message {
    const h = this.#last[i]!;
    return {
      by: this.#o.instance,
      id: this.#ids[i],
      s: h.state,
      f: h.failures,
      r: h.retryAt,
    };
  }

  async #publish(i: number): Promise<void> {
    const message = this.#message(i);
    const text = JSON.stringify(message);
    try {
      await this.#client.multi().hset("health", message.id, text).publish(
        this.#channel,
        text,
      ).exec();
      this.#dirty.delete(i);
    } catch (err) {
      this.#dirty.add(i);
      throw err;
    }
  }

  /** Reads the hash: Redis wins, except for what changed here while it was away. */
  async #resync(): Promise<void> {
    const ids = this.#ids;
    if (ids.length === 0) return;
    const values = await this.#client.hmget("health", ...ids);
    for (let i = 0; i < ids.length; i++) {
      const text = values[i];
      if (this.#dirty.has(i)) await this.#publish(i);
      else if (text === null) await this.#seed(i);
      else this.#take(i, parse(text));
    }
  }

  /** Writes credential `i` to the hash unless another instance did first (then takes theirs). */
  async #seed(i: number): Promise<void> {
    this.#last[i] ??= this.#table.snapshot(i);
    const text = JSON.stringify(this.#message(i));
    const wrote = await this.#client.hsetnx("health", this.#ids[i], text);
    if (wrote === 1) return;
    const theirs = await this.#client.hget("health", this.#ids[i]);
    if (theirs !== null) this.#take(i, parse(theirs));
  }

  #received(text: string): void {
    const message = parse(text);
    if (message === null || message.by === this.#o.instance) return;
    const i = this.#ids.indexOf(message.id);
    if (i < 0) return;
    this.#take(i, message);
  }

  /** Puts another instance's view of credential `i` in force here. */
  #take(i: number, message: Message | null): void {
    if (message === null || this.#ids[i] !== message.id) return;
    const health = {
      state: message.s,
      failures: message.f,
      retryAt: message.r,
    };
    const here = this.#table.snapshot(i);
    if (same(here, health)) {
      this.#last[i] = health;
      return;
    }
    // A change here not published yet is newer: the next tick publishes it.
    const last = this.#last[i];
    if (this.#dirty.has(i) || (last && !same(last, here))) return;
    if (this.#owned.has(i) && message.by !== this.#o.instance) {
      this.#release(i);
    }
    if (health.state !== CREDENTIAL_STATE.FAILED) this.#held.delete(i);
    this.#table.apply(i, health);
    if (health.state === CREDENTIAL_STATE.FAILED && !this.#owned.has(i)) {
      // Held until the next tick contests the lease: no thread probes first.
      this.#held.add(i);
      this.#table.holdProbe(i, this.#now() + CONTEST_EARLY_MS);
    }
    this.#last[i] = health;
    // Seen as a change of ours otherwise: the generation moved.
    this.#generation = this.#table.generation();
  }

  /**
   * Takes or watches the probe lease of failed credential `i`: the lease
   * lasts until its backoff ends plus one probe's time.
   */
  async #contest(i: number): Promise<void> {
    if (this.#contesting.has(i)) return;
    if (this.#table.state(i) !== CREDENTIAL_STATE.FAILED) return;
    const now = this.#now();
    if ((this.#owned.get(i) ?? 0) > now) return;
    this.#owned.delete(i);
    if (
      this.#held.has(i) && this.#table.probeLease(i) > now + CONTEST_EARLY_MS
    ) return;
    this.#contesting.add(i);
    try {
      const ttl = Math.max(0, this.#table.retryAt(i) - now) +
        this.#o.probeLeaseMs;
      const key = `probe:${this.#ids[i]}`;
      const won = await this.#client.set(
        key,
        this.#o.instance,
        "PX",
        ttl,
        "NX",
      );
      if (won === "OK") {
        this.#owned.set(i, now + ttl);
        if (this.#held.delete(i)) this.#table.holdProbe(i, 0);
        return;
      }
      const left = await this.#client.pttl(key);
      if (left <= 0) return; // Gone meanwhile: contested again next tick.
      this.#held.add(i);
      this.#table.holdProbe(i, this.#now() + left + CONTEST_EARLY_MS);
    } finally {
      this.#contesting.delete(i);
    }
  }

  #release(i: number): void {
    this.#owned.delete(i);
    this.#client.eval(
      RELEASE_SCRIPT,
      1,
      `probe:${this.#ids[i]}`,
      this.#o.instance,
    ).catch(() => {
      // It expires on its own.
    });
  }

  #trouble(err: unknown): void {
    if (this.#failing) return;
    this.#failing = true;
    this.#o.logger.warn(
      `Cannot share credential health through Redis (will retry): ${
        describe(err)
      }`,
    );
  }
}

function ids(credentials: readonly SharedCredential[]): string[] {
  return credentials.map((c) => credentialId(c.name, c.clientId));
}

function same(a: HealthSnapshot, b: HealthSnapshot): boolean {
  return a.state === b.state && a.failures === b.failures &&
    a.retryAt === b.retryAt;
}

function parse(text: string): Message | null {
  try {
    const m = JSON.parse(text);
    if (
      typeof m?.by === "string" && typeof m.id === "string" &&
      Number.isInteger(m.s) && Number.isInteger(m.f) &&
      Number.isFinite(m.r)
    ) return m as Message;
  } catch {
    // A foreign or damaged entry: ignored.
  }
  return null;
}
