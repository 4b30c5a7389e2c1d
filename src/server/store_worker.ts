/**
 * The store worker: the one thread that talks to the SQLite database. It
 * writes request records and last-used times in batches, answers the admin
 * API's key and usage requests, and polls for keys created or revoked by
 * another process (`flow-proxy keys`) and for the file being deleted or
 * replaced. Serving threads never wait on it: a lock held by `sqlite3` or a
 * `VACUUM` stalls only this thread (see docs/architecture.md, "The store
 * worker").
 */
/// <reference lib="deno.worker" />
import type { Logger } from "@logtape/logtape";
import { type KeyStore, openKeyStore } from "../access/key_store.ts";
import {
  flushLogs,
  getLog,
  LOG_FLUSH_MS,
  setupLogging,
} from "../base/logging.ts";
import { type FileIdentity, fileIdentity } from "../base/sqlite.ts";
import {
  openRequestLog,
  type SqliteStore,
} from "../request_log/sqlite_store.ts";
import { ownedKeys } from "./shared_budgets.ts";
import { LogReads } from "./log_reads.ts";
import { createClickHouseQueries } from "../request_log/clickhouse_queries.ts";
import type { StoreClickHouse } from "./store_link.ts";
import type { RequestRecord } from "../request_log/record.ts";
import type { FromStore, StoreOp, ToStore } from "./store_link.ts";
import { describe } from "../base/describe.ts";
import { type Accounts, openAccounts } from "../accounts/accounts.ts";
import { runAccountsCall } from "../accounts/calls.ts";
import { revokeOwnedKeys } from "../accounts/owned_keys.ts";
import type { SessionPolicy } from "../accounts/sessions.ts";

/** SQLite's primary result code for "database is locked". */
const SQLITE_BUSY = 5;
/** How long a batch of request records waits for another process's lock before it is dropped. */
const LOCKED_WRITE_PATIENCE_MS = 30_000;

/** What a {@linkcode StoreService} is given besides the database's path. */
interface StoreServiceOptions {
  log: Logger;
  post: (message: FromStore) => void;
  /** The time zone of budget periods. */
  budgetTimeZone: string;
  sessionPolicy?: SessionPolicy;
  /** Read usage and spend from this ClickHouse, or null: the file. */
  clickhouse: StoreClickHouse | null;
}

/** The open database of the store worker, and what it watches. */
class StoreService {
  #path: string;
  #log: Logger;
  #post: (message: FromStore) => void;
  #keys: KeyStore;
  #requests: SqliteStore;
  #accounts: Accounts;
  #sessionPolicy: SessionPolicy | undefined;
  #identity: FileIdentity | null;
  #stamp = "";
  #keyCount = 0;
  #missing = false;
  /** Kinds of failure logged and not yet recovered from: one line per run of failures. */
  #failing = new Set<string>();

  #reads: LogReads;
  /** The snapshot being made: one at a time, so keys are posted in order. */
  #snapshotting: Promise<unknown> = Promise.resolve();

