/**
 * The main thread's handle on the store worker (store_worker.ts): starts it,
 * relays requests and their answers, and hands on every new set of client
 * keys. Nothing here calls SQLite, so nothing here can block.
 */
import type { Logger } from "@logtape/logtape";
import type { StoredKey } from "../access/client_keys.ts";
import type { LogLevel } from "../base/logging.ts";
import type { RecordSink } from "../request_log/record_queue.ts";
import type {
  FromStore,
  StoreClickHouse,
  StoreOp,
  StoreRequest,
  StoreResults,
  ToStore,
} from "./store_link.ts";
import { describe } from "../base/describe.ts";
import type { SessionPolicy } from "../accounts/sessions.ts";

const STORE_WORKER_URL = new URL("./store_worker.ts", import.meta.url).href;

/** Options of {@linkcode StoreClient.start}. */
export interface StoreClientOptions {
  /** The SQLite database (`--db`). */
  path: string;
  logLevel: LogLevel;
  logFile: string | null;
  logger: Logger;
  /** How often the store worker looks for key changes and a replaced file. Default 1000 ms. */
  pollMs?: number;
  /** The time zone of key budgets' periods. Default UTC. */
  budgetTimeZone?: string;
  /** Longest wait for the last writes at close. Default 10000 ms. */
  closeTimeoutMs?: number;
  /** Session lifetimes of the accounts service; default: its own. */
  sessionPolicy?: SessionPolicy;
  /** Read usage and budget spend from this ClickHouse (`--clickhouse-url`); default: the file. */
  clickhouse?: StoreClickHouse | null;
}

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
}

/** A running store worker. */
export class StoreClient {
  #options: StoreClientOptions;
  #worker: Worker;
  #keys: StoredKey[] = [];
  #listeners = new Set<(keys: readonly StoredKey[]) => void>();
  #pending = new Map<number, Pending>();
  #nextId = 1;
  #started = Promise.withResolvers<void>();
  #closed = Promise.withResolvers<void>();
  #closing = false;

  /** Starts the store worker; resolves once the database is open, rejects with its error. */
  static async start(options: StoreClientOptions): Promise<StoreClient> {
    const client = new StoreClient(options);
    try {
      await client.#started.promise;
    } catch (err) {
      client.#worker.terminate();
      throw err;
    }
    return client;
  }

  private constructor(options: StoreClientOptions) {
    this.#options = options;
    this.#worker = this.#spawn();
  }

  /** The client keys as last read. */
  get keys(): readonly StoredKey[] {
    return this.#keys;
  }

  /** Calls `listener` with every new set of keys (created, revoked, file replaced). */
  onKeys(listener: (keys: readonly StoredKey[]) => void): void {
    this.#listeners.add(listener);
  }

  /** Hands last-used times to the store worker; never waits. */
  touch(touches: [string, number][]): void {
    if (this.#closing || touches.length === 0) return;
    this.#send({ type: "touch", touches });
  }

  /** Asks the store worker; rejects with its error message. */
  request: StoreRequest = <O extends StoreOp>(op: O) => {
    if (this.#closing) {
      return Promise.reject(new Error("The database is closed"));
    }
    const id = this.#nextId++;
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    this.#pending.set(id, { resolve, reject });
    this.#send({ type: "request", id, op });
    return promise as Promise<StoreResults[O["op"]]>;
  };

  /** The request log as a {@linkcode RecordQueue} sink; closing it leaves the store open. */
  readonly requestLog: RecordSink = {
    name: "sqlite",
    write: async (records) => {
      await this.request({ op: "write", records });
    },
    close: () => Promise.resolve(),
  };

  /** Writes what is buffered (for at most `closeTimeoutMs`), closes the database and stops the worker. */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    this.#send({ type: "close" });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.#options.logger.warn(
          "The database did not close in time (locked?): stopping the store worker anyway",
        );
        resolve();
      }, this.#options.closeTimeoutMs ?? 10_000);
    });
    await Promise.race([this.#closed.promise, timeout]);
    clearTimeout(timer);
    this.#worker.terminate();
    this.#rejectAll("The database is closed");
  }

  #spawn(): Worker {
    const worker = new Worker(STORE_WORKER_URL, {
      type: "module",
      name: "store",
    });
    worker.onmessage = (event: MessageEvent<FromStore>) =>
      this.#onMessage(event.data);
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      this.#onCrash(event.message);
    };
    const init: ToStore = {
      type: "init",
      path: this.#options.path,
      logLevel: this.#options.logLevel,
      logFile: this.#options.logFile,
      pollMs: this.#options.pollMs ?? 1000,
      budgetTimeZone: this.#options.budgetTimeZone ?? "UTC",
      sessionPolicy: this.#options.sessionPolicy,
      clickhouse: this.#options.clickhouse ?? null,
    };
    worker.postMessage(init);
    return worker;
  }

  #send(message: ToStore): void {
    this.#worker.postMessage(message);
  }

  #onMessage(message: FromStore): void {
    switch (message.type) {
      case "ready":
        this.#setKeys(message.keys);
        this.#started.resolve();
        return;
      case "fatal":
        this.#started.reject(new Error(message.message));
        if (!this.#closing) {
          this.#options.logger.error(
            `The store worker cannot open the database: ${message.message}`,
          );
        }
        return;
      case "keys":
        this.#setKeys(message.keys);
        return;
      case "reply": {
        const pending = this.#pending.get(message.id);
        this.#pending.delete(message.id);
        if (message.error !== undefined) {
          pending?.reject(new Error(message.error));
        } else pending?.resolve(message.result);
        return;
      }
      case "closed":
        this.#closed.resolve();
        return;
    }
  }

  #setKeys(keys: StoredKey[]): void {
    this.#keys = keys;
    for (const listener of this.#listeners) {
      try {
        listener(keys);
      } catch (err) {
        this.#options.logger.error(
          `Cannot hand on client keys: ${describe(err)}`,
        );
      }
    }
  }

  #onCrash(reason: string): void {
    this.#worker.terminate();
    this.#rejectAll(`The store worker crashed: ${reason}`);
    if (this.#closing) {
      this.#closed.resolve();
      return;
    }
    this.#started.reject(new Error(`The store worker crashed: ${reason}`));
    this.#options.logger.error(
      `The store worker crashed (${reason}); restarting it`,
    );
    this.#worker = this.#spawn();
  }

  #rejectAll(message: string): void {
    for (const pending of this.#pending.values()) {
      pending.reject(new Error(message));
    }
    this.#pending.clear();
  }
}
