/**
 * What one serving thread runs, a Web Worker or the main thread alike:
 * tokens, the balancer over the shared state, the handler, and `Deno.serve`.
 */
import type { Logger } from "@logtape/logtape";
import { Balancer } from "../upstream/balancer.ts";
import type { SignedCredentials } from "../upstream/jwt.ts";
import type { Settings } from "../config/settings.ts";
import type { RequestRecord } from "../request_log/record.ts";
import {
  createHandler,
  type HandlerObserver,
  type ProxyHandler,
} from "../proxy/handler.ts";
import { createAccessControl } from "../access/access.ts";
import { KeyVerifier, type StoredKey } from "../access/client_keys.ts";
import { parseCidrs } from "../base/ip_filter.ts";
import { RateLimiter } from "../access/rate_limit.ts";
import { BudgetTable } from "../access/budget_table.ts";
import { createAdminApi } from "../admin/admin_api.ts";
import type { AccountsClient } from "../accounts/calls.ts";
import { sessionPolicyFrom } from "../accounts/sessions.ts";
import { Metrics } from "../observe/metrics.ts";
import { ClientMetrics } from "../observe/client_metrics.ts";
import { VERSION } from "../version.ts";
import { CONTROL, type SharedState } from "../base/shared_state.ts";
import {
  serveWithLimits,
  type ServeWithLimitsOptions,
} from "./connection_limits.ts";
import type { StoreLink } from "./store_link.ts";
import { describe } from "../base/describe.ts";
import { ModelsState } from "../models/models_state.ts";
import { renderTlsMetrics, tlsHealth } from "../observe/tls_metrics.ts";
import type { TlsPair } from "./tls.ts";
import type { ModelsConfig } from "../models/types.ts";
import { joinCluster } from "./cluster_join.ts";
import type { SharedLimits } from "../access/contract.ts";
import type { BudgetCrossing } from "../access/budget_table.ts";
import {
  instanceRedisLogger,
  redisStateListener,
  renderRedisMetrics,
} from "./redis_state.ts";
import { benchOff } from "../base/bench_switches.ts";
import { dashboardSources } from "./dashboard_sources.ts";

/**
 * How long a serving thread keeps answering after shutdown starts, every
 * response with `Connection: close`, before it closes idle connections.
 */
export const SHUTDOWN_DRAIN_MS = 1000;

/** Last-used times of client keys are handed to the store at most this often. */
const TOUCH_BATCH_MS = 500;

/** Options of {@linkcode startRuntime}. */
export interface RuntimeOptions {
  settings: Settings;
  state: SharedState;
  /** Names and tokens, signed by the supervisor. */
  credentials: SignedCredentials;
  secretsGeneration: number;
  /** Workers that must listen before `/healthz` answers 200. */
  workersExpected: number;
  logger: Logger;
  /** Receives each finished request's record. */
  onRecord: (record: RequestRecord) => void;
  /** The database, by message (see store_link.ts); null without one (`--no-db`). */
  store?: StoreLink | null;
  /** The models configuration at start; the built-in one when absent. */
  models?: ModelsConfig;
  /** Serve HTTPS with this checked pair (see tls.ts); plain HTTP when absent. */
  tls?: TlsPair | null;
  /** This thread's name in logs and Redis connection names (`worker-1`); default `main`. */
  threadName?: string;
}

/** A serving thread's handle. */
export interface Runtime {
  /** Address actually listened on. */
  addr: Deno.NetAddr;
  /** Uses new credentials from now on; in-flight requests keep theirs. */
  reload(credentials: SignedCredentials, generation: number): void;
  /** Checks client keys against `keys` from now on (sent by the store worker). */
  loadKeys(keys: readonly StoredKey[]): void;
  /** This thread's models configuration, which the handler reads per request. */
  models: ModelsState;
  /** Puts a reloaded models configuration in force for the next request. */
  replaceModels(config: ModelsConfig): void;
  /**
   * New connections get `pair` from now on, open ones keep theirs; throws,
   * keeping the pair in use, when the new listener cannot open.
   */
  replaceTls(pair: TlsPair): void;
  /** Stops accepting, lets in-flight requests finish, then resolves. */
  shutdown(): Promise<void>;
  /** Resolves when the server has stopped. */
  finished: Promise<void>;
}

function makeBalancer(
  state: SharedState,
  credentials: SignedCredentials,
  generation: number,
  settings: Settings,
  logger: Logger,
): Balancer {
  const balancer = new Balancer(state, {
    names: credentials.names,
    tokens: credentials.tokens,
    generation,
  }, {
    backoffBase: settings.backoffBase,
    backoffMax: settings.backoffMax,
    probeLease: settings.connectTimeout + settings.headersTimeout,
    logger,
  });
  credentials.errors.forEach((error, index) => {
    if (error === null) return;
    const pick = {
      index,
      name: credentials.names[index],
      probe: false,
      generation,
    };
    balancer.failed(pick, `its token cannot be made: ${error}`);
  });
  return balancer;
}