  constructor(path: string, options: StoreServiceOptions) {
    const { log, post, sessionPolicy, clickhouse } = options;
    this.#reads = new LogReads({
      requests: () => this.#requests,
      clickhouse: clickhouse &&
        createClickHouseQueries({
          ...clickhouse,
          url: new URL(clickhouse.url),
          // Key changes wait on these reads: shorter than the default.
          timeoutMs: 5000,
        }),
      log,
      zone: options.budgetTimeZone,
    });
    this.#path = path;
    this.#log = log;
    this.#post = post;
    this.#sessionPolicy = sessionPolicy;
    this.#keys = openKeyStore(path);
    try {
      this.#requests = openRequestLog(path);
    } catch (err) {
      this.#keys.close();
      throw err;
    }
    try {
      this.#accounts = openAccounts(path, { sessions: sessionPolicy });
    } catch (err) {
      this.#keys.close();
      this.#requests.close();
      throw err;
    }
    this.#identity = fileIdentity(path);
  }

  /**
   * The keys now (with what each key, user and team with a budget used in
   * its current period, from the request log), and remembers their stamp.
   */
  snapshot(): Promise<ReturnType<KeyStore["snapshot"]>> {
    const next = this.#snapshotting.then(async () => {
      this.#stamp = this.#currentStamp();
      const keys = this.#keys.snapshot();
      this.#keyCount = keys.length;
      await this.#reads.seedBudgets(keys, this.#accounts, Date.now());
      return keys;
    });
    this.#snapshotting = next.catch(() => {});
    return next;
  }

  /** The keys' change stamp and the user and team budgets'. */
  #currentStamp(): string {
    return `${this.#keys.changeStamp()}|${this.#accounts.budgetStamp()}`;
  }

  /** One look at the file, the buffered last-used times and the keys. */
  async poll(): Promise<void> {
    this.#watchFile();
    if (this.#missing) return;
    this.#attempt("touches", "write the last-used times of client keys", () => {
      this.#keys.flush();
    });
    await this.#attemptAsync(
      "keys",
      "read client keys",
      () => this.#publishIfChanged(),
    );
  }

  /** Buffers last-used times; written by the next poll (or sooner, by KeyStore's own batching). */
  touch(touches: [string, number][]): void {
    this.#attempt("touches", "write the last-used times of client keys", () => {
      for (const [name, when] of touches) this.#keys.touch(name, when);
    });
  }

  /** Runs one admin or request-log operation. */
  async run(op: StoreOp): Promise<unknown> {
    if (this.#missing) {
      throw new Error(
        `Database "${this.#path}" was deleted: nothing is read or written until a database is at that path again`,
      );
    }
    switch (op.op) {
      case "list":
        return this.#keys.list();
      case "create": {
        const created = this.#keys.create(op.input);
        await this.#publishIfChanged();
        return created;
      }
      case "revoke": {
        const revoked = this.#keys.revoke(op.name);
        await this.#publishIfChanged();
        return revoked;
      }
      case "budget": {
        const changed = this.#keys.setBudget(op.name, op.budget);
        await this.#publishIfChanged();
        return changed;
      }
      case "update-key": {
        const updated = this.#keys.update(op.name, op.changes);
        await this.#publishIfChanged();
        return updated;
      }
      case "usage":
        return await this.#reads.usage(
          op.since,
          op.owner === undefined
            ? undefined
            : ownedKeys(this.#keys.snapshot(), op.owner),
        );
      case "requests":
        return this.#reads.requests(
          op.selection,
          op,
          (user) => ownedKeys(this.#keys.snapshot(), user),
        );
      case "request":
        return this.#reads.request(
          op.id,
          op.owner === null
            ? undefined
            : ownedKeys(this.#keys.snapshot(), op.owner),
        );
      case "usage-series":
        return this.#reads.series({
          fromDay: op.fromDay,
          toDay: op.toDay,
          by: op.by,
          clients: op.owner === null
            ? undefined
            : ownedKeys(this.#keys.snapshot(), op.owner),
        });
      case "accounts": {
        const answer = await runAccountsCall(this.#accounts, op.call);
        revokeOwnedKeys(op.call, answer, this.#keys, this.#accounts);
        // Revoked keys, a user or team budget, a user moved to another team.
        await this.#publishIfChanged();
        return answer;
      }
      case "write":
        await this.#writeRecords(op.records);
        return null;
      case "key-rows":
        return this.#keys.replicaRows();
      case "merge-keys": {
        const merged = this.#keys.mergeReplicas(op.rows);
        // The serving threads get the keys before the bridge gets the answer.
        this.#publishIfChanged();
        return merged;
      }
      case "account-rows":
        return this.#accounts.replicaRows();
      case "merge-accounts": {
        const applied = this.#accounts.mergeReplicas(op.rows);
        // A user's or team's budget may have come with it.
        this.#publishIfChanged();
        return applied;
      }
    }
  }

  /** Writes what is buffered and closes the database. */
  async close(): Promise<void> {
    try {
      this.#keys.close();
    } catch (err) {
      this.#log.error(
        `Last-used times of client keys lost at shutdown: ${describe(err)}`,
      );
    }
    this.#accounts.close();
    await this.#requests.close();
  }

  /**
   * Writes a batch, waiting out a lock held by another process (a retention
   * `DELETE`, a `VACUUM`) for up to {@linkcode LOCKED_WRITE_PATIENCE_MS}:
   * meanwhile later records wait in the supervisor's bounded queue instead of
   * being dropped after one busy timeout.
   */
  async #writeRecords(records: RequestRecord[]): Promise<void> {
    const deadline = Date.now() + LOCKED_WRITE_PATIENCE_MS;
    for (;;) {
      try {
        await this.#requests.write(records);
        return;
      } catch (err) {
        if (!isBusy(err) || Date.now() >= deadline) throw err;
      }
    }
  }

  async #publishIfChanged(): Promise<void> {
    if (this.#currentStamp() === this.#stamp) return;
    const keys = await this.snapshot();
    this.#post({ type: "keys", keys });
    this.#log.debug(`Client keys reloaded: ${keys.length}`);
  }

  /** Notices a deleted or replaced file: SQLite would go on with the old inode, unseen by every other tool. */
  #watchFile(): void {
    let now: FileIdentity | null;
    try {
      now = fileIdentity(this.#path);
    } catch {
      return; // Cannot look (a permission change): keep what is open.
    }
    if (now === null) {
      if (!this.#missing) {
        this.#missing = true;
        this.#log.error(
          `Database "${this.#path}" was deleted while flow-proxy runs: keeping the ${this.#keyCount} client keys loaded from it, and dropping request records, until a database is at that path again (restore it, or run "flow-proxy keys create", which creates one)`,
        );
      }
      return;
    }
    const old = this.#identity;
    if (old !== null && now.dev === old.dev && now.ino === old.ino) return;
    const what = this.#missing
      ? "is back after it was deleted"
      : `was replaced by another file (inode ${old?.ino} → ${now.ino})`;
    let keys: KeyStore;
    let requests: SqliteStore;
    let accounts: Accounts;
    try {
      keys = openKeyStore(this.#path);
      try {
        requests = openRequestLog(this.#path);
      } catch (err) {
        keys.close();
        throw err;
      }
      try {
        accounts = openAccounts(this.#path, { sessions: this.#sessionPolicy });
      } catch (err) {
        keys.close();
        requests.close();
        throw err;
      }
    } catch (err) {
      this.#fail(
        "reopen",
        `Database "${this.#path}" ${what}, and cannot be opened`,
        err,
      );
      return;
    }
    this.#failing.delete("reopen");
    this.#log.error(
      `Database "${this.#path}" ${what}: reopened it; client keys and request records now come from and go to the new file`,
    );
    const oldKeys = this.#keys;
    const oldRequests = this.#requests;
    this.#accounts.close();
    this.#accounts = accounts;
    this.#keys = keys;
    this.#requests = requests;
    this.#identity = now;
    this.#missing = false;
    this.#stamp = "";
    try {
      oldKeys.close();
    } catch {
      // Last-used times for the old file: nobody can read them any more.
    }
    oldRequests.close();
  }

  #attempt(kind: string, what: string, fn: () => void): void {
    try {
      fn();
      if (this.#failing.delete(kind)) {
        this.#log.info(`Database "${this.#path}": can ${what} again`);
      }
    } catch (err) {
      this.#fail(kind, `Cannot ${what} (will retry)`, err);
    }
  }

  async #attemptAsync(
    kind: string,
    what: string,
    fn: () => Promise<void>,
  ): Promise<void> {
    try {
      await fn();
      if (this.#failing.delete(kind)) {
        this.#log.info(`Database "${this.#path}": can ${what} again`);
      }
    } catch (err) {
      this.#fail(kind, `Cannot ${what} (will retry)`, err);
    }
  }

  #fail(kind: string, message: string, err: unknown): void {
    if (this.#failing.has(kind)) return;
    this.#failing.add(kind);
    this.#log.warn(`${message}: ${describe(err)}`);
  }
}

