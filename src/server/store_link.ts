/**
 * How serving threads reach the database: by message, never by a SQLite call
 * of their own. The store worker (store_worker.ts) owns every connection;
 * serving threads keep the client keys in memory and send it last-used times
 * and admin requests. A locked, slow or full database then delays only the
 * store worker, never a request.
 */
import type {
  CreateKeyInput,
  KeyChanges,
  KeyRecord,
  StoredKey,
} from "../access/client_keys.ts";
import type { LogLevel } from "../base/logging.ts";
import type { Budget } from "../access/budget.ts";
import type { RequestRecord } from "../request_log/record.ts";
import type { UsageSummary } from "../request_log/sqlite_store.ts";
import type {
  Cursor,
  RequestDetail,
  RequestPage,
  RequestSelection,
  SeriesBy,
  UsageSeries,
} from "../request_log/request_queries.ts";
import type { AccountsAnswer, AccountsCall } from "../accounts/calls.ts";
import type { SessionPolicy } from "../accounts/sessions.ts";
import type { KeyReplica, MergeResult } from "../access/key_replica.ts";
import type { AccountReplica } from "../accounts/replica.ts";

/** A request to the store worker, and what it answers. */
export type StoreOp =
  | { op: "list" }
  | { op: "create"; input: CreateKeyInput }
  | { op: "revoke"; name: string }
  | { op: "budget"; name: string; budget: Budget | null }
  | { op: "update-key"; name: string; changes: KeyChanges }
  /** `owner`: only the requests of the keys that user owns (a member's usage). */
  | { op: "usage"; since: number; owner?: string }
  | { op: "accounts"; call: AccountsCall }
  /** The dashboard: a page of the request log, one request, usage by day. */
  | {
    op: "requests";
    selection: RequestSelection;
    cursor: Cursor | null;
    limit: number;
  }
  | { op: "request"; id: string; owner: string | null }
  | {
    op: "usage-series";
    fromDay: string;
    toDay: string;
    by: SeriesBy;
    owner: string | null;
  }
  | { op: "write"; records: RequestRecord[] }
  /** With --redis-url: the key rows other instances are sent, and theirs merged in. */
  | { op: "key-rows" }
  | { op: "merge-keys"; rows: KeyReplica[] }
  | { op: "account-rows" }
  | { op: "merge-accounts"; rows: AccountReplica[] };

/** The answer to each {@linkcode StoreOp}. */
export interface StoreResults {
  list: KeyRecord[];
  create: { key: string; record: KeyRecord };
  revoke: boolean;
  budget: boolean;
  "update-key": KeyRecord | null;
  usage: UsageSummary;
  accounts: AccountsAnswer;
  requests: RequestPage;
  request: RequestDetail | null;
  "usage-series": UsageSeries;
  write: null;
  "key-rows": KeyReplica[];
  "merge-keys": MergeResult;
  "account-rows": [string, string][];
  "merge-accounts": string[];
}

/** Sends a {@linkcode StoreOp} and resolves with its answer; rejects with the store's error. */
export type StoreRequest = <O extends StoreOp>(
  op: O,
) => Promise<StoreResults[O["op"]]>;

/** What a serving thread is given to use the database. */
export interface StoreLink {
  /** The client keys when the thread starts; later sets arrive through `Runtime.loadKeys`. */
  keys: readonly StoredKey[];
  /** Hands over last-used times (key name, epoch ms); must not block. */
  touch(touches: [string, number][]): void;
  /** Asks the store worker (admin API: keys, usage). */
  request: StoreRequest;
}

/** The ClickHouse request log the store worker reads usage and spend from (`--clickhouse-url`). */
export interface StoreClickHouse {
  url: string;
  database: string;
  table: string;
  user: string | null;
  password: string | null;
}

/** Main thread → store worker. */
export type ToStore =
  | {
    type: "init";
    path: string;
    logLevel: LogLevel;
    logFile: string | null;
    /** How often to look for key changes and a replaced file, ms. */
    pollMs: number;
    /** The time zone of key budgets' periods (`--budget-time-zone`). */
    budgetTimeZone: string;
    /** Session lifetimes of the accounts service; default: its own. */
    sessionPolicy?: SessionPolicy;
    /** Read usage and budget spend from ClickHouse instead of the file; absent: the file. */
    clickhouse?: StoreClickHouse | null;
  }
  | { type: "request"; id: number; op: StoreOp }
  | { type: "touch"; touches: [string, number][] }
  | { type: "close" };

/** Store worker → main thread. */
export type FromStore =
  | { type: "ready"; keys: StoredKey[] }
  | { type: "fatal"; message: string }
  | { type: "keys"; keys: StoredKey[] }
  | { type: "reply"; id: number; result?: unknown; error?: string }
  | { type: "closed" };
