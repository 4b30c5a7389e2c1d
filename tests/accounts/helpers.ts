/** Shared set-up of the accounts tests: a fast scrypt, a clock to move, a fresh database. */
import {
  Accounts,
  type AccountsOptions,
  openAccounts,
} from "../../src/accounts/accounts.ts";
import type { Actor } from "../../src/accounts/audit.ts";

/** scrypt parameters small enough for tests (the stored hash says which were used). */
export const FAST_SCRYPT = { logN: 10, r: 8, p: 1 };
/** A start time for injected clocks. */
export const T0 = Date.UTC(2026, 11, 2, 4, 0, 0);
/** A password that passes the strength check. */
export const PASSWORD = "correct horse battery";
/** The command line as actor. */
export const CLI: Actor = { name: "cli:test", role: null, address: null };

/** A clock tests move by hand. */
export interface TestClock {
  now: () => number;
  advance(ms: number): void;
}

/** A clock at {@linkcode T0}. */
export function testClock(): TestClock {
  let t = T0;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

/** Accounts in a fresh in-memory database. */
export function memoryAccounts(options: AccountsOptions = {}): Accounts {
  return openAccounts(":memory:", { scrypt: FAST_SCRYPT, ...options });
}

import { join } from "node:path";
import {
  type AdminApiOptions,
  createAdminApi,
} from "../../src/admin/admin_api.ts";
import { localAccountsClient } from "../../src/accounts/calls.ts";
import { openKeyStore } from "../../src/access/key_store.ts";
import { ADMIN_PREFIX } from "../../src/base/reserved_paths.ts";

/** The shared admin token of the admin API tests. */
export const ADMIN_TOKEN = "admin-token-0123456789abcdef";

/** The admin API over accounts and client keys in a temporary database, with a clock and captured WARN lines. */
export interface AdminFixture extends AsyncDisposable {
  accounts: Accounts;
  clock: TestClock;
  warnings: string[];
  loginFailures: string[];
  handler: (
    req: Request,
    info?: { remoteAddr: Deno.Addr },
  ) => Promise<Response>;
  /** Calls `route` (after the admin prefix) from `address`. */
  call(
    route: string,
    init?: AdminCallInit,
  ): Promise<Response>;
}

/** What {@linkcode callAdmin} adds to a `RequestInit`. */
export type AdminCallInit = RequestInit & {
  bearer?: string;
  cookie?: string;
  csrf?: string;
  /** The caller's address (default 192.0.2.1). */
  address?: string;
};

/**
 * Calls `route` (after the admin prefix) on an admin API handler with the
 * bearer token, session cookie and CSRF token given, a JSON body's type,
 * from `init.address`.
 */
export function callAdmin(
  handler: (
    req: Request,
    info?: { remoteAddr: Deno.Addr },
  ) => Promise<Response>,
  route: string,
  init: AdminCallInit = {},
): Promise<Response> {
  const headers = new Headers(init.headers);
  if (init.bearer) headers.set("authorization", `Bearer ${init.bearer}`);
  if (init.cookie) headers.set("cookie", init.cookie);
  if (init.csrf) headers.set("x-csrf-token", init.csrf);
  if (init.body !== undefined) {
    headers.set("content-type", "application/json");
  }
  return handler(
    new Request(`http://127.0.0.1:8899${ADMIN_PREFIX}${route}`, {
      ...init,
      headers,
    }),
    {
      remoteAddr: {
        transport: "tcp",
        hostname: init.address ?? "192.0.2.1",
        port: 40000,
      },
    },
  );
}

/** Builds an {@linkcode AdminFixture}. */
export async function adminFixture(
  overrides: Partial<AdminApiOptions> = {},
  accountsOptions: AccountsOptions = {},
): Promise<AdminFixture> {
  const dir = await Deno.makeTempDir({ prefix: "flow-proxy-accounts-" });
  const path = join(dir, "flow-proxy.db");
  const clock = testClock();
  const keys = openKeyStore(path, { now: clock.now });
  const accounts = openAccounts(path, {
    scrypt: FAST_SCRYPT,
    now: clock.now,
    ...accountsOptions,
  });
  const warnings: string[] = [];
  const loginFailures: string[] = [];
  const handler = createAdminApi({
    token: ADMIN_TOKEN,
    keys,
    accounts: localAccountsClient(accounts),
    status: () => ({ workersReady: 1, workersExpected: 1, credentials: [] }),
    usage: () => ({ requests: 0 }),
    now: clock.now,
    logger: {
      warn: (message: unknown) => void warnings.push(String(message)),
    } as never,
    onLoginFailure: (reason) => void loginFailures.push(reason),
    ...overrides,
  });
  return {
    accounts,
    clock,
    warnings,
    loginFailures,
    handler,
    call: (route, init = {}) => callAdmin(handler, route, init),
    async [Symbol.asyncDispose]() {
      accounts.close();
      keys.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Logs `name` in through the admin API; the session cookie and CSRF token. */
export async function login(
  fixture: AdminFixture,
  name: string,
  password = PASSWORD,
): Promise<{ cookie: string; csrf: string; setCookie: string }> {
  const res = await fixture.call("login", {
    method: "POST",
    body: JSON.stringify({ name, password }),
  });
  if (res.status !== 200) {
    throw new Error(
      `Login of ${name} failed: ${res.status} ${await res.text()}`,
    );
  }
  const body = await res.json();
  const setCookie = res.headers.get("set-cookie")!;
  return { cookie: setCookie.split(";")[0], csrf: body.csrf_token, setCookie };
}