/** Whether `err` (or its cause) is SQLITE_BUSY: another connection holds the lock. */
function isBusy(err: unknown): boolean {
  for (let e = err; e instanceof Error; e = e.cause) {
    const code = (e as { errcode?: number }).errcode;
    if (code !== undefined) return (code & 0xff) === SQLITE_BUSY;
    // exec() errors of node:sqlite carry no errcode, only SQLite's message.
    if (/^database is locked$/.test(e.message)) return true;
  }
  return false;
}

function post(message: FromStore): void {
  self.postMessage(message);
}

let service: StoreService | null = null;
let timer: ReturnType<typeof setInterval> | undefined;

self.onmessage = async (event: MessageEvent<ToStore>) => {
  const message = event.data;
  switch (message.type) {
    case "init": {
      setupLogging({
        level: message.logLevel,
        file: message.logFile,
        thread: "store",
        flushMs: LOG_FLUSH_MS,
      });
      try {
        service = new StoreService(message.path, {
          log: getLog("store"),
          post,
          budgetTimeZone: message.budgetTimeZone,
          sessionPolicy: message.sessionPolicy,
          clickhouse: message.clickhouse ?? null,
        });
        post({ type: "ready", keys: await service.snapshot() });
      } catch (err) {
        post({ type: "fatal", message: describe(err) });
        return;
      }
      let polling = false;
      timer = setInterval(async () => {
        // A poll waiting on ClickHouse must not pile up behind the next.
        if (polling || service === null) return;
        polling = true;
        try {
          await service.poll();
        } finally {
          polling = false;
        }
      }, message.pollMs);
      return;
    }
    case "touch":
      service?.touch(message.touches);
      return;
    case "request": {
      try {
        if (service === null) throw new Error("The database is not open");
        const result = await service.run(message.op);
        post({ type: "reply", id: message.id, result });
      } catch (err) {
        post({ type: "reply", id: message.id, error: describe(err) });
      }
      return;
    }
    case "close":
      clearInterval(timer);
      await service?.close();
      service = null;
      flushLogs();
      post({ type: "closed" });
      return;
  }
};
