/** Messages between the supervisor (main thread) and its workers. */
import type { SignedCredentials } from "../upstream/jwt.ts";
import type { StoredKey } from "../access/client_keys.ts";
import type { RequestRecord } from "../request_log/record.ts";
import type { StoreOp } from "./store_link.ts";
import type { WireSettings } from "./wire.ts";
import type { ModelsSource } from "./models_source.ts";
import type { TlsPair } from "./tls.ts";

/** Supervisor → worker. */
export type ToWorker =
  | {
    type: "init";
    workerId: number;
    buffer: SharedArrayBuffer;
    settings: WireSettings;
    credentials: SignedCredentials;
    secretsGeneration: number;
    workersExpected: number;
    /** Client keys now; null without a database. */
    keys: StoredKey[] | null;
    /** The models file in force (validated by the supervisor); null for the built-in one. */
    models: ModelsSource | null;
    /** The listener's certificate; null for plain HTTP. */
    tls: TlsPair | null;
  }
  /** A reloaded certificate, checked: new connections get it. */
  | { type: "tls"; tls: TlsPair }
  | { type: "credentials"; credentials: SignedCredentials; generation: number }
  /** A reloaded models file, valid: every thread puts it in force. */
  | { type: "models"; models: ModelsSource }
  /** A new set of client keys, from the store worker. */
  | { type: "keys"; keys: StoredKey[] }
  /** The answer to a `store-request`. */
  | { type: "store-reply"; id: number; result?: unknown; error?: string }
  | { type: "shutdown" }
  /** Test hook: throw an uncaught error so the supervisor's restart can be seen. */
  | { type: "crash" };

/** Worker → supervisor. */
export type FromWorker =
  | { type: "ready"; workerId: number; port: number }
  | { type: "records"; records: RequestRecord[] }
  /** Last-used times of client keys, for the store worker. */
  | { type: "touches"; touches: [string, number][] }
  /** An admin request for the store worker. */
  | { type: "store-request"; id: number; op: StoreOp }
  | { type: "fatal"; workerId: number; message: string }
  | { type: "stopped"; workerId: number };
