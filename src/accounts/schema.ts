/**
 * The accounts tables of the embedded database, created by this module (not
 * a step of the request log's `user_version` migrations, which stay the
 * request log's own): users, teams, sessions, API tokens, login failures and
 * the append-only audit trail. `accounts_schema` holds this module's version
 * for later migrations.
 *
 * The audit table refuses UPDATE and DELETE with triggers, so no flow-proxy
 * code path (nor a mistaken one) can change a record; only someone editing
 * the file by hand with the triggers dropped could.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { addBudgetColumns } from "./budgets.ts";

/** Version of the accounts tables this code reads and writes. */
export const ACCOUNTS_SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS accounts_schema (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS teams (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE COLLATE NOCASE,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE COLLATE NOCASE,
  role TEXT NOT NULL,
  team_id INTEGER REFERENCES teams (id),
  password_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  password_changed_at INTEGER NOT NULL,
  disabled_at INTEGER
);
CREATE TABLE IF NOT EXISTS sessions (
  hash TEXT PRIMARY KEY,
  user_id INTEGER NOT NULL,
  csrf TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user_id);
CREATE TABLE IF NOT EXISTS api_tokens (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id INTEGER NOT NULL,
  name TEXT NOT NULL,
  prefix TEXT NOT NULL,
  hash TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  revoked_at INTEGER,
  last_used_at INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS api_tokens_active_name
  ON api_tokens (user_id, name) WHERE revoked_at IS NULL;
CREATE TABLE IF NOT EXISTS login_failures (
  scope TEXT NOT NULL,
  subject TEXT NOT NULL,
  failures INTEGER NOT NULL,
  last_failure_at INTEGER NOT NULL,
  locked_until INTEGER NOT NULL,
  PRIMARY KEY (scope, subject)
);
CREATE TABLE IF NOT EXISTS audit_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  actor TEXT NOT NULL,
  actor_role TEXT,
  action TEXT NOT NULL,
  target TEXT,
  address TEXT,
  outcome TEXT NOT NULL,
  detail TEXT
);
CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log (at);
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
`;

/** Creates the accounts tables when missing; refuses a file written by a newer flow-proxy. */
export function createAccountsSchema(db: DatabaseSync): void {
  db.exec(SCHEMA);
  addBudgetColumns(db);
  const row = db.prepare("SELECT max(version) AS v FROM accounts_schema")
    .get() as { v: number | null };
  const version = row.v === null ? null : Number(row.v);
  if (version === null) {
    db.prepare("INSERT INTO accounts_schema (version) VALUES (?)").run(
      ACCOUNTS_SCHEMA_VERSION,
    );
  } else if (version > ACCOUNTS_SCHEMA_VERSION) {
    throw new Error(
      `The accounts tables have version ${version}, newer than this flow-proxy supports (${ACCOUNTS_SCHEMA_VERSION})`,
    );
  }
}
