/**
 * What one instance's supervisor shares with the other instances behind
 * the same Redis (`--redis-url`): credential health (src/cluster/
 * shared_health.ts), client keys (key_sync.ts), and users, teams, sessions
 * and API tokens (account_sync.ts). Loads src/cluster/ through {@linkcode joinCluster}
 * only when Redis is configured; without it {@linkcode shareInstance}
 * resolves null and nothing else runs.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { Settings } from "../config/settings.ts";
import type { SharedState } from "../base/shared_state.ts";
import type { StoreClient } from "./store_client.ts";
import type { SharedHealth } from "../cluster/shared_health.ts";
import { joinCluster } from "./cluster_join.ts";
import { instanceRedisLogger, redisStateListener } from "./redis_state.ts";

/** Options of {@linkcode shareInstance}. */
export interface InstanceShareOptions {
  settings: Settings;
  state: SharedState;
  credentials: readonly { name: string; clientId: string }[];
  store: StoreClient | null;
  logger: Logger;
}

/** The supervisor's share of the cluster. */
export interface InstanceShare {
  /** New credentials after a reload (their health was reset). */
  credentialsChanged(
    credentials: readonly { name: string; clientId: string }[],
  ): void;
  close(): Promise<void>;
}

/** Joins the cluster for the instance as a whole; null without `--redis-url`. */
export async function shareInstance(
  options: InstanceShareOptions,
): Promise<InstanceShare | null> {
  const { settings } = options;
  const cluster = await joinCluster({
    settings,
    // One WARNING per instance, whichever of its links sees Redis go first.
    logger: instanceRedisLogger(options.state.control, options.logger, {
      limitsFail: settings.redisLimitsFail,
    }),
    onState: redisStateListener(options.state.control),
    name: `flow-proxy-${Deno.pid}-supervisor`,
  });
  if (cluster === null) return null;
  const instance = `${Deno.hostname()}-${Deno.pid}-${
    crypto.randomUUID().slice(0, 8)
  }`;
  const probeLeaseMs = settings.connectTimeout + settings.headersTimeout;
  const health: SharedHealth = cluster.shareHealth({
    state: options.state,
    table: {
      backoffBase: settings.backoffBase,
      backoffMax: settings.backoffMax,
      probeLease: probeLeaseMs,
    },
    probeLeaseMs,
    credentials: options.credentials,
    instance,
    logger: options.logger,
  });
  const store = options.store;
  if (store !== null) {
    cluster.shareKeys({
      store: {
        rows: () => store.request({ op: "key-rows" }),
        merge: (rows) => store.request({ op: "merge-keys", rows }),
        onChange: (listener) => store.onKeys(() => listener()),
      },
      instance,
      logger: options.logger,
    });
    cluster.shareAccounts({
      store: {
        rows: () => store.request({ op: "account-rows" }),
        merge: (rows) => store.request({ op: "merge-accounts", rows }),
      },
      instance,
      logger: options.logger,
    });
  }
  return {
    credentialsChanged: (credentials) => health.setCredentials(credentials),
    close: () => cluster.close(),
  };
}
