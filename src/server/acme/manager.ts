/**
 * Certificates over ACME for `serve`: the challenge listener, the stored
 * certificate reused when valid, an order when not, and renewal at two
 * thirds of the lifetime with bounded exponential backoff on failure. A new
 * pair is stored and then put in force like a reloaded file pair. Runs on
 * the main thread only; `serve` imports this module only with
 * `--acme-domain`.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { Settings } from "../../config/settings.ts";
import { describe } from "../../base/describe.ts";
import type { LimitedServer } from "../connection_limits.ts";
import { type Cluster, joinCluster } from "../cluster_join.ts";
import type { OrderLock } from "../../cluster/order_lock.ts";
import type { AcmeStore } from "../../cluster/acme_store.ts";
import { type ChallengeBook, challengeBook } from "./challenges.ts";
import type { ChallengeAnswers } from "../tls_redirect.ts";
import { loadTlsPair, type TlsFiles, type TlsPair } from "../tls.ts";
import { startRedirect } from "../tls_redirect.ts";
import type { AcmeSettings } from "./options.ts";
import { newPrivateKey, orderCertificate } from "./order.ts";
import {
  checkDelay,
  coversDomains,
  renewalTime,
  retryDelay,
} from "./renewal.ts";
import {
  type AcmeStateFiles,
  acmeStateFiles,
  ensureStateDir,
  readAccountUrl,
  readIfPresent,
  withStateLock,
  writeAccountUrl,
  writePrivate,
} from "./state.ts";

/** Orders tried at start before `serve` gives up. */
export const START_ATTEMPTS = 3;

/** Options of {@linkcode startAcme}. */
export interface AcmeOptions {
  settings:
    & AcmeSettings
    & Pick<
      Settings,
      | "host"
      | "clientHeaderTimeout"
      | "keepAliveTimeout"
      | "maxConnections"
      | "redisUrl"
      | "redisPrefix"
      | "redisTimeout"
    >;
  /** The state directory (`acmeStateDirOf`). */
  stateDir: string;
  logger: Logger;
  /** Counts each order's outcome. */
  metrics: { countAcmeOrder(outcome: "issued" | "failed"): void };
}

/** A running ACME manager. */
export interface AcmeHandle {
  /** The state directory's certificate files, reloaded like `--tls-cert`'s. */
  files: TlsFiles;
  /** The pair to serve first. */
  pair: TlsPair;
  /**
   * Starts the renewal schedule; `install` puts the newly stored pair in
   * force (resolves true when it did).
   */
  renew(install: () => Promise<boolean>): void;
  /** Stops renewing and closes the challenge listener. */
  close(): Promise<void>;
}

/**
 * Opens the challenge listener and gets the first pair: the stored one when
 * valid, else a new order (up to {@linkcode START_ATTEMPTS}). Throws when
 * none can be had.
 */
