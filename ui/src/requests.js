// Requests: the request log newest first, filtered and paged by cursor on
// the server; a request id search; a detail view; CSV export.
import { useState } from "preact/hooks";
import { ADMIN, query } from "./api.js";
import { money, ms, num, text, time } from "./format.js";
import {
  Empty,
  ErrorBox,
  Field,
  html,
  Page,
  Select,
  Table,
  useApi,
} from "./ui.js";

const FILTERS = [
  "from",
  "to",
  "key",
  "user",
  "model",
  "upstream_model",
  "status",
  "error",
  "translation",
  "rewrite",
];
const STATUSES = [["", "any"], ["200", "200"], ["4xx", "4xx"], ["5xx", "5xx"], [
  "error",
  "any error",
]];

function iso(local) {
  if (!local) return "";
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? "" : d.toISOString();
}

function filterQuery(form) {
  const q = {};
  for (const f of FILTERS) {
    const v = (form[f] ?? "").trim();
    if (v !== "") q[f] = f === "from" || f === "to" ? iso(v) : v;
  }
  return q;
}

/** The request log with filters and paging. */
export function Requests({ navigate }) {
  const empty = Object.fromEntries(FILTERS.map((f) => [f, ""]));
  const [form, setForm] = useState(empty);
  const [applied, setApplied] = useState({});
  const [cursors, setCursors] = useState([null]);
  const [search, setSearch] = useState("");
  const cursor = cursors[cursors.length - 1];
  const { data, error, loading } = useApi("requests", {
    query: { ...applied, cursor, limit: 50 },
  });
  const items = data?.items ?? [];
  const set = (f) => (e) => setForm({ ...form, [f]: e.currentTarget.value });
  function apply(e) {
    e.preventDefault();
    setApplied(filterQuery(form));
    setCursors([null]);
  }
  function reset() {
    setForm(empty);
    setApplied({});
    setCursors([null]);
  }
  function find(e) {
    e.preventDefault();
    if (search.trim() !== "") {
      navigate(`requests/${encodeURIComponent(search.trim())}`);
    }
  }
  const csv = `${ADMIN}requests.csv${query(applied)}`;
  return html`<${Page} title="Requests" actions=${html`<a class="button secondary" href=${csv} download>Export CSV</a>`}>
    <form class="search" onSubmit=${find} role="search" aria-label="Find a request by id">
      <${Field} label="Request id" value=${search} onInput=${(e) =>
    setSearch(
      e.currentTarget.value,
    )} placeholder="x-request-id" autocomplete="off" />
      <button type="submit">Find</button>
    </form>
    <details class="panel">
      <summary>Filters${
    Object.keys(applied).length
      ? ` (${Object.keys(applied).length} applied)`
      : ""
  }</summary>
      <form class="form-grid" onSubmit=${apply} aria-label="Filter requests">
        <${Field} label="From" type="datetime-local" value=${form.from} onInput=${
    set("from")
  } />
        <${Field} label="To" type="datetime-local" value=${form.to} onInput=${
    set("to")
  } />
        <${Field} label="Key" value=${form.key} onInput=${set("key")} />
        <${Field} label="User" value=${form.user} onInput=${set("user")} />
        <${Field} label="Model (requested)" value=${form.model} onInput=${
    set("model")
  } />
        <${Field} label="Upstream model" value=${form.upstream_model} onInput=${
    set("upstream_model")
  } />
        <${Select} label="Status" options=${STATUSES} value=${form.status} onChange=${
    set("status")
  } />
        <${Field} label="Error kind" value=${form.error} onInput=${
    set("error")
  } />
        <${Field} label="Translation" value=${form.translation} onInput=${
    set("translation")
  } />
        <${Field} label="Rewrite" value=${form.rewrite} onInput=${
    set("rewrite")
  } />
        <div class="form-actions"><button type="submit">Apply</button><button type="button" class="secondary" onClick=${reset}>Clear</button></div>
      </form>
    </details>
    <${ErrorBox} error=${error} />
    ${
    data !== null && items.length === 0
      ? html`<${Empty}>No requests ${
        Object.keys(applied).length
          ? "match these filters — widen or clear them"
          : "yet — send one through the proxy and it appears here"
      }.</${Empty}>`
      : null
  }
    ${
    items.length > 0
      ? html`
        <${Table} caption="Requests, newest first"
          head=${[
            "Time",
            "Id",
            "Key",
            "User",
            "Model",
            "Upstream model",
            "Status",
            "Error",
            "Duration",
            "TTFT",
            "Tokens in/out",
            "Spend",
          ]}
          rows=${items.map((r) =>
            html`
              <tr>
                <td>${time(r.time)}</td>
                <td class="mono"><a href=${`#/requests/${
                  encodeURIComponent(r.id)
                }`}>${r.id}</a></td>
                <td>${text(r.key)}</td>
                <td>${text(r.user)}</td>
                <td>${text(r.model)}</td>
                <td>${text(r.upstream_model)}</td>
                <td>${text(r.status)}</td>
                <td>${text(r.error)}</td>
                <td>${ms(r.duration_ms)}</td>
                <td>${ms(r.ttft_ms)}</td>
                <td>${num(r.tokens_in)} / ${num(r.tokens_out)}</td>
                <td>${money(r.cost, r.currency)}</td>
              </tr>
            `
          )} />
      `
      : null
  }
    <nav class="pager" aria-label="Pages of requests">
      <button type="button" class="secondary" disabled=${
    cursors.length < 2 || loading
  } onClick=${() => setCursors(cursors.slice(0, -1))}>Newer</button>
      <span>Page ${cursors.length}</span>
      <button type="button" class="secondary" disabled=${
    !data?.next_cursor || loading
  } onClick=${() => setCursors([...cursors, data.next_cursor])}>Older</button>
    </nav>
  </${Page}>`;
}

