/**
 * The admin API with the dashboard's sources as a serving thread builds
 * them (src/server/dashboard_sources.ts), over one temporary database
 * holding accounts, client keys and the request log; the store worker's
 * reads run in-process through the same `LogReads` it uses.
 */
import { join } from "node:path";
import { createAdminApi } from "../../src/admin/admin_api.ts";
import { localAccountsClient } from "../../src/accounts/calls.ts";
import { type KeyStore, openKeyStore } from "../../src/access/key_store.ts";
import { type Accounts, openAccounts } from "../../src/accounts/accounts.ts";
import {
  openRequestLog,
  type SqliteStore,
} from "../../src/request_log/sqlite_store.ts";
import { LogReads } from "../../src/server/log_reads.ts";
import { ownedKeys } from "../../src/server/shared_budgets.ts";
import { dashboardSources } from "../../src/server/dashboard_sources.ts";
import type {
  StoreLink,
  StoreOp,
  StoreResults,
} from "../../src/server/store_link.ts";
import { createSharedState } from "../../src/base/shared_state.ts";
import { Balancer } from "../../src/upstream/balancer.ts";
import { Metrics } from "../../src/observe/metrics.ts";
import { BudgetTable } from "../../src/access/budget_table.ts";
import { resolveSettings } from "../../src/config/settings.ts";
import type { Settings } from "../../src/config/settings.ts";
import type { StoredKey } from "../../src/access/client_keys.ts";
import type { RequestRecord } from "../../src/request_log/record.ts";
import { ROLES } from "../../src/accounts/permissions.ts";
import type { Role } from "../../src/accounts/permissions.ts";
import type { AdminApiOptions } from "../../src/admin/admin_api.ts";
import { getLogger } from "@logtape/logtape";
import { type AdminCallInit, callAdmin } from "../accounts/helpers.ts";

/** The shared admin token of these tests. */
export const ADMIN_TOKEN = "admin-token-0123456789abcdef";
const FAST_SCRYPT = { logN: 10, r: 8, p: 1 };
/** A password that passes the strength check. */
export const PASSWORD = "correct horse battery";
const CLI = { name: "cli:test", role: null, address: null };

/** The fixture: the handler, its parts, and an API token per role (user `u-<role>`). */
export interface DashboardFixture extends AsyncDisposable {
  accounts: Accounts;
  keys: KeyStore;
  log: SqliteStore;
  balancer: Balancer;
  metrics: Metrics;
  budgets: BudgetTable;
  settings: Settings;
  /** API tokens by role; their users are `u-admin`, `u-operator`, `u-member`, `u-viewer`. */
  tokens: Record<Role, string>;
  /** Another member, `u-other`. */
  otherToken: string;
  /** The clock the API reads; tests may move it. */
  clock: { now: number };
  /** Writes records to the request log and reloads the keys the thread holds. */
  write(records: RequestRecord[]): Promise<void>;
  /** Publishes the key store's keys to the thread (as the store worker does). */
  reloadKeys(): void;
  call(
    route: string,
    init?: AdminCallInit,
  ): Promise<Response>;
}

/** Options of {@linkcode dashboardFixture}. */
export interface DashboardFixtureOptions {
  /** `serve` arguments the settings are resolved from. */
  args?: string[];
  env?: Record<string, string>;
  credentials?: string[];
  overrides?: Partial<AdminApiOptions>;
}

