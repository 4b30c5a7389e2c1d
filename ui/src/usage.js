// Usage: tokens and spend by day × model / key / user / team as stacked
// bars, and each budget with what is left. Unpriced spend is "—", never 0.
import { useState } from "preact/hooks";
import { money, num, time } from "./format.js";
import {
  Chart,
  Empty,
  ErrorBox,
  html,
  Page,
  Select,
  Table,
  useApi,
} from "./ui.js";

const BY = [["model", "model"], ["key", "key"], ["user", "user"], [
  "team",
  "team",
]];
const SINCE = [["7d", "7 days"], ["30d", "30 days"], ["90d", "90 days"]];

/** Stacked columns: each series is the sum of itself and those after it, largest first. */
function stacked(days, groups, field) {
  const x = days.map((d) => Date.parse(`${d}T12:00:00Z`) / 1000);
  const sums = [];
  let running = days.map(() => 0);
  for (let i = groups.length - 1; i >= 0; i--) {
    running = running.map((v, j) => v + (groups[i][field]?.[j] ?? 0));
    sums.unshift(running);
  }
  return [x, ...sums];
}

/** A sum of days; null (shown "—") when nothing in it was priced. */
function total(list) {
  const priced = list.filter((v) => v !== null && v !== undefined);
  if (list.some((v) => v === null) && priced.every((v) => v === 0)) {
    return null;
  }
  return priced.reduce((a, v) => a + v, 0);
}

function Budgets() {
  const { data, error } = useApi("budgets");
  const items = data?.items ?? [];
  return html`<h2>Budgets</h2>
    <${ErrorBox} error=${error} />
    ${
    data !== null && items.length === 0
      ? html`<${Empty}>No budgets set — an operator sets one on a key (Keys → Edit), an admin on a user or team.</${Empty}>`
      : null
  }
    <ul class="budgets">
      ${
    items.map((b) => {
      const measures = [];
      if (b.tokens_limit !== null) {
        measures.push(["tokens", b.tokens_used, b.tokens_limit, num]);
      }
      if (b.spend_limit !== null) {
        measures.push(["spend", b.spend_used, b.spend_limit, (v) =>
          money(v, b.currency)]);
      }
      return html`<li class="budget">
          <strong>${b.holder} ${b.name}</strong> <span>per ${b.period}, resets ${
        time(b.resets_at)
      }</span>
          ${
        measures.map(([what, used, limit, fmt]) => {
          const left = used === null ? null : Math.max(0, limit - used);
          const label = `${b.holder} ${b.name} ${what}`;
          return html`
            <div class="meter-row">
              <meter min="0" max=${limit} value=${used ?? 0} high=${limit *
                0.8} optimum="0"
                aria-label=${label}></meter>
              <span>${fmt(used)} of ${fmt(limit)} ${what} used · ${fmt(
                left,
              )} left</span>
            </div>
          `;
        })
      }
        </li>`;
    })
  }
    </ul>`;
}

/** The usage page. */
export function Usage() {
  const [by, setBy] = useState("model");
  const [since, setSince] = useState("30d");
  const { data, error } = useApi("usage/series", { query: { since, by } });
  const days = data?.days ?? [];
  const groups = data?.groups ?? [];
  const series = groups.map((g) => ({ label: g.name }));
  const priced = groups.some((g) =>
    (g.spend ?? []).some((v) => v !== null && v > 0)
  );
  return html`<${Page} title="Usage">
    <div class="filters">
      <${Select} label="Group by" options=${BY} value=${by} onChange=${(e) =>
    setBy(e.currentTarget.value)} />
      <${Select} label="Window" options=${SINCE} value=${since} onChange=${(
    e,
  ) => setSince(e.currentTarget.value)} />
    </div>
    <${ErrorBox} error=${error} />
    ${
    data
      ? html`
        <div class="tiles">
          <div
            class="tile"><span>Requests</span><strong data-testid="usage-requests">${num(
              data.totals?.requests,
            )}</strong></div>
          <div class="tile"><span>Tokens</span><strong>${num(
            data.totals?.tokens,
          )}</strong></div>
          <div class="tile"><span>Spend</span><strong>${money(
            data.totals?.spend,
            data.currency,
          )}</strong></div>
          <div
            class="tile"><span>Unpriced requests</span><strong>${num(
              data.totals?.unpriced_requests,
            )}</strong></div>
        </div>
            <p class="muted">From ${time(data.from)} to ${time(
              data.to,
            )}; days in ${data.time_zone ?? "UTC"}.</p>
            ${groups.length === 0
              ? html`<${Empty}>No usage in this window — traffic through the proxy shows up here by day.</${Empty}>`
              : html`
                <div class="charts">
                  <${Chart} title=${`Tokens per day by ${by}`} bars data=${stacked(
                    days,
                    groups,
                    "tokens",
                  )} series=${series} />
                  ${priced
                    ? html`<${Chart} title=${`Spend per day by ${by}`} bars data=${
                      stacked(
                        days,
                        groups.map((g) => ({
                          ...g,
                          spend: (g.spend ?? []).map((v) => v ?? 0),
                        })),
                        "spend",
                      )
                    } series=${series} />`
                    : html`<p class="muted">No priced requests: spend shows as —.</p>`}
                </div>
                <${Table} caption=${`Totals by ${by}`} head=${[
                  by,
                  "Tokens",
                  "Spend",
                ]}
                  rows=${groups.map((g) =>
                    html`
                      <tr>
                        <td>${g.name}</td>
                        <td>${num(total(g.tokens ?? []))}</td>
                        <td>${money(total(g.spend ?? []), data.currency)}</td>
                      </tr>
                    `
                  )} />
              `}
      `
      : null
  }
    <${Budgets} />
  </${Page}>`;
}
