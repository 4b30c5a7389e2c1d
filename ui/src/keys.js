// Keys: list, filter, create (the key shown once), revoke, edit limits,
// models, expiry and budget. A member's list holds only its own (the API
// filters); a viewer sees no control that changes anything.
import { useState } from "preact/hooks";
import { api } from "./api.js";
import { money, num, text, time } from "./format.js";
import {
  Empty,
  ErrorBox,
  Field,
  html,
  Notice,
  Page,
  Select,
  Table,
  useAction,
  useApi,
} from "./ui.js";

const PERIODS = [["day", "day"], ["week", "week"], ["month", "month"]];

function whole(value) {
  if (value === "" || value === undefined) return undefined;
  return Number(value);
}

function models(value) {
  const list = value.split(",").map((m) => m.trim()).filter((m) => m !== "");
  return list.length === 0 ? undefined : list;
}

function budgetOf(form) {
  if (form.tokens === "" && form.spend === "") return undefined;
  return {
    period: form.period,
    ...(form.tokens === "" ? {} : { tokens: Number(form.tokens) }),
    ...(form.spend === "" ? {} : { spend: Number(form.spend) }),
  };
}

function CreateKey({ me, onCreated }) {
  const blank = {
    name: "",
    rpm: "",
    burst: "",
    models: "",
    expires: "",
    owner: "",
    period: "month",
    tokens: "",
    spend: "",
  };
  const [form, setForm] = useState(blank);
  const [created, setCreated] = useState(null);
  const [copied, setCopied] = useState("");
  const action = useAction();
  const set = (k) => (e) => setForm({ ...form, [k]: e.currentTarget.value });
  const mayBudget = Boolean(me.permissions["budgets.write"]);
  const anyOwner = me.permissions["keys.write"] === "all";
  async function submit(e) {
    e.preventDefault();
    const body = { name: form.name.trim() };
    if (form.rpm !== "") body.rpm = whole(form.rpm);
    if (form.burst !== "") body.burst = whole(form.burst);
    if (models(form.models)) body.models = models(form.models);
    if (form.expires.trim() !== "") body.expires = form.expires.trim();
    if (anyOwner && form.owner.trim() !== "") body.owner = form.owner.trim();
    if (mayBudget && budgetOf(form)) body.budget = budgetOf(form);
    const result = await action.act(() =>
      api("keys", { method: "POST", body })
    );
    if (result) {
      setCreated(result);
      setCopied("");
      setForm(blank);
      onCreated();
    }
  }
  async function copy() {
    try {
      await navigator.clipboard.writeText(created.key);
      setCopied("Copied to the clipboard.");
    } catch {
      setCopied(
        "The browser refused the clipboard: select the key and copy it.",
      );
    }
  }
  return html`<details class="panel" open=${created !== null}>
    <summary>Create a key</summary>
    <form onSubmit=${submit} class="form-grid" aria-label="Create a key">
      <${Field} label="Name" required value=${form.name} onInput=${
    set("name")
  } autocomplete="off" />
      <${Field} label="Requests per minute" type="number" min="1" value=${form.rpm} onInput=${
    set("rpm")
  } hint="Empty: the server's default" />
      <${Field} label="Burst" type="number" min="1" value=${form.burst} onInput=${
    set("burst")
  } />
      <${Field} label="Models (comma-separated)" value=${form.models} onInput=${
    set("models")
  } hint="Empty: every model" />
      <${Field} label="Expires" value=${form.expires} onInput=${
    set("expires")
  } hint="A duration such as 30d, or a date" />
      ${
    anyOwner
      ? html`<${Field} label="Owner (user name)" value=${form.owner} onInput=${
        set("owner")
      } />`
      : null
  }
      ${
    mayBudget
      ? html`
        <${Select} label="Budget period" options=${PERIODS} value=${form.period}
          onChange=${set("period")} />
        <${Field} label="Budget tokens" type="number" min="0" value=${form
          .tokens}
          onInput=${set("tokens")} />
        <${Field} label="Budget spend" type="number" min="0" step="any"
          value=${form.spend} onInput=${set("spend")} />
      `
      : null
  }
      <div class="form-actions"><button type="submit" disabled=${action.busy}>Create key</button></div>
    </form>
    <${ErrorBox} error=${action.error} />
    ${
    created
      ? html`
        <div class="secret" role="status">
          <p>Key <strong>${created
            .name}</strong> created. It is shown this once: copy it now.</p>
          <div class="secret-row">
            <label for="new-key">New key</label>
            <input id="new-key" class="mono" readonly value=${created.key}
              onFocus=${(e) => e.currentTarget.select()} />
            <button type="button" onClick=${copy}>Copy</button>
            <button type="button" class="secondary" onClick=${() =>
              setCreated(null)}>Done</button>
          </div>
          <p aria-live="polite">${copied}</p>
        </div>
      `
      : null
  }
  </details>`;
}