/**
 * Seeds the shared budget counters with what the request log says each key
 * (and each user and team with a budget) used this period; a no-op for a key already counted this period (by this
 * or another thread), so live counts are never overwritten.
 */
function seedBudgets(
  budgets: Pick<BudgetTable, "seed">,
  keys: readonly StoredKey[],
): void {
  for (const key of keys) {
    if (key.budgetUsed) {
      budgets.seed(key.name, key.budgetUsed.period, key.budgetUsed);
    }
    // The owner's and team's budgets (the same slot on each of their keys).
    for (const shared of key.shared ?? []) {
      if (shared.used) {
        budgets.seed(shared.slot, shared.used.period, shared.used);
      }
    }
  }
}

/**
 * Who a budget counter belongs to, as log lines name it: `Key 'team-a'`,
 * `User 'alice'` (counter `user:alice`), `Team 'core'` (`team:core`).
 */
export function budgetHolder(counter: string): string {
  if (counter.startsWith("user:")) return `User '${counter.slice(5)}'`;
  if (counter.startsWith("team:")) return `Team '${counter.slice(5)}'`;
  return `Key '${counter}'`;
}

/** The handler's hooks, counting into the shared metrics. */
export function metricsObserver(metrics: Metrics): HandlerObserver {
  return {
    started: () => metrics.inFlight(1),
    finished(record, credentialIndex, answer) {
      metrics.inFlight(-1);
      metrics.observe(record, credentialIndex, answer);
    },
    failover: (index) => metrics.failover(index),
    rewrote: (kinds) => metrics.countRewrites(kinds),
    mapped: (rule) => metrics.countMapping(rule),
    translated: (name) => metrics.countTranslation(name),
  };
}

