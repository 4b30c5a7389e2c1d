/** Messages between the supervisor (main thread) and its workers. */
import type { SignedCredentials } from "../auth/jwt.ts";
import type { RequestRecord } from "../observe/record.ts";
import type { WireSettings } from "./wire.ts";

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
  }
  | { type: "credentials"; credentials: SignedCredentials; generation: number }
  | { type: "shutdown" }
  /** Test hook: throw an uncaught error so the supervisor's restart can be seen. */
  | { type: "crash" };

/** Worker → supervisor. */
export type FromWorker =
  | { type: "ready"; workerId: number; port: number }
  | { type: "records"; records: RequestRecord[] }
  | { type: "fatal"; workerId: number; message: string }
  | { type: "stopped"; workerId: number };