/** Builds a {@linkcode DashboardFixture}. */
export async function dashboardFixture(
  options: DashboardFixtureOptions = {},
): Promise<DashboardFixture> {
  const dir = await Deno.makeTempDir({ prefix: "flow-proxy-dashboard-" });
  const path = join(dir, "flow-proxy.db");
  const clock = { now: Date.UTC(2026, 11, 2, 12, 0, 0) };
  const now = () => clock.now;
  const keys = openKeyStore(path, { now });
  const accounts = openAccounts(path, { scrypt: FAST_SCRYPT, now });
  const log = openRequestLog(path);
  const resolved = resolveSettings(
    ["--secrets-file", join(dir, "secrets.json"), ...(options.args ?? [])],
    { env: options.env ?? {}, cwd: dir },
  );
  if (resolved.help) throw new Error("help");
  const settings = resolved.settings;
  const state = createSharedState();
  const names = options.credentials ?? ["primary", "backup"];
  const balancer = new Balancer(state, {
    names,
    tokens: names.map(() => "token"),
    generation: 1,
  }, { backoffBase: 60_000, backoffMax: 600_000, probeLease: 1000, now });
  const metrics = new Metrics(state.metrics);
  const budgets = new BudgetTable(state.budgets);
  const reads = new LogReads({
    requests: () => log,
    clickhouse: null,
    log: getLogger(["flow-proxy", "test"]),
    zone: "UTC",
  });
  let current: StoredKey[] = [];
  const reloadKeys = () => {
    current = keys.snapshot();
  };
  const run = (op: StoreOp): unknown | Promise<unknown> => {
    const owned = (user: string) => ownedKeys(keys.snapshot(), user);
    switch (op.op) {
      case "requests":
        return reads.requests(op.selection, op, owned);
      case "request":
        return reads.request(
          op.id,
          op.owner === null ? undefined : owned(op.owner),
        );
      case "usage-series":
        return reads.series({
          ...op,
          clients: op.owner === null ? undefined : owned(op.owner),
        });
      default:
        throw new Error(`Unexpected store op ${op.op}`);
    }
  };
  const store: StoreLink = {
    keys: [],
    touch() {},
    // Structured-cloned as the worker's answer would be.
    request: (async <O extends StoreOp>(op: O) =>
      structuredClone(
        await run(structuredClone(op)),
      ) as StoreResults[O["op"]]) as StoreLink["request"],
  };
  const dashboard = dashboardSources({
    settings,
    balancer: () => balancer,
    metrics,
    tls: () => null,
    store,
    keys: () => current,
    budgets,
    currency: () => "USD",
    now,
  });
  const handler = createAdminApi({
    token: ADMIN_TOKEN,
    keys,
    accounts: localAccountsClient(accounts),
    status: () => ({
      workersReady: 1,
      workersExpected: 1,
      credentials: balancer.health(),
    }),
    dashboard,
    now,
    startedAt: clock.now - 90_000,
    ...options.overrides,
  });
  const tokens = {} as Record<Role, string>;
  for (const role of ROLES) {
    await accounts.createUser(
      { name: `u-${role}`, role, password: PASSWORD },
      CLI,
    );
    tokens[role] = accounts.createToken(
      `u-${role}`,
      { name: "main", expiresAt: null },
      CLI,
    ).token;
  }
  await accounts.createUser(
    { name: "u-other", role: "member", password: PASSWORD },
    CLI,
  );
  const otherToken = accounts.createToken(
    "u-other",
    { name: "main", expiresAt: null },
    CLI,
  ).token;
  return {
    accounts,
    keys,
    log,
    balancer,
    metrics,
    budgets,
    settings,
    tokens,
    otherToken,
    clock,
    async write(records) {
      await log.write(records);
    },
    reloadKeys,
    call: (route, init = {}) => callAdmin(handler, route, init),
    async [Symbol.asyncDispose]() {
      dashboard.overview?.stop();
      accounts.close();
      keys.close();
      await log.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** A request record with defaults for what a test does not set. */
export function record(
  overrides: Partial<RequestRecord> & { id: string; ts: number },
): RequestRecord {
  return {
    client: null,
    credential: "primary",
    method: "POST",
    path: "/v1/chat/completions",
    model: "gpt-4o",
    status: 200,
    durationMs: 120,
    ttftMs: 40,
    bytesIn: 100,
    bytesOut: 400,
    tokensIn: 10,
    tokensOut: 20,
    cacheReadTokens: null,
    cacheWriteTokens: null,
    error: null,
    attempts: 1,
    stream: false,
    ...overrides,
  };
}

/** Logs `name` in; the session cookie and CSRF token. */
export async function login(
  f: DashboardFixture,
  name: string,
): Promise<{ cookie: string; csrf: string }> {
  const res = await f.call("login", {
    method: "POST",
    body: JSON.stringify({ name, password: PASSWORD }),
  });
  if (res.status !== 200) throw new Error(`Login failed: ${await res.text()}`);
  const body = await res.json();
  return {
    cookie: res.headers.get("set-cookie")!.split(";")[0],
    csrf: body.csrf_token,
  };
}
