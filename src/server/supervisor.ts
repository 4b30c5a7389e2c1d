/**
 * The supervisor: the main thread that owns the shared state, starts the
 * workers (or serves itself with `--no-threaded`), restarts a worker that
 * crashes, reloads credentials into every worker, and shuts down gracefully.
 */
import type { Logger } from "@logtape/logtape";
import { resetHealth } from "../upstream/balancer.ts";
import { signCredentials, type SignedCredentials } from "../upstream/jwt.ts";
import {
  type Credential,
  loadSecrets,
  readSecretsText,
  SecretsError,
} from "../config/secrets.ts";
import type { Settings } from "../config/settings.ts";
import { registerSecrets } from "../base/logging.ts";
import type { RequestRecord } from "../request_log/record.ts";
import type { FromWorker, ToWorker } from "./messages.ts";
import { type Runtime, startRuntime } from "./runtime.ts";
import type { StoreClient } from "./store_client.ts";
import type { StoreLink } from "./store_link.ts";
import { toWire } from "./wire.ts";
import {
  CONTROL,
  createSharedState,
  type SharedState,
} from "../base/shared_state.ts";
import { describe } from "../base/describe.ts";
import {
  describeModels,
  loadModelsFile,
  modelsConfigOf,
  type ModelsSource,
  modelsStartError,
} from "./models_source.ts";
import type { TlsFiles, TlsPair } from "./tls.ts";
import { describeReload, openRedirect, reloadPair } from "./tls_reload.ts";
import type { LimitedServer } from "./connection_limits.ts";
import { type InstanceShare, shareInstance } from "./instance_share.ts";

/** Options of {@linkcode Supervisor}. */
export interface SupervisorOptions {
  settings: Settings;
  credentials: Credential[];
  logger: Logger;
  /** Receives batches of request records from every thread. */
  onRecords?: (records: RequestRecord[]) => void;
  /** Shared state; a new one by default (tests may pass their own). */
  state?: SharedState;
  /** The store worker, the only thread that opens the database; null without one. */
  store?: StoreClient | null;
  /** The listener's certificate, checked at start, and its files; none for plain HTTP. */
  tls?: { pair: TlsPair; files: TlsFiles } | null;
}

interface WorkerSlot {
  id: number;
  worker: Worker;
  ready: boolean;
  stopped: PromiseWithResolvers<void>;
}

const WORKER_URL = new URL("./worker.ts", import.meta.url).href;

/** Runs the serving threads of one `flow-proxy serve`. */
export class Supervisor {
  readonly state: SharedState;
  #settings: Settings;
  #credentials: Credential[];
  #signed: SignedCredentials | null = null;
  #generation = 1;
  #log: Logger;
  #onRecords: (records: RequestRecord[]) => void;
  #workers: WorkerSlot[] = [];
  #runtime: Runtime | null = null;
  #stopping = false;
  #firstStart: PromiseWithResolvers<void> | null = null;
  #restarts = 0;
  #lastSecretsText: string | null = null;
  #store: StoreClient | null;
  /** The models file in force; null for the built-in configuration. */
  #models: ModelsSource | null = null;
  #tls: { pair: TlsPair; files: TlsFiles } | null;
  /** The plain-HTTP listener of --http-redirect-port, once open. */
  #redirect: LimitedServer | null = null;
  /** With --redis-url: what this instance shares with the others. */
  #share: InstanceShare | null = null;

