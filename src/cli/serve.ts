/**
 * `flow-proxy serve`: settings → secrets → port check → supervisor → signals.
 */
import { BENCH_OFF_VARIABLE, benchOffList } from "../base/bench_switches.ts";
import { sessionPolicyFrom } from "../accounts/sessions.ts";
import { mustRefuseToStart } from "../access/access.ts";
import { parseCidrs } from "../base/ip_filter.ts";
import { loadSecrets, readSecretsText } from "../config/secrets.ts";
import { resolveSettings, type Settings } from "../config/settings.ts";
import { serveHelp } from "./serve_help.ts";
import { ArgumentError } from "../config/arguments.ts";
import { Metrics } from "../observe/metrics.ts";
import { ClientMetrics } from "../observe/client_metrics.ts";
import {
  closeLogging,
  flushLogs,
  getLog,
  LOG_FLUSH_MS,
  registerSecrets,
  setupLogging,
  stderr,
} from "../base/logging.ts";
import { openRecordPipeline } from "../server/record_pipeline.ts";
import { StoreClient } from "../server/store_client.ts";
import { Supervisor } from "../server/supervisor.ts";
import { checkTlsOptions, loadTlsPair, tlsFilesOf } from "../server/tls.ts";
import {
  acmeEnabled,
  acmeStateDirOf,
  checkAcmeOptions,
} from "../server/acme/options.ts";
import type { AcmeHandle } from "../server/acme/manager.ts";
import { createSharedState } from "../base/shared_state.ts";
import { VERSION } from "../version.ts";
import { describe } from "../base/describe.ts";
import { type CommandIo, EXIT } from "./command.ts";

/**
 * Stop signals this close to the first one count as the same signal: a
 * terminal's `Ctrl+C` reaches the whole process group, so under
 * `deno task start` the proxy gets the SIGINT and, a few ms later, the task
 * runner's forward of it. Only a signal after this window means "exit now".
 */
export const SIGNAL_WINDOW_MS = 1000;

