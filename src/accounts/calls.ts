/**
 * The accounts operations as messages: what the admin API (on a serving
 * thread) asks the store worker, which owns the database, and the answer.
 * A refusal travels as a value ({@linkcode AccountsAnswer}), so the admin
 * API can answer 400, 403 or 404 with its message.
 *
 * @module
 */
import type {
  Accounts,
  CreateUserInput,
  LoginResult,
  SessionAuth,
  UserChange,
} from "./accounts.ts";
import type { Actor, AuditEntry, AuditFilter, AuditRecord } from "./audit.ts";
import type { ApiTokenRecord } from "./api_tokens.ts";
import { AccountsError, type AccountsErrorKind } from "./names.ts";
import type { TeamRecord, UserRecord } from "./users.ts";
import type { BudgetHolder } from "./budgets.ts";

/** One accounts operation. */
export type AccountsCall =
  | { call: "users.create"; input: CreateUserInput; actor: Actor }
  | { call: "users.list" }
  | { call: "users.get"; name: string }
  | { call: "users.update"; name: string; change: UserChange; actor: Actor }
  | { call: "users.delete"; name: string; actor: Actor }
  | { call: "teams.create"; name: string; actor: Actor }
  | { call: "teams.list" }
  | { call: "teams.delete"; name: string; actor: Actor }
  | {
    call: "budgets.set";
    holder: BudgetHolder;
    name: string;
    /** Checked by the caller (src/access/budget.ts `validateBudget`); null: none. */
    budget: Record<string, unknown> | null;
    actor: Actor;
  }
  | { call: "login"; name: string; password: string; address: string }
  | { call: "session"; id: string }
  | { call: "logout"; id: string; actor: Actor }
  | {
    call: "tokens.create";
    user: string;
    name: string;
    expiresAt: number | null;
    actor: Actor;
  }
  | { call: "tokens.list"; user: string | null }
  | { call: "tokens.revoke"; user: string; name: string; actor: Actor }
  | { call: "token"; token: string }
  | { call: "audit.append"; entry: AuditEntry }
  | { call: "audit.list"; filter: AuditFilter };

/** What each {@linkcode AccountsCall} answers when it succeeds. */
export interface AccountsResults {
  "users.create": UserRecord;
  "users.list": UserRecord[];
  "users.get": UserRecord | null;
  "users.update": UserRecord;
  "users.delete": UserRecord;
  "teams.create": TeamRecord;
  "teams.list": TeamRecord[];
  "teams.delete": TeamRecord;
  "budgets.set": { name: string; budget: Record<string, unknown> | null };
  "login": LoginResult;
  "session": SessionAuth | null;
  "logout": boolean;
  "tokens.create": { token: string; record: ApiTokenRecord };
  "tokens.list": ApiTokenRecord[];
  "tokens.revoke": ApiTokenRecord;
  "token": UserRecord | null;
  "audit.append": null;
  "audit.list": AuditRecord[];
}

/** The answer to a call: its result, or the refusal. */
export type AccountsAnswer<
  C extends AccountsCall["call"] = AccountsCall["call"],
> =
  | { ok: true; value: AccountsResults[C] }
  | { ok: false; kind: AccountsErrorKind; message: string };

/** Sends a call to whoever holds the database; rejects only on a failure of the database itself. */
export type AccountsClient = <C extends AccountsCall>(
  call: C,
) => Promise<AccountsAnswer<C["call"]>>;

/** Runs `call` on `accounts`; an {@linkcode AccountsError} becomes a refusal, anything else is thrown. */
export async function runAccountsCall(
  accounts: Accounts,
  call: AccountsCall,
): Promise<AccountsAnswer> {
  try {
    const value = await dispatch(accounts, call);
    return { ok: true, value } as AccountsAnswer;
  } catch (err) {
    if (err instanceof AccountsError) {
      return { ok: false, kind: err.kind, message: err.message };
    }
    throw err;
  }
}

/** An {@linkcode AccountsClient} that runs calls on `accounts` in this thread (tests, `--no-db` never). */
export function localAccountsClient(accounts: Accounts): AccountsClient {
  return ((call: AccountsCall) =>
    runAccountsCall(accounts, call)) as AccountsClient;
}

function dispatch(a: Accounts, c: AccountsCall): unknown {
  switch (c.call) {
    case "users.create":
      return a.createUser(c.input, c.actor);
    case "users.list":
      return a.listUsers();
    case "users.get":
      return a.getUser(c.name);
    case "users.update":
      return a.updateUser(c.name, c.change, c.actor);
    case "users.delete":
      return a.deleteUser(c.name, c.actor);
    case "teams.create":
      return a.createTeam(c.name, c.actor);
    case "teams.list":
      return a.listTeams();
    case "teams.delete":
      return a.deleteTeam(c.name, c.actor);
    case "budgets.set":
      return a.setBudget(c.holder, c.name, c.budget, c.actor);
    case "login":
      return a.login(c.name, c.password, c.address);
    case "session":
      return a.session(c.id);
    case "logout":
      return a.logout(c.id, c.actor);
    case "tokens.create":
      return a.createToken(
        c.user,
        { name: c.name, expiresAt: c.expiresAt },
        c.actor,
      );
    case "tokens.list":
      return a.listTokens(c.user);
    case "tokens.revoke":
      return a.revokeToken(c.user, c.name, c.actor);
    case "token":
      return a.tokenUser(c.token);
    case "audit.append":
      a.audit(c.entry);
      return null;
    case "audit.list":
      return a.listAudit(c.filter);
  }
}
