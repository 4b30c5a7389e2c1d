/**
 * What a serving thread gives the dashboard's routes (admin/dashboard_routes.ts):
 * credential health and share from the balancer and the shared metrics,
 * the overview sampler, the configuration in force, budgets from the shared
 * budget counters, and the request log's reads by message to the store
 * worker. Nothing here runs on the request path.
 *
 * @module
 */
import type {
  BudgetItem,
  CredentialItem,
  DashboardSources,
} from "../admin/dashboard_routes.ts";
import type { Balancer } from "../upstream/balancer.ts";
import type { Metrics } from "../observe/metrics.ts";
import { OverviewSampler } from "../observe/overview.ts";
import { effectiveConfiguration } from "../config/effective_config.ts";
import type { Settings } from "../config/settings.ts";
import type { CertificateSummary } from "../observe/tls_metrics.ts";
import type { StoreLink } from "./store_link.ts";
import type { StoredKey } from "../access/client_keys.ts";
import type { BudgetTable } from "../access/budget_table.ts";
import { type Budget, periodBounds } from "../access/budget.ts";
import { keyStatus } from "../access/client_keys.ts";

/** Options of {@linkcode dashboardSources}. */
export interface DashboardSourcesOptions {
  settings: Settings;
  /** The balancer in use (a reload replaces it). */
  balancer: () => Balancer;
  metrics: Metrics;
  /** The listener's certificate now; null for plain HTTP. */
  tls: () => CertificateSummary | null;
  /** The database; null without one. */
  store: StoreLink | null;
  /** The client keys this thread checks now (with their shared budgets). */
  keys: () => readonly StoredKey[];
  budgets: BudgetTable;
  /** The models configuration's currency. */
  currency: () => string;
  /** Clock, epoch ms. */
  now?: () => number;
}

/** The dashboard's sources on a serving thread. */
export function dashboardSources(o: DashboardSourcesOptions): DashboardSources {
  const now = o.now ?? Date.now;
  const configuration = effectiveConfiguration(o.settings);
  const overview = new OverviewSampler({ read: () => o.metrics.snapshot() });
  const store = o.store;
  return {
    configuration: () => configuration,
    tls: o.tls,
    credentials: () => credentialItems(o.balancer(), o.metrics, now()),
    probe: (name) => {
      const health = o.balancer().probeNow(name);
      return health && { name: health.name, state: health.state };
    },
    overview,
    budgets: store === null
      ? undefined
      : (owner) =>
        budgetItems(o.keys(), o.budgets, {
          owner,
          now: now(),
          zone: o.settings.budgetTimeZone,
          currency: o.currency(),
        }),
    log: store === null ? undefined : {
      requests: (selection, page) =>
        store.request({ op: "requests", selection, ...page }),
      request: (id, owner) => store.request({ op: "request", id, owner }),
      series: (query) => store.request({ op: "usage-series", ...query }),
    },
  };
}

/** Every credential's health, failures, next probe, last error and share of traffic. */
export function credentialItems(
  balancer: Balancer,
  metrics: Metrics,
  now: number,
): CredentialItem[] {
  const served = metrics.snapshot().byCredential;
  const health = balancer.health();
  const total = health.reduce((sum, _, i) => sum + (served[i] ?? 0), 0);
  return health.map((h, i) => {
    const retryAt = balancer.retryAt(i);
    const requests = served[i] ?? 0;
    return {
      name: h.name,
      state: h.state,
      failures_in_row: h.failures,
      next_probe_at: h.state !== "ok" && retryAt > 0
        ? new Date(Math.max(retryAt, now)).toISOString()
        : null,
      last_error: h.state === "ok" ? null : balancer.lastError(i),
      requests,
      share: total === 0 ? 0 : requests / total,
    };
  });
}

/**
 * The budgets of `keys` (each key's own, its owner's and its team's, once
 * each) with what the shared counters say is used this period; `owner`:
 * only those of that user's keys.
 */
export function budgetItems(
  keys: readonly StoredKey[],
  table: BudgetTable,
  o: { owner: string | null; now: number; zone: string; currency: string },
): BudgetItem[] {
  const wanted = o.owner?.toLowerCase() ?? null;
  const items: BudgetItem[] = [];
  const seen = new Set<string>();
  const add = (
    holder: BudgetItem["holder"],
    name: string,
    slot: string,
    budget: Budget,
    owner?: string | null,
  ) => {
    if (seen.has(slot)) return;
    seen.add(slot);
    const bounds = periodBounds(o.now, budget.period, o.zone);
    const used = table.usage(slot, bounds.start);
    items.push({
      holder,
      name,
      period: budget.period,
      tokens_limit: budget.tokens,
      tokens_used: used.tokens,
      spend_limit: budget.spendNanos === null ? null : budget.spendNanos / 1e9,
      spend_used: used.nanos / 1e9,
      currency: o.currency,
      resets_at: new Date(bounds.end).toISOString(),
      max_parallel: budget.maxParallel,
      in_flight: used.inFlight,
      ...(holder === "key" ? { owner: owner ?? null } : {}),
    });
  };
  for (const key of keys) {
    if (keyStatus(key, o.now) === "revoked") continue;
    if (wanted !== null && key.owner?.toLowerCase() !== wanted) continue;
    if (key.budget) add("key", key.name, key.name, key.budget, key.owner);
    for (const shared of key.shared ?? []) {
      add(shared.holder, shared.name, shared.slot, shared.budget);
    }
  }
  const order = { user: 0, team: 1, key: 2 };
  return items.sort((a, b) =>
    order[a.holder] - order[b.holder] || a.name.localeCompare(b.name)
  );
}
