/**
 * Client keys shared by the instances behind one Redis: a bridge in each
 * supervisor between its own key table (SQLite, through the store worker,
 * which the request path already reads in memory) and the others.
 *
 * Every key row this instance has that Redis does not have as it is (a key
 * created, revoked or given a budget here) is written to the `keys` hash
 * (field: the key's SHA-256, never the key) and PUBLISHed; rows the others
 * publish are merged into the table at once (key_replica.ts: order-free, a
 * revocation is never undone). On every (re)connect and every
 * {@linkcode RESYNC_MS} the whole hash is merged and what Redis lacks is
 * pushed: the first instance seeds the cluster, one that was cut off
 * catches up. While Redis is down each instance keeps its own keys.
 *
 * @module
 */
import type { Redis } from "ioredis";
import {
  isKeyReplica,
  type KeyReplica,
  type KeyReplicaStore,
} from "../access/key_replica.ts";
import { describe } from "../base/describe.ts";
import type { RedisLink } from "./redis_link.ts";

/** How often the whole hash is merged even when no message came, ms. */
export const RESYNC_MS = 5_000;
/** How often the bridge looks at the link and pending work, ms. */
const TICK_MS = 100;

/** Where the bridge reports trouble. */
export interface KeySyncLogger {
  warn(message: string): void;
  info(message: string): void;
}

/** Options of {@linkcode shareKeys}. */
export interface KeySyncOptions {
  link: RedisLink;
  store: KeyReplicaStore;
  /** This instance's id in messages; unique per process. */
  instance: string;
  logger: KeySyncLogger;
}

/** The running bridge. */
export interface KeySync {
  /** Resolves once the work pending now is done (tests). */
  settled(): Promise<void>;
  close(): Promise<void>;
}

interface Message {
  by: string;
  row: KeyReplica;
}

/** Starts the bridge; it works whenever the link is up. */
export function shareKeys(options: KeySyncOptions): KeySync {
  return new KeyBridge(options);
}

class KeyBridge implements KeySync {
  #o: KeySyncOptions;
  #client: Redis;
  #sub: Redis;
  #channel: string;
  /** What Redis holds, as far as this instance knows: hash → row JSON. */
  #known = new Map<string, string>();
  #pushWanted = true;
  #incoming: KeyReplica[] = [];
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
    const message = parse(text);
    if (message === null || message.by === this.#o.instance) return;
    this.#known.set(message.row.hash, JSON.stringify(message.row));
    this.#incoming.push(message.row);
    this.#schedule();
  };

  constructor(options: KeySyncOptions) {
    this.#o = options;
    this.#client = options.link.client;
    this.#channel = `${options.link.prefix}keys`;
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
    options.store.onChange(() => {
      this.#pushWanted = true;
      this.#schedule();
    });
    this.#timer = setInterval(() => this.#schedule(), TICK_MS);
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
    this.#running = this.#work().catch((err) => this.#trouble(err)).finally(
      () => {
        this.#busy = false;
        // What arrived meanwhile waits for the next tick at most.
      },
    );
  }

  async #work(): Promise<void> {
    if (!this.#o.link.up) {
      this.#wasUp = false;
      return;
    }
    const now = Date.now();
    if (!this.#wasUp || now - this.#lastSync >= RESYNC_MS) {
      await this.#resync();
      this.#wasUp = true;
      this.#lastSync = now;
    }
    if (this.#incoming.length > 0) {
      const rows = this.#incoming.splice(0);
      await this.#merge(rows);
    }
    if (this.#pushWanted) {
      this.#pushWanted = false;
      try {
        await this.#push();
      } catch (err) {
        this.#pushWanted = true;
        throw err;
      }
    }
    if (this.#failing) {
      this.#failing = false;
      this.#o.logger.info("Client keys are shared through Redis again");
    }
  }

  /** Merges the whole hash here, then pushes what Redis lacks. */
  async #resync(): Promise<void> {
    const all = await this.#client.hgetall("keys");
    const rows: KeyReplica[] = [];
    this.#known.clear();
    for (const [hash, text] of Object.entries(all)) {
      const row = parseRow(text);
      if (row === null || row.hash !== hash) continue;
      this.#known.set(hash, text);
      rows.push(row);
    }
    if (rows.length > 0) await this.#merge(rows);
    this.#pushWanted = true;
  }

  async #merge(rows: KeyReplica[]): Promise<void> {
    const result = await this.#o.store.merge(rows);
    for (const name of result.clashes) {
      this.#o.logger.warn(
        `Client key "${name}" from another instance is not used here: an active key of that name with another value exists on this instance (revoke one of them)`,
      );
    }
    // A merged row may differ from both sides (a revocation met a budget change).
    if (result.changed > 0) this.#pushWanted = true;
  }

  /** Writes and announces every row here that Redis does not hold as it is. */
  async #push(): Promise<void> {
    const rows = await this.#o.store.rows();
    for (const row of rows) {
      const text = JSON.stringify(row);
      if (this.#known.get(row.hash) === text) continue;
      const message: Message = { by: this.#o.instance, row };
      await this.#client.multi().hset("keys", row.hash, text).publish(
        this.#channel,
        JSON.stringify(message),
      ).exec();
      this.#known.set(row.hash, text);
    }
  }

  #trouble(err: unknown): void {
    if (this.#failing) return;
    this.#failing = true;
    this.#o.logger.warn(
      `Cannot share client keys through Redis (will retry): ${describe(err)}`,
    );
  }
}

function parseRow(text: string): KeyReplica | null {
  try {
    const row = JSON.parse(text);
    return isKeyReplica(row) ? row : null;
  } catch {
    return null;
  }
}

function parse(text: string): Message | null {
  try {
    const m = JSON.parse(text);
    if (typeof m?.by === "string" && isKeyReplica(m.row)) return m as Message;
  } catch {
    // A foreign or damaged message: ignored.
  }
  return null;
}