function EditKey({ k, me, onDone }) {
  const [form, setForm] = useState({
    rpm: k.rpm ?? "",
    burst: k.burst ?? "",
    models: (k.models ?? []).join(", "),
    expires: "",
    period: k.budget?.period ?? "month",
    tokens: k.budget?.tokens ?? "",
    spend: k.budget?.spend ?? "",
  });
  const action = useAction();
  const set = (f) => (e) => setForm({ ...form, [f]: e.currentTarget.value });
  const mayBudget = Boolean(me.permissions["budgets.write"]);
  const path = `keys/${encodeURIComponent(k.name)}`;
  async function saveLimits(e) {
    e.preventDefault();
    const body = {
      rpm: form.rpm === "" ? null : whole(form.rpm),
      burst: form.burst === "" ? null : whole(form.burst),
      models: models(String(form.models)) ?? null,
    };
    if (form.expires.trim() !== "") body.expires = form.expires.trim();
    if (
      await action.act(
        () => api(path, { method: "PATCH", body }),
        "Limits saved.",
      )
    ) onDone();
  }
  async function saveBudget(e, clear) {
    e.preventDefault();
    const budget = clear ? null : budgetOf({
      ...form,
      tokens: String(form.tokens),
      spend: String(form.spend),
    }) ?? null;
    if (
      await action.act(
        () => api(`${path}/budget`, { method: "PUT", body: { budget } }),
        clear ? "Budget removed." : "Budget saved.",
      )
    ) onDone();
  }
  return html`<div class="panel edit">
    <form onSubmit=${saveLimits} class="form-grid" aria-label=${`Limits of ${k.name}`}>
      <${Field} label="Requests per minute" type="number" min="1" value=${form.rpm} onInput=${
    set("rpm")
  } />
      <${Field} label="Burst" type="number" min="1" value=${form.burst} onInput=${
    set("burst")
  } />
      <${Field} label="Models (comma-separated)" value=${form.models} onInput=${
    set("models")
  } />
      <${Field} label="New expiry" value=${form.expires} onInput=${
    set("expires")
  } hint="Empty: unchanged" />
      <div class="form-actions"><button type="submit" disabled=${action.busy}>Save limits</button></div>
    </form>
    ${
    mayBudget
      ? html`
        <form onSubmit=${(e) =>
          saveBudget(
            e,
            false,
          )} class="form-grid" aria-label=${`Budget of ${k.name}`}>
          <${Select} label="Budget period" options=${PERIODS} value=${form
            .period}
            onChange=${set("period")} />
          <${Field} label="Budget tokens" type="number" min="0" value=${form
            .tokens}
            onInput=${set("tokens")} />
          <${Field} label="Budget spend" type="number" min="0" step="any"
            value=${form.spend} onInput=${set("spend")} />
          <div class="form-actions">
            <button type="submit" disabled=${action.busy}>Save budget</button>
            <button type="button" class="secondary" disabled=${action.busy}
              onClick=${(e) => saveBudget(e, true)}>Remove budget</button>
          </div>
        </form>
      `
      : null
  }
    <${ErrorBox} error=${action.error} />
    <${Notice}>${action.done}</${Notice}>
  </div>`;
}

