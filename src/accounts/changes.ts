/**
 * How every accounts change is written: the change and its audit record in
 * one transaction, and a change refused for bad input (an
 * {@linkcode AccountsError}) rolled back and audited as `failed`.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { rollbackAfter } from "../base/sqlite.ts";
import type { Actor, AuditEntry, AuditLog } from "./audit.ts";
import { AccountsError } from "./names.ts";

/** Runs changes of one connection with their audit records. */
export class AuditedChanges {
  #db: DatabaseSync;
  #audit: AuditLog;
  #now: () => number;

  /** Changes in `db`, audited in `audit` at `now()`. */
  constructor(db: DatabaseSync, audit: AuditLog, now: () => number) {
    this.#db = db;
    this.#audit = audit;
    this.#now = now;
  }

  /** Runs a check that may refuse, before any transaction; a refusal is audited as failed. */
  async refusing<T>(
    actor: Actor,
    action: string,
    target: string | null,
    fn: () => T | Promise<T>,
  ): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      this.#failed(actor, action, target, err);
      throw err;
    }
  }

  /** Runs `fn` and its audit record in one transaction; a refusal rolls back and is audited as failed. */
  run<T>(
    actor: Actor,
    action: string,
    target: string | null,
    fn: () => { value: T; detail?: AuditEntry["detail"] },
  ): T {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      const { value, detail } = fn();
      this.#audit.append(
        { actor, action, target, outcome: "ok", detail },
        this.#now(),
      );
      this.#db.exec("COMMIT");
      return value;
    } catch (err) {
      rollbackAfter(this.#db, err);
      this.#failed(actor, action, target, err);
      throw err;
    }
  }

  #failed(
    actor: Actor,
    action: string,
    target: string | null,
    err: unknown,
  ): void {
    if (!(err instanceof AccountsError)) return;
    this.#audit.append({
      actor,
      action,
      target,
      outcome: "failed",
      detail: { reason: err.message },
    }, this.#now());
  }
}