function Row({ label, children }) {
  return html`
    <div class="kv">
      <dt>${label}</dt>
      <dd>${children}</dd>
    </div>
  `;
}

/** One request in full. */
export function RequestDetail({ id }) {
  const { data, error } = useApi(`requests/${encodeURIComponent(id)}`);
  const r = data?.request;
  return html`<${Page} title="Request" actions=${html`<a class="button secondary" href="#/requests">Back to requests</a>`}>
    <${ErrorBox} error=${error} />
    ${
    r
      ? html`
        <dl class="details" data-testid="request-detail">
          <${Row} label="Id"><span class="mono">${r.id}</span></${Row}>
              <${Row} label="Time">${time(r.time)}</${Row}>
              <${Row} label="Method and path">${text(r.method)} ${text(
                r.path,
              )}</${Row}>
              <${Row} label="Key">${text(r.key)}</${Row}>
              <${Row} label="User">${text(r.user)}</${Row}>
              <${Row} label="Model">${text(r.model)}</${Row}>
              <${Row} label="Upstream model">${text(r.upstream_model)}</${Row}>
              <${Row} label="Status">${text(r.status)}</${Row}>
              <${Row} label="Error">${text(r.error)}</${Row}>
              <${Row} label="Duration">${ms(r.duration_ms)}</${Row}>
              <${Row} label="Time to first token">${ms(r.ttft_ms)}</${Row}>
              <${Row} label="Stream">${r.stream === undefined
                ? "—"
                : r.stream
                ? "yes"
                : "no"}</${Row}>
              <${Row} label="Bytes in / out">${num(r.bytes_in)} / ${num(
                r.bytes_out,
              )}</${Row}>
              <${Row} label="Tokens in / out">${num(r.tokens_in)} / ${num(
                r.tokens_out,
              )}</${Row}>
              <${Row} label="Cache read / write tokens">${num(
                r.cache_read_tokens,
              )} / ${num(r.cache_write_tokens)}</${Row}>
              <${Row} label="Spend">${money(r.cost, r.currency)}</${Row}>
              <${Row} label="Credential">${text(r.credential)}</${Row}>
              <${Row} label="Translation">${text(r.translation)}</${Row}>
              <${Row} label="Rewrite">${text(r.rewrite)}</${Row}>
              <${Row} label="Attempts">${num(r.attempts)}</${Row}>
            </dl>
            <h2>Failover attempts</h2>
            ${(r.attempt_log ?? []).length === 0
              ? html`<${Empty}>One attempt, no failover.</${Empty}>`
              : html`
                <${Table} caption="Attempts in order"
                  head=${["#", "Credential", "Status", "Error", "Duration"]}
                  rows=${r.attempt_log.map((a, i) =>
                    html`
                      <tr>
                        <td>${i + 1}</td>
                        <td>${text(a.credential)}</td>
                        <td>${text(a.status)}</td>
                        <td>${text(a.error)}</td>
                        <td>${ms(a.duration_ms)}</td>
                      </tr>
                    `
                  )} />
              `}
      `
      : null
  }
  </${Page}>`;
}