/** Runs `serve` until a signal stops it; returns the exit code. */
export async function serveCommand(
  args: string[],
  io: CommandIo,
): Promise<number> {
  const parsed = resolveSettings(args, { env: io.env, cwd: io.cwd });
  if (parsed.help) {
    io.stdout(serveHelp());
    return EXIT.OK;
  }
  const settings = parsed.settings;
  try {
    parseCidrs(settings.allowIp);
  } catch (err) {
    throw new ArgumentError(
      `--allow-ip: ${describe(err)}`,
    );
  }
  const tlsFiles = tlsFilesOf(settings, { env: io.env, cwd: io.cwd });
  checkTlsOptions(settings);
  checkAcmeOptions(settings);
  setupLogging({
    level: settings.logLevel,
    file: settings.logFile,
    thread: "main",
    flushMs: LOG_FLUSH_MS,
  });
  const log = getLog("supervisor");
  const benchOff = benchOffList();
  if (benchOff.length > 0) {
    // Never set outside bench/run.ts --features: say so loudly if it is.
    log.warn(
      `${BENCH_OFF_VARIABLE} is set: ${
        benchOff.join(", ")
      } switched off for a benchmark (unset it to serve with every feature)`,
    );
  }

  const credentials = await loadSecrets(settings.secretsFile, {
    onWarning: (w) => log.warn(w.message),
  });
  registerSecrets(credentials.map((c) => c.clientSecret));
  const tls = tlsFiles && {
    files: tlsFiles,
    pair: await loadTlsPair(tlsFiles, {
      allowExpired: settings.tlsAllowExpired,
    }),
  };
  // The database is opened by the store worker only (no SQLite call on a serving thread).
  const store = settings.dbPath === null ? null : await StoreClient.start({
    path: settings.dbPath,
    logLevel: settings.logLevel,
    logFile: settings.logFile,
    logger: getLog("store"),
    closeTimeoutMs: Math.min(10_000, settings.shutdownTimeout),
    budgetTimeZone: settings.budgetTimeZone,
    sessionPolicy: sessionPolicyFrom({
      ...settings,
      secureCookies: settings.secureCookies || acmeEnabled(settings),
    }),
    // Every instance writes there: usage and budgets read company-wide numbers.
    clickhouse: settings.clickhouseUrl && {
      url: settings.clickhouseUrl.href,
      database: settings.clickhouseDatabase,
      table: settings.clickhouseTable,
      user: settings.clickhouseUser,
      password: settings.clickhousePassword,
    },
  });
  // Revoked keys count: they keep enforcement on.
  const keyCount = store?.keys.length ?? 0;
  const refusal = mustRefuseToStart(settings.host, keyCount, settings);
  if (refusal) {
    await store?.close();
    throw new Error(refusal);
  }
  try {
    checkPortFree(settings);
  } catch (err) {
    await store?.close();
    throw err;
  }

  const state = createSharedState();
  const metrics = new Metrics(state.metrics);
  const clientMetrics = new ClientMetrics(state.clients);
  let acme: AcmeHandle | null = null;
  if (acmeEnabled(settings)) {
    try {
      acme = await startAcmeOf(settings, io, metrics);
    } catch (err) {
      await store?.close();
      throw err;
    }
  }
  const records = openRecordPipeline(settings, {
    metrics,
    clientMetrics,
    store,
  });
  const supervisor = new Supervisor({
    store,
    state,
    settings,
    credentials,
    logger: getLog("proxy"),
    onRecords: records.onRecords,
    tls: acme ? { files: acme.files, pair: acme.pair } : tls,
  });
  supervisor.rememberSecretsText(await readSecretsText(settings.secretsFile));
  await supervisor.start();
  acme?.renew(() => supervisor.reloadTls("ACME renewal"));
  stderr(banner(settings, credentials.length));
  log.info(
    `flow-proxy ${VERSION} ready on ${scheme(settings)}://${
      hostForUrl(settings.host)
    }:${settings.port} with ${credentials.length} credentials`,
  );

  const stopped = Promise.withResolvers<number>();
  let stoppingSince: number | null = null;
  const onStop = (signal: Deno.Signal) => {
    if (stoppingSince !== null) {
      if (performance.now() - stoppingSince < SIGNAL_WINDOW_MS) {
        log.debug(`${signal} within ${SIGNAL_WINDOW_MS} ms of the first: same`);
        return;
      }
      log.warn(`Second ${signal}: exiting now`);
      flushLogs();
      Deno.exit(signal === "SIGINT" ? 130 : 143);
    }
    stoppingSince = performance.now();
    log.info(
      `${signal} received: finishing in-flight requests (up to ${settings.shutdownTimeout} ms)`,
    );
    supervisor.shutdown().then(async (inTime) => {
      if (inTime) log.info("All in-flight requests finished; bye");
      else log.warn("Grace period over: remaining requests were cut");
      await acme?.close();
      await records.close();
      await store?.close();
      stopped.resolve(EXIT.OK);
    });
  };
  const onHup = () => {
    supervisor.reload("SIGHUP");
    supervisor.reloadModels("SIGHUP");
    supervisor.reloadTls("SIGHUP");
  };
  const handlers: [Deno.Signal, () => void][] = [
    ["SIGTERM", () => onStop("SIGTERM")],
    ["SIGINT", () => onStop("SIGINT")],
  ];
  if (Deno.build.os !== "windows") handlers.push(["SIGHUP", onHup]);
  for (const [signal, handler] of handlers) {
    Deno.addSignalListener(signal, handler);
  }

  const watcher = settings.watchSecrets
    ? watchFile(settings.secretsFile, () => supervisor.reload("file change"))
    : null;
  const modelsFile = settings.modelsFile;
  const modelsWatcher = settings.watchSecrets && modelsFile !== null
    ? watchFile(modelsFile, () => supervisor.reloadModels("file change"))
    : null;

  const tlsWatchers = settings.watchSecrets && tlsFiles
    ? [tlsFiles.certFile, tlsFiles.keyFile].map((file) =>
      watchFile(file, () => supervisor.reloadTls("file change"))
    )
    : [];

  const code = await stopped.promise;
  watcher?.close();
  modelsWatcher?.close();
  for (const tlsWatcher of tlsWatchers) tlsWatcher.close();
  for (const [signal, handler] of handlers) {
    Deno.removeSignalListener(signal, handler);
  }
  closeLogging();
  return code;
}

