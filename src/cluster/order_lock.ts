/**
 * A lock across the instances behind one Redis, for work that only one of
 * them should do at a time (an ACME order: several instances behind one
 * name must not all order at once). `SET NX PX` with a token of its own,
 * renewed while the work runs, deleted after (only by its holder); an
 * instance that dies holding it lets it expire within
 * {@linkcode LOCK_TTL_MS}. With Redis down the work runs without it (the
 * caller keeps its file lock).
 *
 * @module
 */
import { describe } from "../base/describe.ts";
import type { RedisLink } from "./redis_link.ts";

/** How long a lock lives without renewal, ms. */
export const LOCK_TTL_MS = 30_000;

const RENEW_SCRIPT =
  `if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("PEXPIRE", KEYS[1], ARGV[2]) end return 0`;
const RELEASE_SCRIPT =
  `if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`;

/** Where the lock says it waits or goes without. */
export interface OrderLockLogger {
  warn(message: string): void;
  info(message: string): void;
}

/** Runs work under a named lock; see the module doc. */
export interface OrderLock {
  hold<T>(name: string, task: () => Promise<T>): Promise<T>;
}

/** Options of {@linkcode redisLock}. */
export interface OrderLockOptions {
  link: RedisLink;
  logger: OrderLockLogger;
  /** Lifetime without renewal, ms; default {@linkcode LOCK_TTL_MS}. */
  ttlMs?: number;
  /** How often a waiter tries again, ms; default 500. */
  pollMs?: number;
}

/** A lock in the link's Redis (key `lock:<name>`). */
export function redisLock(options: OrderLockOptions): OrderLock {
  const { link, logger } = options;
  const ttl = options.ttlMs ?? LOCK_TTL_MS;
  const poll = options.pollMs ?? 500;
  return {
    async hold<T>(name: string, task: () => Promise<T>): Promise<T> {
      const key = `lock:${name}`;
      const token = crypto.randomUUID();
      let waited = false;
      for (;;) {
        let won: string | null;
        try {
          won = await link.client.set(key, token, "PX", ttl, "NX");
        } catch (err) {
          logger.warn(
            `Cannot take the lock "${name}" in Redis (${
              describe(err)
            }): going on without it`,
          );
          return await task();
        }
        if (won === "OK") break;
        if (!waited) {
          waited = true;
          logger.info(
            `Another instance holds the lock "${name}": waiting for it`,
          );
        }
        await new Promise((r) => setTimeout(r, poll));
      }
      const renew = setInterval(() => {
        link.client.eval(RENEW_SCRIPT, 1, key, token, ttl).catch(() => {
          // It expires, and another instance may start: nothing to undo here.
        });
      }, Math.max(10, Math.floor(ttl / 3)));
      try {
        return await task();
      } finally {
        clearInterval(renew);
        await link.client.eval(RELEASE_SCRIPT, 1, key, token).catch(() => {
          // It expires on its own.
        });
      }
    },
  };
}