/** Starts serving on this thread; resolves once it listens. */
export async function startRuntime(options: RuntimeOptions): Promise<Runtime> {
  const { settings, state, logger } = options;
  let balancer = makeBalancer(
    state,
    options.credentials,
    options.secretsGeneration,
    settings,
    logger,
  );
  const startedAt = Date.now();
  const models = new ModelsState(options.models);
  const metrics = new Metrics(state.metrics);
  const clientMetrics = new ClientMetrics(state.clients);
  const workersReady = () => Atomics.load(state.control, CONTROL.WORKERS_READY);
  let tls = options.tls ?? null;
  // With --redis-url: this thread's link to the state other instances share.
  // Its WARNING and INFO are the instance's, once (src/server/redis_state.ts).
  const cluster = await joinCluster({
    settings,
    logger: instanceRedisLogger(state.control, logger, {
      limitsFail: settings.redisLimitsFail,
    }),
    onState: redisStateListener(state.control),
    name: `flow-proxy-${Deno.pid}-${options.threadName ?? "main"}`,
  });

  // Client keys live in the database, which only the store worker touches:
  // this thread checks keys in memory and sends last-used times by message.
  const store = options.store ?? null;
  const verifier = new KeyVerifier(store?.keys ?? []);
  // The keys as last loaded, for the dashboard's budgets.
  let keysNow: readonly StoredKey[] = store?.keys ?? [];
  const budgets = new BudgetTable(state.budgets, {
    onOverflow: (key) =>
      logger.warn(
        `Budget table full: key '${key}' is counted by this thread only`,
      ),
  });
  seedBudgets(budgets, store?.keys ?? []);
  function tellCrossing(c: BudgetCrossing): void {
    metrics.countBudgetCrossing(c.measure, c.percent);
    const used = c.measure === "tokens"
      ? `${c.used} of ${c.limit} tokens`
      : `${(c.used / 1e9).toFixed(6)} of ${(c.limit / 1e9).toFixed(6)} spend`;
    logger.warn(
      `${
        budgetHolder(c.key)
      } has used ${c.percent} % of its budget this period (${used})`,
    );
  }
  // With --redis-url the limits are every instance's; this thread's own
  // counters are the fallback while Redis is away.
  const sharedLimits = cluster?.limits({
    failClosed: settings.redisLimitsFail === "closed",
    onCrossing: tellCrossing,
    logger,
  }) ?? null;
  if (sharedLimits) seedBudgets(sharedLimits, store?.keys ?? []);
  const touches = new Map<string, number>();
  let touchTimer: ReturnType<typeof setTimeout> | undefined;
  function sendTouches(): void {
    clearTimeout(touchTimer);
    touchTimer = undefined;
    if (touches.size === 0) return;
    store?.touch([...touches]);
    touches.clear();
  }
  function touch(name: string, when: number): void {
    if (store === null) return;
    if ((touches.get(name) ?? 0) < when) touches.set(name, when);
    touchTimer ??= setTimeout(sendTouches, TOUCH_BATCH_MS);
  }
  const ipFilter = settings.allowIp.length > 0
    ? parseCidrs(settings.allowIp)
    : null;
  const access = createAccessControl({
    keys: store ? verifier : null,
    requireKey: settings.requireKey,
    limiter: new RateLimiter(state.limits),
    defaultRpm: settings.defaultRpm,
    defaultBurst: settings.defaultBurst,
    ipFilter,
    onUse: touch,
    onUseError: (err) =>
      logger.error(
        `Cannot record the use of a client key: ${describe(err)}`,
      ),
    budgets,
    budgetTimeZone: settings.budgetTimeZone,
    onCrossing: tellCrossing,
    shared: sharedLimits as SharedLimits | null,
  });
  const dashboard = dashboardSources({
    settings,
    balancer: () => balancer,
    metrics,
    tls: () => tls?.summary ?? null,
    store,
    keys: () => keysNow,
    budgets,
    currency: () => models.config.currency,
  });
  const admin = createAdminApi({
    token: settings.adminToken,
    keys: store && {
      list: () => store.request({ op: "list" }),
      create: (input) => store.request({ op: "create", input }),
      revoke: (name) => store.request({ op: "revoke", name }),
      setBudget: (name, budget) =>
        store.request({ op: "budget", name, budget }),
      update: (name, changes) =>
        store.request({ op: "update-key", name, changes }),
    },
    usage: store
      ? (since, owner) => store.request({ op: "usage", since, owner })
      : undefined,
    accounts: store &&
      ((call) => store.request({ op: "accounts", call })) as AccountsClient,
    sessionPolicy: sessionPolicyFrom(settings),
    logger,
    onLoginFailure: (reason) => metrics.countLoginFailure(reason),
    startedAt,
    dashboard,
    status: () => ({
      workersReady: workersReady(),
      workersExpected: options.workersExpected,
      credentials: balancer.health(),
    }),
  });

  const handler: ProxyHandler = createHandler({
    // The handler reads the settings its `HandlerSettings` names.
    ...settings,
    balancer: () => balancer,
    logger,
    // FLOW_PROXY_BENCH_OFF (bench/README.md) takes these away for a benchmark only.
    onRecord: benchOff("record") ? undefined : options.onRecord,
    access: benchOff("access") ? undefined : access,
    allowAddress: ipFilter ? (address) => ipFilter.allows(address) : undefined,
    admin: (req, info) => admin(req, info),
    models,
    observer: benchOff("metrics") ? undefined : metricsObserver(metrics),
    metrics: () =>
      metrics.render({
        credentials: balancer.health(),
        workersReady: workersReady(),
        workersExpected: options.workersExpected,
        version: VERSION,
      }) + clientMetrics.render() + renderTlsMetrics(tls?.summary ?? null) +
      (settings.redisUrl === null ? "" : renderRedisMetrics(state.control)),
    health() {
      const ready = workersReady();
      const credentials = balancer.health();
      const usable = credentials.filter((c) => c.state === "ok").length;
      const probing = credentials.some((c) =>
        c.state === "failed" && c.retryInSeconds === 0
      );
      const listening = ready >= options.workersExpected;
      const healthy = listening && (usable > 0 || probing);
      return {
        healthy,
        body: {
          status: healthy
            ? "ok"
            : listening
            ? "no_credentials_available"
            : "starting",
          version: VERSION,
          uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
          workers: { ready, expected: options.workersExpected },
          credentials: {
            usable,
            total: credentials.length,
            states: credentials,
          },
          ...(tls ? { tls: tlsHealth(tls.summary) } : {}),
        },
      };
    },
  });

  // Set by shutdown(): from then on every response says `Connection: close`.
  let draining = false;
  const answer = settings.hsts && tls !== null
    ? (req: Request, info: Deno.ServeHandlerInfo) =>
      handler(req, info).then(withHsts)
    : handler;
  const serve = (req: Request, info: Deno.ServeHandlerInfo) =>
    draining ? answer(req, info).then(withConnectionClose) : answer(req, info);

  function onError(err: unknown): Response {
    logger.error(
      `Internal error: ${describe(err)}`,
    );
    return new Response(
      JSON.stringify({
        error: {
          message: "Internal error",
          type: "internal_error",
          code: "internal_error",
        },
      }),
      {
        status: 500,
        headers: { "content-type": "application/json" },
      },
    );
  }
  const limitOptions: ServeWithLimitsOptions = {
    hostname: settings.host,
    port: settings.port,
    reusePort: settings.threaded,
    headerTimeout: settings.clientHeaderTimeout,
    keepAliveTimeout: settings.keepAliveTimeout,
    maxConnections: settings.maxConnections,
    onError,
    onRefused: (open) =>
      logger.warn(
        `Connection limit reached (${open} open, --max-connections): refusing new connections`,
      ),
    onAcceptError: (err) =>
      logger.error(
        `Cannot accept a connection: ${describe(err)}`,
      ),
  };
  // The TLS front loads node:tls, which only an HTTPS listener should pay for.
  const limited = tls === null
    ? serveWithLimits(limitOptions, serve)
    : await (await import("./tls_front.ts")).serveTlsWithLimits(
      { ...limitOptions, tls },
      serve,
    );
  let server: { finished: Promise<void>; shutdown(): Promise<void> };
  let addr: Deno.NetAddr;
  if (limited) {
    server = limited;
    addr = limited.addr;
  } else {
    logger.warn(
      "This Deno cannot serve one connection at a time: --client-header-timeout, --keepalive-timeout and --max-connections do not apply",
    );
    const listening = Promise.withResolvers<Deno.NetAddr>();
    server = Deno.serve({
      hostname: settings.host,
      port: settings.port,
      reusePort: settings.threaded,
      ...(tls ? { cert: tls.cert, key: tls.key } : {}),
      onListen: (addr) => listening.resolve(addr as Deno.NetAddr),
      onError,
    }, serve);
    addr = await listening.promise;
  }
  let closed = false;
  let clusterClosed: Promise<void> = Promise.resolve();
  function close(): Promise<void> {
    if (closed) return clusterClosed;
    closed = true;
    handler.close();
    dashboard.overview?.stop();
    sendTouches();
    // Charges still buffered for Redis are sent before the link closes.
    clusterClosed =
      cluster?.close().catch((err) =>
        logger.warn(`Cannot close the Redis link cleanly: ${describe(err)}`)
      ) ?? Promise.resolve();
    return clusterClosed;
  }
  Atomics.add(state.control, CONTROL.WORKERS_READY, 1);

  return {
    addr,
    reload(credentials, generation) {
      balancer = makeBalancer(
        state,
        credentials,
        generation,
        settings,
        logger,
      );
    },
    loadKeys: (keys) => {
      keysNow = keys;
      verifier.load(keys);
      seedBudgets(budgets, keys);
      if (sharedLimits) seedBudgets(sharedLimits, keys);
    },
    replaceTls(pair) {
      if (!limited) {
        throw new Error(
          "This Deno cannot serve one connection at a time: a new certificate needs a restart",
        );
      }
      limited.replaceTls(pair);
      tls = pair;
    },
    models,
    replaceModels(config) {
      models.replace(config);
      logger.debug(
        `Models configuration in force on this thread: ${
          config.source ?? "built in"
        }`,
      );
    },
    async shutdown() {
      // `server.shutdown()` closes idle keep-alive connections at once, and
      // with them any request whose bytes are in flight on one: the client
      // sees a reset. So keep serving for a moment first, telling every
      // client to close, and only then stop.
      draining = true;
      const drainMs = Math.min(SHUTDOWN_DRAIN_MS, settings.shutdownTimeout / 2);
      logger.info(
        `Draining connections: answering with Connection: close for ${drainMs} ms, then closing idle ones`,
      );
      await new Promise((resolve) => setTimeout(resolve, drainMs));
      await server.shutdown();
      await close();
    },
    finished: server.finished.then(close),
  };
}

/** `--hsts`: browsers use HTTPS only for this host for a year. */
export const HSTS_VALUE = "max-age=31536000";

/** The same response with `Strict-Transport-Security` (`--hsts`). */
function withHsts(res: Response): Response {
  return withHeader(res, "strict-transport-security", HSTS_VALUE);
}

/** The same response, telling the client not to reuse the connection. */
function withConnectionClose(res: Response): Response {
  return withHeader(res, "connection", "close");
}

/** The same response with one header set. */
function withHeader(res: Response, name: string, value: string): Response {
  // 101 cannot be rebuilt, and the connection is no longer HTTP after it.
  if (res.status === 101) return res;
  try {
    res.headers.set(name, value);
    return res;
  } catch {
    // The headers of a `fetch` response are immutable.
    const headers = new Headers(res.headers);
    headers.set(name, value);
    return new Response(res.body, {
      status: res.status,
      statusText: res.statusText,
      headers,
    });
  }
}
