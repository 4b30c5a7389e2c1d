/**
 * What one serving thread shares with the other instances behind the same
 * Redis (`--redis-url`): the link, and the shared pieces built on it.
 * Opened by the server with `import()` only when Redis is configured, so an
 * instance alone loads none of this folder (or ioredis).
 *
 * @module
 */
import type { Settings } from "../config/settings.ts";
import {
  openRedisLink,
  type RedisLink,
  type RedisLinkLogger,
} from "./redis_link.ts";
import {
  type SharedHealth,
  type SharedHealthOptions,
  shareHealth,
} from "./shared_health.ts";
import { type KeySync, type KeySyncOptions, shareKeys } from "./key_sync.ts";
import {
  type OrderLock,
  type OrderLockOptions,
  redisLock,
} from "./order_lock.ts";
import {
  type SharedLimitsOptions,
  shareLimits,
  type ThreadLimits,
} from "./shared_limits.ts";
import {
  type AccountSync,
  type AccountSyncOptions,
  shareAccounts,
} from "./account_sync.ts";
import { type AcmeStore, acmeStore } from "./acme_store.ts";

/** Options of {@linkcode openCluster}. */
export interface ClusterOptions {
  settings: Pick<Settings, "redisUrl" | "redisPrefix" | "redisTimeout">;
  logger: RedisLinkLogger;
  /** This thread's connection name in Redis (`CLIENT LIST`). */
  name: string;
  /** Called each time the link goes up or down. */
  onState?: (up: boolean) => void;
}

/** A thread's share of the cluster. */
export interface Cluster extends AsyncDisposable {
  link: RedisLink;
  /** Starts the credential-health bridge (the supervisor's); closed with the cluster. */
  shareHealth(options: Omit<SharedHealthOptions, "link">): SharedHealth;
  /** Starts the client-key bridge (the supervisor's); closed with the cluster. */
  shareKeys(options: Omit<KeySyncOptions, "link">): KeySync;
  /** Starts the users-and-sessions bridge (the supervisor's); closed with the cluster. */
  shareAccounts(options: Omit<AccountSyncOptions, "link">): AccountSync;
  /** A lock across the instances (the ACME order's). */
  lock(options: Omit<OrderLockOptions, "link">): OrderLock;
  /** ACME challenges and certificates shared by the instances behind one name. */
  acmeStore(): AcmeStore;
  /**
   * The client-key limits kept in Redis (a serving thread's; made on the
   * first call, later calls return the same); closed with the cluster.
   */
  limits(options: Omit<SharedLimitsOptions, "link">): ThreadLimits;
  close(): Promise<void>;
}

/** Connects to the configured Redis; resolves even when it is down (see {@linkcode openRedisLink}). */
export async function openCluster(options: ClusterOptions): Promise<Cluster> {
  const { settings } = options;
  if (settings.redisUrl === null) {
    throw new TypeError("Cannot open the cluster: no --redis-url is set");
  }
  const link = await openRedisLink({
    url: settings.redisUrl,
    prefix: settings.redisPrefix,
    timeoutMs: settings.redisTimeout,
    name: options.name,
    logger: options.logger,
    onState: options.onState,
  });
  const pieces: { close(): Promise<void> }[] = [];
  function piece<T extends { close(): Promise<void> }>(made: T): T {
    pieces.push(made);
    return made;
  }
  let limits: ThreadLimits | null = null;
  async function close(): Promise<void> {
    // Buffered charges are sent while the link is still open.
    await limits?.close();
    await Promise.all(pieces.map((p) => p.close()));
    await link.close();
  }
  return {
    link,
    shareHealth: (o) => piece(shareHealth({ ...o, link })),
    shareKeys: (o) => piece(shareKeys({ ...o, link })),
    shareAccounts: (o) => piece(shareAccounts({ ...o, link })),
    lock: (o) => redisLock({ ...o, link }),
    acmeStore: () => acmeStore(link),
    limits: (o) => limits ??= shareLimits({ ...o, link }),
    close,
    [Symbol.asyncDispose]: close,
  };
}