export async function startAcme(options: AcmeOptions): Promise<AcmeHandle> {
  const { settings, logger } = options;
  const files = acmeStateFiles(options.stateDir);
  await ensureStateDir(files);
  // With --redis-url the instances behind one name order one at a time,
  // answer each other's challenges and share the certificate.
  // Redis going away is the instance's one WARNING, told by the supervisor's
  // and the workers' links (src/server/redis_state.ts): this one only notes it.
  const cluster: Cluster | null = await joinCluster({
    settings,
    logger: {
      warn: (message) => logger.debug(message),
      info: (message) => logger.debug(message),
    },
    name: `flow-proxy-${Deno.pid}-acme`,
  });
  const lock = cluster?.lock({ logger }) ?? null;
  const store = cluster?.acmeStore() ?? null;
  const challenges = challengeBook(store, logger);
  const server = openChallengeListener(settings, challenges, logger);
  const order = (reason: string) =>
    obtain({ ...options, files, challenges, reason, lock, store });
  let pair: TlsPair;
  try {
    pair = await storedPair(files, settings.acmeDomains, logger) ??
      await firstOrder(order, logger);
  } catch (err) {
    await server.shutdown();
    await cluster?.close();
    throw err;
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;
  const handle: AcmeHandle = {
    files,
    pair,
    renew(install) {
      let failures = 0;
      const wait = (ms: number, next: () => void) => {
        if (closed) return;
        const id = setTimeout(next, ms);
        timer = id;
        Deno.unrefTimer(id as unknown as number);
      };
      const check = () => {
        if (Date.now() < renewalTime(pair.summary)) {
          return wait(checkDelay(pair.summary, Date.now()), check);
        }
        order("renewal").then(async (next) => {
          failures = 0;
          pair = next;
          if (!await install()) {
            logger.error(
              "The renewed ACME certificate was stored but not put in force",
            );
          }
          wait(checkDelay(pair.summary, Date.now()), check);
        }, (err) => {
          failures++;
          const delay = retryDelay(failures);
          logger.error(
            `ACME renewal for ${
              settings.acmeDomains.join(", ")
            } failed (attempt ${failures}; next in ${
              Math.round(delay / 1000)
            } s; serving the current certificate until ${
              new Date(pair.summary.notAfter * 1000).toISOString()
            }): ${describe(err)}`,
          );
          wait(delay, check);
        });
      };
      wait(checkDelay(pair.summary, Date.now()), check);
    },
    async close() {
      closed = true;
      clearTimeout(timer);
      await server.shutdown();
      await cluster?.close();
    },
  };
  return handle;
}

function openChallengeListener(
  settings: AcmeOptions["settings"],
  challenges: ChallengeAnswers,
  logger: Logger,
): LimitedServer {
  const port = settings.acmeHttpPort;
  let server: LimitedServer;
  try {
    server = startRedirect({
      hostname: settings.host,
      port,
      httpsPort: settings.port,
      headerTimeout: settings.clientHeaderTimeout,
      keepAliveTimeout: settings.keepAliveTimeout,
      maxConnections: settings.maxConnections,
      challenges,
    });
  } catch (err) {
    throw new Error(
      `Cannot listen on ${settings.host}:${port} (--acme-http-port): ${
        describe(err)
      }`,
    );
  }
  logger.info(
    `ACME HTTP-01 challenges on port ${port}; other plain HTTP redirects to HTTPS on port ${settings.port}`,
  );
  return server;
}

async function firstOrder(
  order: (reason: string) => Promise<TlsPair>,
  logger: Logger,
): Promise<TlsPair> {
  for (let attempt = 1;; attempt++) {
    try {
      return await order("start");
    } catch (err) {
      if (attempt >= START_ATTEMPTS) {
        throw new Error(
          `No certificate over ACME after ${attempt} attempts: ${
            describe(err)
          }`,
        );
      }
      const delay = retryDelay(attempt);
      logger.error(
        `ACME order failed (attempt ${attempt} of ${START_ATTEMPTS}; next in ${
          Math.round(delay / 1000)
        } s): ${describe(err)}`,
      );
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/** The stored pair when it is valid and names every domain, else null (the reason logged). */
async function storedPair(
  files: TlsFiles,
  domains: readonly string[],
  logger: Logger,
): Promise<TlsPair | null> {
  let pair: TlsPair;
  try {
    pair = await loadTlsPair(files, { allowExpired: false });
  } catch (err) {
    logger.info(`No usable stored ACME certificate: ${describe(err)}`);
    return null;
  }
  if (!coversDomains(pair.summary, domains)) {
    logger.info(
      `The stored ACME certificate names ${
        pair.summary.names.join(", ")
      }, not every one of ${domains.join(", ")}: ordering a new one`,
    );
    return null;
  }
  logger.info(
    `Using the stored ACME certificate: ${
      pair.summary.names.join(", ")
    }, serial ${pair.summary.serial}, expires ${
      new Date(pair.summary.notAfter * 1000).toISOString()
    } (renewal from ${new Date(renewalTime(pair.summary)).toISOString()})`,
  );
  return pair;
}

interface ObtainOptions extends AcmeOptions {
  files: AcmeStateFiles;
  challenges: ChallengeBook;
  reason: string;
  /** The lock across instances (Redis), taken before the file lock; null without one. */
  lock: OrderLock | null;
  /** The certificates the instances share (Redis); null without one. */
  store: AcmeStore | null;
}

/**
 * Under the state lock: the stored pair when another instance renewed it
 * meanwhile, else a new order, stored and checked.
 */
function obtain(options: ObtainOptions): Promise<TlsPair> {
  const name = `acme:${[...options.settings.acmeDomains].sort().join(",")}`;
  return options.lock === null
    ? obtainLocked(options)
    : options.lock.hold(name, () => obtainLocked(options));
}

function obtainLocked(options: ObtainOptions): Promise<TlsPair> {
  const { files, settings, logger } = options;
  const domains = settings.acmeDomains;
  return withStateLock(files, async () => {
    const stored = await loadTlsPair(files, { allowExpired: false }).catch(
      () => null,
    );
    if (
      stored !== null && coversDomains(stored.summary, domains) &&
      Date.now() < renewalTime(stored.summary)
    ) {
      logger.info(
        `Another instance stored a fresh ACME certificate (serial ${stored.summary.serial}): using it`,
      );
      return stored;
    }
    const shared = await sharedPair(options);
    if (shared !== null) return shared;
    logger.info(
      `Ordering a certificate for ${
        domains.join(", ")
      } from ${settings.acmeDirectory.href} (${options.reason})`,
    );
    let pair: TlsPair;
    try {
      pair = await orderAndStore(options);
    } catch (err) {
      options.metrics.countAcmeOrder("failed");
      throw err;
    }
    options.metrics.countAcmeOrder("issued");
    await options.store?.storeCertificate(
      domains,
      { cert: pair.cert, key: pair.key },
      pair.summary.notAfter * 1000,
    ).catch((err) =>
      logger.warn(
        `Cannot share the new ACME certificate through Redis (${
          describe(err)
        }): the other instances order their own`,
      )
    );
    logger.info(
      `ACME certificate issued: ${
        pair.summary.names.join(", ")
      }, serial ${pair.summary.serial}, expires ${
        new Date(pair.summary.notAfter * 1000).toISOString()
      }`,
    );
    return pair;
  });
}

/**
 * The pair another instance shared through Redis when it is sound, names
 * every domain and is not due for renewal: written to this instance's
 * state directory and returned. Else null (ordering goes on).
 */
async function sharedPair(options: ObtainOptions): Promise<TlsPair | null> {
  const { store, files, settings, logger } = options;
  if (store === null) return null;
  const domains = settings.acmeDomains;
  const pem = await store.certificate(domains).catch((err) => {
    logger.warn(
      `Cannot read the shared ACME certificate from Redis (${
        describe(err)
      }): ordering one here`,
    );
    return null;
  });
  if (pem === null) return null;
  const where = "the ACME certificate shared in Redis";
  let summary;
  try {
    const { checkPair } = await import("../tls_x509.ts");
    summary = checkPair(pem.cert, pem.key, { certFile: where, keyFile: where });
  } catch (err) {
    logger.warn(`Not using ${where}: ${describe(err)}`);
    return null;
  }
  if (
    !coversDomains(summary, domains) || Date.now() >= renewalTime(summary)
  ) {
    return null;
  }
  await writePrivate(files.keyFile, pem.key);
  await writePrivate(files.certFile, pem.cert);
  const pair = await loadTlsPair(files, { allowExpired: false });
  logger.info(
    `Using the ACME certificate another instance shared through Redis: ${
      pair.summary.names.join(", ")
    }, serial ${pair.summary.serial}, expires ${
      new Date(pair.summary.notAfter * 1000).toISOString()
    }`,
  );
  return pair;
}

async function orderAndStore(options: ObtainOptions): Promise<TlsPair> {
  const { files, settings } = options;
  let accountKey = await readIfPresent(files.accountKeyFile);
  if (accountKey === null) {
    accountKey = await newPrivateKey();
    await writePrivate(files.accountKeyFile, accountKey);
  }
  const caPem = settings.acmeCaFile === null
    ? null
    : await Deno.readTextFile(settings.acmeCaFile).catch((err) => {
      throw new Error(
        `Cannot read --acme-ca-file "${settings.acmeCaFile}": ${describe(err)}`,
      );
    });
  const directoryUrl = settings.acmeDirectory.href;
  const accountUrl = await readAccountUrl(files, directoryUrl);
  const result = await orderCertificate({
    directoryUrl,
    domains: settings.acmeDomains,
    email: settings.acmeEmail,
    accountKey,
    accountUrl,
    caPem,
    challenges: options.challenges,
  });
  if (result.accountUrl !== accountUrl) {
    await writeAccountUrl(files, directoryUrl, result.accountUrl);
  }
  await writePrivate(files.keyFile, result.key);
  await writePrivate(files.certFile, result.cert);
  return await loadTlsPair(files, { allowExpired: false });
}