/** Loads the ACME client (only now: it pulls in `node:crypto` and more) and gets the first pair. */
async function startAcmeOf(
  settings: Settings,
  io: CommandIo,
  metrics: Metrics,
): Promise<AcmeHandle> {
  const { startAcme } = await import("../server/acme/manager.ts");
  return await startAcme({
    settings,
    stateDir: acmeStateDirOf(settings, { env: io.env, cwd: io.cwd }),
    logger: getLog("acme"),
    metrics,
  });
}

function checkPortFree(settings: Settings): void {
  let listener: Deno.Listener;
  try {
    listener = Deno.listen({ hostname: settings.host, port: settings.port });
  } catch (err) {
    if (err instanceof Deno.errors.AddrInUse) {
      throw new Error(
        `Port ${settings.port} on ${settings.host} is already in use: stop the other process or choose another with --port`,
      );
    }
    if (err instanceof Deno.errors.AddrNotAvailable) {
      throw new Error(
        `Cannot listen on ${settings.host}:${settings.port}: address not available on this machine`,
      );
    }
    if (err instanceof Deno.errors.PermissionDenied) {
      throw new Error(
        `Cannot listen on ${settings.host}:${settings.port}: permission denied`,
      );
    }
    throw new Error(`Cannot listen on ${settings.host}:${settings.port}`, {
      cause: err,
    });
  }
  listener.close();
}

function hostForUrl(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

function scheme(settings: Settings): string {
  return settings.tlsCert === null && !acmeEnabled(settings) ? "http" : "https";
}

function banner(s: Settings, credentials: number): string {
  const mode = s.threaded
    ? `${s.numWorkers} Web Worker${s.numWorkers === 1 ? "" : "s"}`
    : "main thread (--no-threaded)";
  return [
    `flow-proxy ${VERSION}`,
    `  listening on  ${scheme(s)}://${hostForUrl(s.host)}:${s.port}`,
    `  workers       ${mode}`,
    `  upstream      ${s.upstream.href}`,
    `  secrets       ${s.secretsFile} (${credentials} credential${
      credentials === 1 ? "" : "s"
    })`,
    `  models        ${s.modelsFile ?? "built in"}`,
    `  log level     ${s.logLevel}${
      s.logFile ? ` (also to ${s.logFile})` : ""
    }`,
    `  health        ${scheme(s)}://${hostForUrl(s.host)}:${s.port}/healthz`,
    "",
  ].join("\n");
}

/** How often the secrets and models files' metadata is checked for a change. */
const SECRETS_POLL_MS = 1000;

/**
 * Calls `onChange` when `file` is written or replaced, by polling its
 * metadata. Not `Deno.watchFs`: watching the directory made this process lose
 * its SQLite locks on a database in the same directory (POSIX locks drop when
 * any descriptor of the file is closed), and another process could then
 * delete the write-ahead log under it. `stat` opens nothing.
 */
function watchFile(file: string, onChange: () => void): { close(): void } {
  let last: string | null = null;
  let checking = false;
  const check = async () => {
    if (checking) return;
    checking = true;
    try {
      const info = await Deno.stat(file);
      const stamp = `${info.mtime?.getTime()}:${info.size}:${info.ino}`;
      if (last !== null && stamp !== last) onChange();
      last = stamp;
    } catch {
      // Missing for a moment while an editor replaces it; the next check sees it.
    } finally {
      checking = false;
    }
  };
  check();
  const timer = setInterval(check, SECRETS_POLL_MS);
  Deno.unrefTimer(timer as unknown as number);
  return { close: () => clearInterval(timer) };
}
