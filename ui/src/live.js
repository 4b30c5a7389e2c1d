// Overview (charts polled every 5 s) and Credentials (health, probe now).
import { api } from "./api.js";
import { num, pct, text, time } from "./format.js";
import {
  Chart,
  Empty,
  ErrorBox,
  html,
  Notice,
  Page,
  Table,
  useAction,
  useApi,
} from "./ui.js";

const POLL_MS = 5000;

function columns(series, fields, scale = 1) {
  const x = series.map((p) => p.t_ms / 1000);
  return [
    x,
    ...fields.map((f) =>
      series.map((
        p,
      ) => (p[f] === null || p[f] === undefined ? null : p[f] * scale))
    ),
  ];
}

/** One badge per credential state. */
export function StateBadge({ state }) {
  return html`<span class=${`badge state-${state}`}>${state}</span>`;
}

/** The overview: live charts and every credential's state. */
export function Overview() {
  const { data, error } = useApi("overview", {
    query: { window: 600 },
    pollMs: POLL_MS,
  });
  const series = data?.series ?? [];
  return html`<${Page} title="Overview">
    <${ErrorBox} error=${error} />
    ${data === null && !error ? html`<p aria-live="polite">Loading…</p>` : null}
    ${
    data !== null
      ? html`
        <div class="tiles" data-samples=${series.length}>
          <div
            class="tile"><span>Requests</span><strong data-testid="total-requests">${num(
              data.totals?.requests,
            )}</strong></div>
          <div class="tile"><span>Errors</span><strong>${num(
            data.totals?.errors,
          )}</strong></div>
          <div class="tile"><span>In flight</span><strong>${num(
            data.totals?.in_flight,
          )}</strong></div>
          <div
            class="tile"><span>Updated</span><strong class="small">${time(
              data.now,
            )}</strong></div>
        </div>
        ${series.length === 0
          ? html`<${Empty}>No samples yet — the charts fill in every ${
            data.interval_seconds ?? 5
          } s as traffic flows.</${Empty}>`
          : null}
        <div class="charts">
          <${Chart} title="Requests per second" data=${columns(series, ["rps"])}
            series=${[{ label: "req/s" }]} />
          <${Chart} title="Error rate (%)" data=${columns(series, [
            "error_rate",
          ], 100)} series=${[{ label: "errors %", stroke: "#c92a2a" }]} />
          <${Chart} title="Latency (ms)" data=${columns(series, [
            "p50_ms",
            "p95_ms",
          ])} series=${[{ label: "p50" }, { label: "p95" }]} />
          <${Chart} title="Time to first token (ms)" data=${columns(series, [
            "ttft_p50_ms",
            "ttft_p95_ms",
          ])}
            series=${[{ label: "TTFT p50" }, { label: "TTFT p95" }]} />
          <${Chart} title="Tokens per minute" data=${columns(series, [
            "tokens_per_min",
          ])} series=${[{ label: "tokens/min" }]} />
          <${Chart} title="In-flight requests" data=${columns(series, [
            "in_flight",
          ])} series=${[{ label: "in flight" }]} />
        </div>
        <h2>Credentials</h2>
        ${(data.credentials ?? []).length === 0
          ? html`<${Empty}>No credentials — add them to the secrets file and reload.</${Empty}>`
          : html`<ul class="cred-grid">
          ${
            data.credentials.map((c) =>
              html`<li class="cred">
            <strong class="cred-name">${c.name}</strong> <${StateBadge} state=${c.state} />
            <span>${num(c.requests)} requests · ${pct(c.share)}</span>
          </li>`
            )
          }
        </ul>`}
      `
      : null
  }
  </${Page}>`;
}

/** Credentials: health, failures and a probe button for those allowed. */
export function Credentials({ me }) {
  const { data, error, reload } = useApi("credentials", { pollMs: POLL_MS });
  const probe = useAction();
  const mayProbe = Boolean(me.permissions["credentials.probe"]);
  const items = data?.items ?? [];
  async function probeNow(name) {
    await probe.act(
      () =>
        api(`credentials/${encodeURIComponent(name)}/probe`, {
          method: "POST",
        }),
      (r) => `Probe of ${name} started (${r?.state ?? "probing"}).`,
    );
    reload();
  }
  return html`
    <${Page} title="Credentials">
      <${ErrorBox} error=${error ?? probe.error} />
      <${Notice}>${probe.done}</${Notice}>
        ${data !== null && items.length === 0
          ? html`<${Empty}>No credentials — add them to the secrets file and reload.</${Empty}>`
          : null}
        ${items.length > 0
          ? html`
            <${Table} caption="Credentials and their health"
              head=${[
                "Name",
                "State",
                "Failures in a row",
                "Next probe",
                "Last error",
                "Requests",
                "Share",
                ...(mayProbe ? ["Action"] : []),
              ]}
              rows=${items.map((c) =>
                html`<tr>
        <td>${c.name}</td><td><${StateBadge} state=${c.state} /></td>
        <td>${num(c.failures_in_row)}</td><td>${time(c.next_probe_at)}</td>
        <td class="wrap">${text(c.last_error)}</td><td>${
                  num(c.requests)
                }</td><td>${pct(c.share)}</td>
        ${
                  mayProbe
                    ? html`<td><button type="button" disabled=${probe.busy} onClick=${() =>
                      probeNow(
                        c.name,
                      )} aria-label=${`Probe now: ${c.name}`}>Probe now</button></td>`
                    : null
                }
      </tr>`
              )} />
          `
          : null}
      </${Page}>
  `;
}
