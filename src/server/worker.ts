/**
 * Web Worker entry: serves on the shared port (`reusePort`) with the same
 * runtime as the main thread, and sends request records to the supervisor
 * in batches.
 */
/// <reference lib="deno.worker" />
import {
  flushLogs,
  getLog,
  LOG_FLUSH_MS,
  setupLogging,
} from "../base/logging.ts";
import type { StoredKey } from "../access/client_keys.ts";
import type { RequestRecord } from "../request_log/record.ts";
import type { FromWorker, ToWorker } from "./messages.ts";
import type { StoreLink, StoreOp } from "./store_link.ts";
import { type Runtime, startRuntime } from "./runtime.ts";
import { fromWire } from "./wire.ts";
import { modelsConfigOf, type ModelsSource } from "./models_source.ts";
import { mapSharedState } from "../base/shared_state.ts";
import { describe } from "../base/describe.ts";
import type { TlsPair } from "./tls.ts";

const BATCH_SIZE = 64;
const BATCH_DELAY_MS = 100;

let runtime: Runtime | null = null;
/** A certificate reload that arrived while the runtime was still starting. */
let pendingTls: TlsPair | null = null;
/** A models reload that arrived while the runtime was still starting. */
let pendingModels: ModelsSource | null = null;
let batch: RequestRecord[] = [];
let timer: ReturnType<typeof setTimeout> | undefined;

function post(message: FromWorker): void {
  self.postMessage(message);
}

function flushRecords(): void {
  if (timer !== undefined) clearTimeout(timer);
  timer = undefined;
  if (batch.length === 0) return;
  post({ type: "records", records: batch });
  batch = [];
}

function onRecord(record: RequestRecord): void {
  batch.push(record);
  if (batch.length >= BATCH_SIZE) flushRecords();
  else if (timer === undefined) {
    timer = setTimeout(flushRecords, BATCH_DELAY_MS);
  }
}

/** Puts a reloaded models file in force; one this thread finds invalid changes nothing. */
function replaceModels(runtime: Runtime, source: ModelsSource): void {
  try {
    runtime.replaceModels(modelsConfigOf(source));
  } catch (err) {
    getLog("proxy").error(describe(err));
  }
}

/** Puts a reloaded certificate in force for new connections on this thread. */
function replaceTls(runtime: Runtime, pair: TlsPair): void {
  try {
    runtime.replaceTls(pair);
    getLog("proxy").debug(
      `New connections on this thread get the certificate with serial ${pair.summary.serial}`,
    );
  } catch (err) {
    getLog("proxy").error(
      `Cannot put the reloaded TLS certificate in force on this thread, keeping the one in use: ${
        describe(err)
      }`,
    );
  }
}

// Admin requests waiting for the store worker's answer, by id.
const storeRequests = new Map<number, PromiseWithResolvers<unknown>>();
let nextStoreRequest = 1;

/** The database through the supervisor: this thread never opens it. */
function storeLink(keys: StoredKey[]): StoreLink {
  return {
    keys,
    touch: (touches) => post({ type: "touches", touches }),
    request<O extends StoreOp>(op: O) {
      const id = nextStoreRequest++;
      const pending = Promise.withResolvers<unknown>();
      storeRequests.set(id, pending);
      post({ type: "store-request", id, op });
      return pending.promise as ReturnType<StoreLink["request"]>;
    },
  } as StoreLink;
}

self.onmessage = async (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  switch (message.type) {
    case "init": {
      const settings = fromWire(message.settings);
      setupLogging({
        level: settings.logLevel,
        file: settings.logFile,
        thread: `worker-${message.workerId}`,
        flushMs: LOG_FLUSH_MS,
      });
      const logger = getLog("proxy");
      try {
        runtime = await startRuntime({
          settings,
          state: mapSharedState(message.buffer),
          credentials: message.credentials,
          secretsGeneration: message.secretsGeneration,
          workersExpected: message.workersExpected,
          logger,
          onRecord,
          store: message.keys === null ? null : storeLink(message.keys),
          models: message.models === null
            ? undefined
            : modelsConfigOf(message.models),
          tls: message.tls,
          threadName: `worker-${message.workerId}`,
        });
      } catch (err) {
        post({
          type: "fatal",
          workerId: message.workerId,
          message: describe(err),
        });
        return;
      }
      if (pendingModels !== null) replaceModels(runtime, pendingModels);
      pendingModels = null;
      if (pendingTls !== null) replaceTls(runtime, pendingTls);
      pendingTls = null;
      logger.info(
        `Worker ${message.workerId} listening on ${runtime.addr.hostname}:${runtime.addr.port}`,
      );
      post({
        type: "ready",
        workerId: message.workerId,
        port: runtime.addr.port,
      });
      return;
    }
    case "credentials":
      runtime?.reload(message.credentials, message.generation);
      return;
    case "keys":
      runtime?.loadKeys(message.keys);
      return;
    case "models":
      if (runtime === null) pendingModels = message.models;
      else replaceModels(runtime, message.models);
      return;
    case "tls":
      if (runtime === null) pendingTls = message.tls;
      else replaceTls(runtime, message.tls);
      return;
    case "store-reply": {
      const pending = storeRequests.get(message.id);
      storeRequests.delete(message.id);
      if (message.error !== undefined) {
        pending?.reject(new Error(message.error));
      } else pending?.resolve(message.result);
      return;
    }
    case "shutdown":
      await runtime?.shutdown();
      flushRecords();
      flushLogs();
      post({ type: "stopped", workerId: 0 });
      return;
    case "crash":
      setTimeout(() => {
        throw new Error("Worker crash requested by the supervisor (test hook)");
      });
      return;
  }
};
