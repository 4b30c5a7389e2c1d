/**
 * Users, teams, sessions and API tokens shared by the instances behind one
 * Redis: a bridge in each supervisor between its own accounts tables
 * (SQLite, through the store worker, which the admin API already reads) and
 * the others (rows: src/accounts/replica.ts).
 *
 * Every {@linkcode TICK_MS} the bridge reads the rows; one that differs
 * from what Redis holds (created, changed or deleted here) is written by a
 * script that numbers it from one counter, stores it in the `{accounts}`
 * hash and PUBLISHes it. Every instance applies a row only when its number
 * is above the one it has for that field, so all of them end on the last
 * write Redis saw, whatever order messages arrive in. On every (re)connect
 * and every {@linkcode RESYNC_MS} the whole hash is read: Redis wins,
 * except for rows changed here while it was away (pushed instead), and
 * rows Redis lacks are pushed (the first instance seeds the cluster).
 *
 * @module
 */
import type { Redis } from "ioredis";
import type {
  AccountReplica,
  AccountReplicaStore,
} from "../accounts/replica.ts";
import { describe } from "../base/describe.ts";
import type { RedisLink } from "./redis_link.ts";

/** How often the bridge reads the rows here, ms. */
export const TICK_MS = 250;
/** How often the whole hash is read even when no message came, ms. */
export const RESYNC_MS = 5_000;
/** Ticks a row that cannot be applied yet is tried again before the next full sync has to. */
const WAIT_TRIES = 20;

/**
 * Numbers a row, stores it and announces it; returns its number. With
 * ARGV[5] "nx" (a row Redis lacks as far as this instance knows: seeding)
 * it writes only when Redis has no row for the field, else returns 0.
 */
const PUSH_SCRIPT = `
if ARGV[5] == "nx" and redis.call("HEXISTS", KEYS[1], ARGV[1]) == 1 then
  return 0
end
local seq = redis.call("INCR", KEYS[2])
local now = redis.call("TIME")
local at = now[1] * 1000 + math.floor(now[2] / 1000)
local entry = '{"seq":' .. seq .. ',"at":' .. string.format("%d", at) ..
  ',"by":' .. cjson.encode(ARGV[3]) .. ',"field":' .. cjson.encode(ARGV[1]) ..
  ',"row":' .. ARGV[2] .. '}'
redis.call("HSET", KEYS[1], ARGV[1], entry)
redis.call("PUBLISH", ARGV[4], entry)
return seq`;

/** Deletes a field while it still holds the entry given (a tombstone past its time). */
const PRUNE_SCRIPT =
  `if redis.call("HGET", KEYS[1], ARGV[1]) == ARGV[2] then return redis.call("HDEL", KEYS[1], ARGV[1]) end return 0`;

/**
 * A deletion stays in Redis this long, ms: an instance away for longer may
 * bring back a row deleted meanwhile — long past any session's lifetime.
 */
export const TOMBSTONE_MS = 7 * 24 * 3_600_000;

/** Where the bridge reports trouble. */
export interface AccountSyncLogger {
  warn(message: string): void;
  info(message: string): void;
}

/** Options of {@linkcode shareAccounts}. */
export interface AccountSyncOptions {
  link: RedisLink;
  store: AccountReplicaStore;
  /** This instance's id in messages; unique per process. */
  instance: string;
  logger: AccountSyncLogger;
}

/** The running bridge. */
export interface AccountSync {
  close(): Promise<void>;
}

interface Entry {
  seq: number;
  /** When Redis numbered it, epoch ms (absent in entries of older versions). */
  at?: number;
  by: string;
  field: string;
  row: Record<string, unknown> | null;
}

/** Starts the bridge; it works whenever the link is up. */
export function shareAccounts(options: AccountSyncOptions): AccountSync {
  return new AccountBridge(options);
}