  constructor(options: SupervisorOptions) {
    this.#store = options.store ?? null;
    this.#tls = options.tls ?? null;
    // Every new set of keys reaches every serving thread, in the order the store sent them.
    this.#store?.onKeys((keys) => {
      this.#runtime?.loadKeys(keys);
      for (const slot of this.#workers) {
        this.#post(slot, { type: "keys", keys: [...keys] });
      }
    });
    this.state = options.state ?? createSharedState();
    this.#settings = options.settings;
    this.#credentials = options.credentials;
    this.#log = options.logger;
    this.#onRecords = options.onRecords ?? (() => {});
    resetHealth(this.state);
    Atomics.store(
      this.state.control,
      CONTROL.SECRETS_GENERATION,
      this.#generation,
    );
  }

  /** Credentials in use. */
  get credentials(): readonly Credential[] {
    return this.#credentials;
  }

  /** Worker restarts so far. */
  get restarts(): number {
    return this.#restarts;
  }

  /** Starts every serving thread; resolves once all listen, rejects if one cannot. */
  async start(): Promise<void> {
    const s = this.#settings;
    if (s.modelsFile !== null) {
      const { report, source } = await loadModelsFile(s.modelsFile);
      if (source === null) throw modelsStartError(report);
      for (const w of report.warnings) this.#log.warn(w.message);
      this.#models = source;
      this.#log.info(
        `Models file "${s.modelsFile}": ${describeModels(report.config!)}`,
      );
    }
    this.#signed = await signCredentials(this.#credentials);
    this.#share = await shareInstance({
      settings: s,
      state: this.state,
      credentials: this.#credentials,
      store: this.#store,
      logger: this.#log,
    });
    if (this.#tls !== null) this.#redirect = openRedirect(s, this.#log);
    if (!s.threaded) {
      this.#runtime = await startRuntime({
        settings: s,
        state: this.state,
        credentials: this.#signed,
        secretsGeneration: this.#generation,
        workersExpected: 1,
        logger: this.#log,
        onRecord: (record) => this.#onRecords([record]),
        store: this.#storeLink(),
        models: this.#models ? modelsConfigOf(this.#models) : undefined,
        tls: this.#tls?.pair ?? null,
      });
      this.#log.info(`Serving on the main thread (--no-threaded)`);
      return;
    }
    this.#firstStart = Promise.withResolvers<void>();
    for (let id = 1; id <= s.numWorkers; id++) this.#spawn(id);
    await this.#firstStart.promise;
    this.#firstStart = null;
  }

  /** The main thread's own link to the store worker (`--no-threaded`). */
  #storeLink(): StoreLink | null {
    const store = this.#store;
    if (store === null) return null;
    return {
      keys: store.keys,
      touch: (touches) => store.touch(touches),
      request: store.request,
    };
  }

  /** Relays a worker's admin request to the store worker and the answer back. */
  #relayStoreRequest(
    slot: WorkerSlot,
    message: Extract<FromWorker, { type: "store-request" }>,
  ): void {
    const reply = (answer: { result?: unknown; error?: string }) =>
      this.#post(slot, { type: "store-reply", id: message.id, ...answer });
    if (this.#store === null) {
      reply({ error: "This server runs without a database" });
      return;
    }
    this.#store.request(message.op).then(
      (result) => reply({ result }),
      (err) => reply({ error: describe(err) }),
    );
  }

  #spawn(id: number): void {
    const worker = new Worker(WORKER_URL, {
      type: "module",
      name: `worker-${id}`,
    });
    const slot: WorkerSlot = {
      id,
      worker,
      ready: false,
      stopped: Promise.withResolvers<void>(),
    };
    this.#workers[id - 1] = slot;
    worker.onmessage = (event: MessageEvent<FromWorker>) =>
      this.#onMessage(slot, event.data);
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      this.#onCrash(slot, event.message);
    };
    this.#post(slot, {
      type: "init",
      workerId: id,
      buffer: this.state.buffer,
      settings: toWire(this.#settings),
      credentials: this.#signed!,
      secretsGeneration: this.#generation,
      workersExpected: this.#settings.numWorkers,
      keys: this.#store ? [...this.#store.keys] : null,
      models: this.#models,
      tls: this.#tls?.pair ?? null,
    });
  }

  #post(slot: WorkerSlot, message: ToWorker): void {
    slot.worker.postMessage(message);
  }

  #onMessage(slot: WorkerSlot, message: FromWorker): void {
    switch (message.type) {
      case "records":
        this.#onRecords(message.records);
        return;
      case "touches":
        this.#store?.touch(message.touches);
        return;
      case "store-request":
        this.#relayStoreRequest(slot, message);
        return;
      case "ready":
        slot.ready = true;
        if (this.#firstStart && this.#workers.every((w) => w?.ready)) {
          this.#firstStart.resolve();
        }
        return;
      case "fatal":
        slot.worker.terminate();
        if (this.#firstStart) {
          this.#firstStart.reject(new Error(message.message));
        } else {
          this.#log.error(
            `Worker ${slot.id} could not start: ${message.message}`,
          );
        }
        return;
      case "stopped":
        slot.stopped.resolve();
        return;
    }
  }

  #onCrash(slot: WorkerSlot, reason: string): void {
    slot.worker.terminate();
    if (slot.ready) Atomics.sub(this.state.control, CONTROL.WORKERS_READY, 1);
    slot.ready = false;
    slot.stopped.resolve();
    if (this.#stopping) return;
    if (this.#firstStart) {
      this.#firstStart.reject(
        new Error(`Worker ${slot.id} crashed while starting: ${reason}`),
      );
      return;
    }
    this.#restarts++;
    this.#log.error(`Worker ${slot.id} crashed (${reason}); restarting it`);
    this.#spawn(slot.id);
  }

  /** Test hook: makes worker `id` throw an uncaught error. */
  crashWorker(id: number): void {
    const slot = this.#workers[id - 1];
    if (slot) this.#post(slot, { type: "crash" });
  }

  /**
   * Reads the secrets file again and, when valid, hands the new credentials
   * to every thread. An invalid file changes nothing. Returns whether it was applied.
   */
  async reload(reason: string): Promise<boolean> {
    const file = this.#settings.secretsFile;
    let text: string | null = null;
    try {
      // The bounded reader: a FIFO or /dev/zero must not stall a reload.
      text = await readSecretsText(file);
    } catch {
      // loadSecrets reports it properly below.
    }
    if (
      text !== null && text === this.#lastSecretsText &&
      reason === "file change"
    ) return false;
    let credentials: Credential[];
    try {
      credentials = await loadSecrets(file, {
        onWarning: (w) => this.#log.warn(w.message),
      });
    } catch (err) {
      this.#log.error(
        `Reload of ${file} (${reason}) rejected, keeping the ${this.#credentials.length} credentials in use: ${
          err instanceof SecretsError
            ? err.message.split("\n")[0]
            : err instanceof Error
            ? err.message
            : String(err)
        }`,
      );
      return false;
    }
    this.#lastSecretsText = text;
    registerSecrets(credentials.map((c) => c.clientSecret));
    const signed = await signCredentials(credentials);
    this.#credentials = credentials;
    this.#signed = signed;
    this.#generation++;
    resetHealth(this.state);
    Atomics.store(
      this.state.control,
      CONTROL.SECRETS_GENERATION,
      this.#generation,
    );
    this.#share?.credentialsChanged(credentials);
    if (this.#runtime) {
      this.#runtime.reload(signed, this.#generation);
    }
    for (const slot of this.#workers) {
      this.#post(slot, {
        type: "credentials",
        credentials: signed,
        generation: this.#generation,
      });
    }
    this.#log.info(
      `Reloaded ${file} (${reason}): ${credentials.length} credentials: ${
        credentials.map((c) => c.name).join(", ")
      }`,
    );
    return true;
  }

  /**
   * Reads the models file again and, when valid, puts it in force on every
   * thread; requests in flight keep the mapping they resolved. A bad file
   * changes nothing: each problem is an ERROR line, then a summary. A
   * change on disk with the same text does nothing. Returns whether it was applied.
   */
  async reloadModels(reason: string): Promise<boolean> {
    const file = this.#settings.modelsFile;
    if (file === null) return false;
    const { report, source } = await loadModelsFile(file);
    if (source === null) {
      for (const e of report.errors) {
        this.#log.error(`Models file "${file}": ${e.message}`);
      }
      this.#log.error(
        `Reload of models file "${file}" (${reason}) rejected, keeping the configuration in use: ${report.errors.length} error${
          report.errors.length === 1 ? "" : "s"
        }`,
      );
      return false;
    }
    if (reason === "file change" && source.text === this.#models?.text) {
      return false;
    }
    for (const w of report.warnings) {
      this.#log.warn(`Models file "${file}": ${w.message}`);
    }
    this.#models = source;
    this.#runtime?.replaceModels(report.config!);
    for (const slot of this.#workers) {
      this.#post(slot, { type: "models", models: source });
    }
    this.#log.info(
      `Reloaded models file "${file}" (${reason}): ${
        describeModels(report.config!)
      }`,
    );
    return true;
  }

  /**
   * Re-reads the certificate and key; a good pair that differs from the one
   * in use goes to every thread for new connections, a bad one is logged at
   * ERROR and the pair in use is kept. Resolves true when one was sent.
   */
  async reloadTls(reason: string): Promise<boolean> {
    const tls = this.#tls;
    if (tls === null) return false;
    const pair = await reloadPair(tls, {
      allowExpired: this.#settings.tlsAllowExpired,
      reason,
      logger: this.#log,
    });
    if (pair === null) return false;
    try {
      this.#runtime?.replaceTls(pair);
    } catch (err) {
      this.#log.error(
        `Cannot put the reloaded TLS certificate in force, keeping the one in use: ${
          describe(err)
        }`,
      );
      return false;
    }
    this.#tls = { pair, files: tls.files };
    for (const slot of this.#workers) {
      this.#post(slot, { type: "tls", tls: pair });
    }
    this.#log.info(describeReload(pair, reason));
    return true;
  }

  /** Remembers the secrets text in use, so an unchanged file is not reloaded. */
  rememberSecretsText(text: string): void {
    this.#lastSecretsText = text;
  }

  /**
   * Stops accepting, lets in-flight requests finish for up to the grace
   * period, then stops every worker. Resolves true when all finished in time.
   */
  async shutdown(): Promise<boolean> {
    this.#stopping = true;
    const grace = this.#settings.shutdownTimeout;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), grace);
    });
    let done: Promise<unknown>;
    const redirect = this.#redirect?.shutdown();
    if (this.#runtime) {
      done = this.#runtime.shutdown();
    } else {
      for (const slot of this.#workers) this.#post(slot, { type: "shutdown" });
      done = Promise.all(this.#workers.map((slot) => slot.stopped.promise));
    }
    const inTime = await Promise.race([
      Promise.all([done, redirect]).then(() => true),
      timeout,
    ]);
    clearTimeout(timer);
    for (const slot of this.#workers) slot.worker.terminate();
    await this.#share?.close();
    return inTime;
  }
}