function budgetText(b) {
  if (!b) return "—";
  const parts = [];
  if (b.tokens !== null && b.tokens !== undefined) {
    parts.push(`${num(b.tokens)} tokens`);
  }
  if (b.spend !== null && b.spend !== undefined) parts.push(money(b.spend));
  return `${parts.join(" + ") || "—"} / ${b.period}`;
}

/** The keys page. */
export function Keys({ me }) {
  const { data, error, reload } = useApi("keys");
  const [filter, setFilter] = useState("");
  const [editing, setEditing] = useState(null);
  const revoke = useAction();
  const mayWrite = Boolean(me.permissions["keys.write"]);
  const all = data?.data ?? [];
  const f = filter.trim().toLowerCase();
  const keys = all.filter((k) =>
    f === "" ||
    [k.name, k.owner, k.status, ...(k.models ?? [])].some((v) =>
      String(v ?? "").toLowerCase().includes(f)
    )
  );
  async function revokeKey(name) {
    if (
      !confirm(
        `Revoke the key "${name}"? Clients using it are refused at once.`,
      )
    ) return;
    await revoke.act(
      () => api(`keys/${encodeURIComponent(name)}`, { method: "DELETE" }),
      `Key ${name} revoked.`,
    );
    reload();
  }
  return html`<${Page} title="Keys">
    ${mayWrite ? html`<${CreateKey} me=${me} onCreated=${reload} />` : null}
    <${ErrorBox} error=${error ?? revoke.error} />
    <${Notice}>${revoke.done}</${Notice}>
    <div class="filters"><${Field} label="Filter keys" type="search" value=${filter} onInput=${(
    e,
  ) =>
    setFilter(
      e.currentTarget.value,
    )} placeholder="name, owner, status or model" /></div>
    ${
    data !== null && all.length === 0
      ? html`<${Empty}>No keys yet — ${
        mayWrite ? "create one above" : "ask an operator to create one"
      }, then send it as the Bearer token to the proxy.</${Empty}>`
      : null
  }
    ${
    all.length > 0 && keys.length === 0
      ? html`<${Empty}>No key matches "${filter}" — clear the filter to see all ${all.length}.</${Empty}>`
      : null
  }
    ${
    keys.length > 0
      ? html`
        <${Table} caption=${`Client keys (${keys.length})`}
          head=${[
            "Name",
            "Prefix",
            "Status",
            "Owner",
            "RPM / burst",
            "Models",
            "Budget",
            "Expires",
            "Last used",
            ...(mayWrite ? ["Actions"] : []),
          ]}
          rows=${keys.flatMap((k) => [
            html`<tr data-key=${k.name}>
        <td>${k.name}</td><td class="mono">${k.prefix}</td><td><span class=${`badge key-${k.status}`}>${k.status}</span></td>
        <td>${text(k.owner)}</td><td>${text(k.rpm)} / ${
              text(k.burst)
            }</td><td>${text(k.models)}</td>
        <td>${budgetText(k.budget)}</td><td>${time(k.expires_at)}</td><td>${
              time(k.last_used_at)
            }</td>
        ${
              mayWrite
                ? html`<td class="row-actions">${
                  k.status !== "revoked"
                    ? html`
                      <button type="button" class="secondary" aria-expanded=${editing ===
                        k.name}
                        onClick=${() =>
                          setEditing(
                            editing === k.name ? null : k.name,
                          )} aria-label=${`Edit ${k.name}`}>Edit</button>
                      <button type="button" class="danger" onClick=${() =>
                        revokeKey(k.name)}
                        aria-label=${`Revoke ${k.name}`}>Revoke</button>
                    `
                    : null
                }</td>`
                : null
            }
      </tr>`,
            editing === k.name
              ? html`
                <tr>
                  <td colspan="10">
                    <${EditKey} k=${k} me=${me} onDone=${reload} />
                  </td>
                </tr>
              `
              : null,
          ])} />
      `
      : null
  }
  </${Page}>`;
}