class AccountBridge implements AccountSync {
  #o: AccountSyncOptions;
  #client: Redis;
  #sub: Redis;
  #channel: string;
  /** What Redis holds as far as this instance knows: field → number and row text ("null": deleted). */
  #known = new Map<string, { seq: number; text: string }>();
  /** The rows here at the last look; null before the first. */
  #local: Map<string, string> | null = null;
  /** Changed here while Redis was down. */
  #dirty = new Set<string>();
  #incoming: Entry[] = [];
  /** Rows not applicable yet (their user has not arrived), tried again each tick. */
  #waiting = new Map<string, { entry: Entry; tries: number }>();
  /** Name of the data set in Redis this instance's numbers belong to. */
  #epoch: string | null = null;
  #wasUp = false;
  #lastSync = 0;
  #timer: ReturnType<typeof setInterval>;
  #running: Promise<void> = Promise.resolve();
  #busy = false;
  #closed = false;
  #failing = false;
  #subscribed: Promise<void>;
  #onSubscriberReady = () => {
    this.#wasUp = false;
  };
  #onMessage = (channel: string, text: string) => {
    if (channel !== this.#channel) return;
    const entry = parse(text);
    if (entry === null || entry.by === this.#o.instance) return;
    this.#incoming.push(entry);
    this.#schedule();
  };

  constructor(options: AccountSyncOptions) {
    this.#o = options;
    this.#client = options.link.client;
    this.#channel = `${options.link.prefix}accounts`;
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
    this.#running = this.#work().catch((err) => this.#trouble(err)).finally(
      () => this.#busy = false,
    );
  }

  async #work(): Promise<void> {
    const now = new Map(await this.#o.store.rows());
    const before = this.#local;
    this.#local = now;
    if (!this.#o.link.up) {
      // The first look is the baseline, not news.
      if (before !== null) {
        for (const field of changed(before, now)) this.#dirty.add(field);
      }
      this.#wasUp = false;
      return;
    }
    const time = Date.now();
    if (!this.#wasUp || time - this.#lastSync >= RESYNC_MS) {
      // The first instance names the data set; a new name (or a counter
      // below what this instance has seen) means Redis lost its data (a
      // restart without persistence): start over and seed it again.
      await this.#client.set("{accounts}:epoch", crypto.randomUUID(), "NX");
      const [all, counter, epoch] = await Promise.all([
        this.#client.hgetall("{accounts}"),
        this.#client.get("{accounts}:seq"),
        this.#client.get("{accounts}:epoch"),
      ]);
      const highest = Math.max(
        0,
        ...[...this.#known.values()].map((k) => k.seq),
      );
      if (epoch !== this.#epoch || Number(counter ?? 0) < highest) {
        this.#known.clear();
        this.#epoch = epoch;
      }
      for (const [field, text] of Object.entries(all)) {
        const entry = parse(text);
        if (entry === null) continue;
        this.#incoming.push(entry);
        if (
          entry.row === null && entry.at !== undefined &&
          time - entry.at > TOMBSTONE_MS
        ) {
          await this.#client.eval(PRUNE_SCRIPT, 1, "{accounts}", field, text);
        }
      }
      this.#wasUp = true;
      this.#lastSync = time;
    }
    await this.#apply();
    await this.#push();
    if (this.#failing) {
      this.#failing = false;
      this.#o.logger.info("Users and sessions are shared through Redis again");
    }
  }

  /** Applies what is newer than what this instance has, except its own unsent changes. */
  async #apply(): Promise<void> {
    const newest = new Map<string, Entry>();
    // Rows that waited for what they need (a session for its user) come first.
    const waiting = [...this.#waiting.values()].map((w) => w.entry);
    for (const entry of [...waiting, ...this.#incoming.splice(0)]) {
      if (this.#dirty.has(entry.field)) continue;
      if ((this.#known.get(entry.field)?.seq ?? 0) >= entry.seq) continue;
      const seen = newest.get(entry.field);
      if (seen === undefined || seen.seq < entry.seq) {
        newest.set(entry.field, entry);
      }
    }
    if (newest.size === 0) return;
    const rows: AccountReplica[] = [...newest.values()].map((e) => ({
      field: e.field,
      row: e.row,
    }));
    const applied = await this.#o.store.merge(rows);
    // What the tables hold now is the baseline: applied rows are not news,
    // even where this instance renders them differently (a later last use).
    this.#local = new Map(await this.#o.store.rows());
    for (const field of applied) {
      const text = this.#local.get(field) ?? "null";
      this.#known.set(field, { seq: newest.get(field)!.seq, text });
      this.#waiting.delete(field);
    }
    const done = new Set(applied);
    for (const entry of newest.values()) {
      if (done.has(entry.field)) continue;
      const tries = (this.#waiting.get(entry.field)?.tries ?? 0) + 1;
      // Still not applicable after a while (a name clash): the next full sync retries.
      if (tries > WAIT_TRIES) this.#waiting.delete(entry.field);
      else this.#waiting.set(entry.field, { entry, tries });
    }
  }

  /** Pushes every row here (and every deletion) that Redis does not hold as it is. */
  async #push(): Promise<void> {
    const local = this.#local!;
    const wanted = new Map<string, string>();
    for (const [field, text] of local) {
      if (this.#known.get(field)?.text !== text) wanted.set(field, text);
    }
    for (const [field, known] of this.#known) {
      if (known.text !== "null" && !local.has(field)) {
        wanted.set(field, "null");
      }
    }
    for (const field of this.#dirty) {
      if (!wanted.has(field)) wanted.set(field, local.get(field) ?? "null");
    }
    for (const [field, text] of wanted) {
      // A row Redis has (in some version) is overwritten; one it lacks is seeded.
      const seeding = !this.#known.has(field) && !this.#dirty.has(field);
      const seq = Number(
        await this.#client.eval(
          PUSH_SCRIPT,
          2,
          "{accounts}",
          "{accounts}:seq",
          field,
          text,
          this.#o.instance,
          this.#channel,
          seeding ? "nx" : "",
        ),
      );
      this.#dirty.delete(field);
      // 0: another instance seeded it first; its row comes with the next sync.
      if (seq > 0) this.#known.set(field, { seq, text });
      else this.#lastSync = 0;
    }
  }

  #trouble(err: unknown): void {
    if (this.#failing) return;
    this.#failing = true;
    this.#o.logger.warn(
      `Cannot share users and sessions through Redis (will retry): ${
        describe(err)
      }`,
    );
  }
}

function changed(
  before: Map<string, string>,
  now: Map<string, string>,
): string[] {
  const out: string[] = [];
  for (const [field, text] of now) {
    if (before.get(field) !== text) out.push(field);
  }
  for (const field of before.keys()) if (!now.has(field)) out.push(field);
  return out;
}

function parse(text: string): Entry | null {
  try {
    const e = JSON.parse(text);
    if (
      Number.isInteger(e?.seq) && typeof e.by === "string" &&
      typeof e.field === "string" &&
      /^(team|user|session|token):/.test(e.field) &&
      (e.row === null || (typeof e.row === "object" && !Array.isArray(e.row)))
    ) return e as Entry;
  } catch {
    // A foreign or damaged entry: ignored.
  }
  return null;
}
