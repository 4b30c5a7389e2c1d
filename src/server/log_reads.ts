/**
 * What the store worker reads from the request log: the admin API's usage
 * summary and the spend that seeds budgets. From the local SQLite file, or —
 * with `--clickhouse-url` — from ClickHouse, which every instance writes, so
 * that each instance shows and enforces company-wide numbers.
 *
 * The dashboard's reads (pages of requests, a request by id, usage by
 * day) come from ClickHouse too when it is configured, so that every
 * instance shows every instance's requests.
 *
 * When ClickHouse cannot be read, `usage` fails with its error (the admin API
 * answers 503: numbers of one instance would look like the company's), while
 * budgets are seeded from this instance's own log with a WARNING: a budget
 * that knows part of the spend is closer than one that knows none.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { StoredKey } from "../access/client_keys.ts";
import { periodBounds } from "../access/budget.ts";
import type { Accounts } from "../accounts/accounts.ts";
import {
  type SqliteStore,
  type UsageSummary,
  usageSummary,
  usedSince,
  usedSinceByClients,
} from "../request_log/sqlite_store.ts";
import type { ClickHouseQueries } from "../request_log/clickhouse_queries.ts";
import { keyOwners } from "../request_log/usage_owners.ts";
import {
  type Cursor,
  getRequest,
  listRequests,
  type RequestDetail,
  type RequestPage,
  type RequestSelection,
  resolveSelection,
  type UsageSeries,
  usageSeries,
  type UsageSeriesOptions,
} from "../request_log/request_queries.ts";
import { addSharedBudgets } from "./shared_budgets.ts";
import { describe } from "../base/describe.ts";

type Used = { tokens: number; nanos: number };

/** Options of {@linkcode LogReads}. */
export interface LogReadsOptions {
  /** The open local log (it changes when the file is replaced). */
  requests: () => SqliteStore;
  /** ClickHouse reads, or null to read the local log only. */
  clickhouse: ClickHouseQueries | null;
  log: Logger;
  /** The time zone of budget periods. */
  zone: string;
}

/** Reads of the request log for the store worker; see the module doc. */
export class LogReads {
  #options: LogReadsOptions;
  #seedFailing = false;

  /** See {@linkcode LogReadsOptions}. */
  constructor(options: LogReadsOptions) {
    this.#options = options;
  }

  /** The usage summary since `since` (with owners), of `clients` only when given. */
  async usage(since: number, clients?: string[]): Promise<UsageSummary> {
    const requests = this.#options.requests();
    const clickhouse = this.#options.clickhouse;
    if (clickhouse === null) {
      return usageSummary(requests, { since, owners: true, clients });
    }
    return await clickhouse.usageSummary({
      since,
      owners: true,
      clients,
      ownersOf: (keys) => keyOwners(requests.database, keys),
    });
  }

  /** A page of the request log (ClickHouse's when configured); `ownedBy` names the keys a user owns. */
  async requests(
    selection: RequestSelection,
    page: { cursor: Cursor | null; limit: number },
    ownedBy: (user: string) => string[],
  ): Promise<RequestPage> {
    const requests = this.#options.requests();
    const filter = resolveSelection(selection, ownedBy);
    const clickhouse = this.#options.clickhouse;
    if (clickhouse === null) {
      return listRequests(requests.database, filter, page);
    }
    return await clickhouse.listRequests(
      filter,
      page,
      (keys) => keyOwners(requests.database, keys),
    );
  }

  /** Request `id` (from ClickHouse when configured), of `clients` only when given. */
  async request(id: string, clients?: string[]): Promise<RequestDetail | null> {
    const requests = this.#options.requests();
    const clickhouse = this.#options.clickhouse;
    if (clickhouse === null) return getRequest(requests.database, id, clients);
    return await clickhouse.getRequest(
      id,
      clients,
      (keys) => keyOwners(requests.database, keys),
    );
  }

  /** Tokens and spend by day: from ClickHouse when configured (every instance's), else the daily rollup. */
  async series(options: UsageSeriesOptions): Promise<UsageSeries> {
    const requests = this.#options.requests();
    const clickhouse = this.#options.clickhouse;
    if (clickhouse === null) return usageSeries(requests.database, options);
    return await clickhouse.usageSeries({
      ...options,
      ownersOf: (keys) => keyOwners(requests.database, keys),
    });
  }

  /**
   * Sets on `keys` (in place) what each budgeted key, user and team used in
   * its current period.
   */
  async seedBudgets(
    keys: StoredKey[],
    accounts: Pick<Accounts, "ownerBudgets">,
    now: number,
  ): Promise<void> {
    const zone = this.#options.zone;
    const requests = this.#options.requests();
    const perKey = keys.filter((k) => k.budget && k.revokedAt === null);
    const starts = perKey.map((k) =>
      periodBounds(now, k.budget!.period, zone).start
    );
    const clickhouse = this.#options.clickhouse;
    let fromKeys: Used[] | null = null;
    let shared: Map<string, Used> | null = null;
    if (clickhouse !== null) {
      try {
        // A first pass only learns which sums the shared budgets need.
        const asked: [readonly string[], number][] = [];
        addSharedBudgets(keys, accounts, (clients, since) => {
          asked.push([clients, since]);
          return { tokens: 0, nanos: 0 };
        }, { now, zone });
        const [keySums, sharedSums] = await Promise.all([
          Promise.all(
            perKey.map((k, i) => clickhouse.usedSince(k.name, starts[i])),
          ),
          Promise.all(
            asked.map(([clients, since]) =>
              clickhouse.usedSinceByClients(clients, since)
            ),
          ),
        ]);
        fromKeys = keySums;
        shared = new Map(
          asked.map(([clients, since], i) => [
            sharedKey(clients, since),
            sharedSums[i],
          ]),
        );
        if (this.#seedFailing) {
          this.#seedFailing = false;
          this.#options.log.info(
            `Budgets are seeded from ClickHouse at ${clickhouse.where} again`,
          );
        }
      } catch (err) {
        if (!this.#seedFailing) {
          this.#seedFailing = true;
          this.#options.log.warn(
            `Budgets seeded from this instance's request log only (its spend, not every instance's): ${
              describe(err)
            }`,
          );
        }
      }
    }
    perKey.forEach((key, i) => {
      key.budgetUsed = {
        period: starts[i],
        ...(fromKeys?.[i] ?? usedSince(requests, key.name, starts[i])),
      };
    });
    addSharedBudgets(
      keys,
      accounts,
      (clients, since) =>
        shared?.get(sharedKey(clients, since)) ??
          usedSinceByClients(requests, clients, since),
      { now, zone },
    );
  }
}

function sharedKey(clients: readonly string[], since: number): string {
  return JSON.stringify([since, clients]);
}
