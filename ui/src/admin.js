// Users & teams (admin), the audit log and About.
import { useState } from "preact/hooks";
import { api } from "./api.js";
import { duration, num, text, time } from "./format.js";
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

const ROLES = [["admin", "admin"], ["operator", "operator"], [
  "member",
  "member",
], ["viewer", "viewer"]];

function UserRow({ u, mayWrite, teams, action, reload }) {
  const [role, setRole] = useState(u.role);
  const [password, setPassword] = useState("");
  const path = `users/${encodeURIComponent(u.name)}`;
  const patch = (body, done) =>
    action.act(() => api(path, { method: "PATCH", body }), done).then(reload);
  function remove() {
    if (
      !confirm(
        `Delete the user "${u.name}"? Their sessions, tokens and keys end.`,
      )
    ) return;
    action.act(() => api(path, { method: "DELETE" }), `User ${u.name} deleted.`)
      .then(reload);
  }
  return html`<tr>
    <td>${u.name}</td>
    <td>${
    mayWrite
      ? html`
        <label class="sr-only" for=${`role-${u.name}`}>Role of ${u.name}</label>
        <select id=${`role-${u.name}`} value=${role} onChange=${(e) =>
          setRole(e.currentTarget.value)}>
                ${ROLES.map(([v, t]) =>
                  html`<option value=${v}>${t}</option>`
                )}</select>
        <button type="button" class="secondary" disabled=${role === u.role}
          onClick=${() =>
            patch(
              { role },
              `Role of ${u.name} is now ${role}.`,
            )}>Set role</button>
      `
      : u.role
  }</td>
    <td>${
    mayWrite && teams.length > 0
      ? html`
        <label class="sr-only" for=${`team-${u.name}`}>Team of ${u.name}</label>
        <select id=${`team-${u.name}`} value=${u.team ?? ""} onChange=${(e) =>
          patch(
            { team: e.currentTarget.value || null },
            `Team of ${u.name} changed.`,
          )}>
                <option value="">(none)</option>${teams.map((t) =>
                  html`<option value=${t.name}>${t.name}</option>`
                )}</select>
      `
      : text(u.team)
  }</td>
    <td>${u.status}</td><td>${time(u.created_at)}</td>
    ${
    mayWrite
      ? html`
        <td class="row-actions">
          <button type="button" class="secondary"
            onClick=${() =>
              patch(
                { disabled: u.status !== "disabled" },
                `User ${u.name} ${
                  u.status === "disabled" ? "enabled" : "disabled"
                }.`,
              )}>${u.status === "disabled" ? "Enable" : "Disable"}</button>
          <form class="inline" onSubmit=${(e) => {
            e.preventDefault();
            patch({ password }, `Password of ${u.name} reset.`);
            setPassword("");
          }}>
            <label class="sr-only" for=${`pw-${u.name}`}>New password for ${u
              .name}</label>
            <input id=${`pw-${u.name}`} type="password" autocomplete="new-password"
              placeholder="new password" value=${password} onInput=${(e) =>
                setPassword(e.currentTarget.value)} required
              minlength="8" />
            <button type="submit" class="secondary">Reset password</button>
          </form>
          <button type="button" class="danger" onClick=${remove}>Delete</button>
        </td>
      `
      : null
  }
  </tr>`;
}

/** Users and teams. */
export function Users({ me }) {
  const mayReadUsers = Boolean(me.permissions["users.read"]);
  const users = useApi(mayReadUsers ? "users" : null);
  const teams = useApi(me.permissions["teams.read"] ? "teams" : null);
  const action = useAction();
  const [form, setForm] = useState({
    name: "",
    role: "member",
    password: "",
    team: "",
  });
  const [team, setTeam] = useState("");
  const mayWrite = Boolean(me.permissions["users.write"]);
  const mayTeams = Boolean(me.permissions["teams.write"]);
  const set = (k) => (e) => setForm({ ...form, [k]: e.currentTarget.value });
  const teamList = teams.data?.data ?? [];
  const reload = () => {
    users.reload();
    teams.reload();
  };
  async function create(e) {
    e.preventDefault();
    const body = {
      name: form.name.trim(),
      role: form.role,
      password: form.password,
      ...(form.team ? { team: form.team } : {}),
    };
    if (
      await action.act(
        () => api("users", { method: "POST", body }),
        `User ${body.name} created.`,
      )
    ) {
      setForm({ name: "", role: "member", password: "", team: "" });
      reload();
    }
  }
  async function createTeam(e) {
    e.preventDefault();
    if (
      await action.act(
        () => api("teams", { method: "POST", body: { name: team.trim() } }),
        `Team ${team.trim()} created.`,
      )
    ) {
      setTeam("");
      reload();
    }
  }
  function deleteTeam(name) {
    if (!confirm(`Delete the team "${name}"?`)) return;
    action.act(
      () => api(`teams/${encodeURIComponent(name)}`, { method: "DELETE" }),
      `Team ${name} deleted.`,
    ).then(reload);
  }
  const list = users.data?.data ?? [];
  return html`
    <${Page} title="Users & teams">
      <${ErrorBox} error=${action.error} />
      <${Notice}>${action.done}</${Notice}>
        ${mayWrite
          ? html`
            <details class="panel">
              <summary>Create a user</summary>
              <form class="form-grid" onSubmit=${create} aria-label="Create a user">
                <${Field} label="User name" required value=${form.name}
                  onInput=${set("name")} autocomplete="off" />
                <${Select} label="Role" options=${ROLES} value=${form.role}
                  onChange=${set("role")} />
                <${Field} label="Password" type="password" required minlength="8"
                  autocomplete="new-password" value=${form
                    .password} onInput=${set("password")} />
                <${Select} label="Team" options=${[
                  ["", "(none)"],
                  ...teamList.map((t) => [t.name, t.name]),
                ]} value=${form.team}
                  onChange=${set("team")} />
                <div
                  class="form-actions"><button type="submit" disabled=${action
                    .busy}>Create user</button></div>
              </form>
            </details>
          `
          : null}
        ${mayReadUsers ? html`<h2>Users</h2>` : null}
        <${ErrorBox} error=${users.error} />
        ${users.data !== null && list.length === 0
          ? html`<${Empty}>No users yet — create one above or with "flow-proxy users create".</${Empty}>`
          : null}
        ${list.length > 0
          ? html`
            <${Table} caption="Users" head=${[
              "Name",
              "Role",
              "Team",
              "Status",
              "Created",
              ...(mayWrite ? ["Actions"] : []),
            ]}
              rows=${list.map((u) =>
                html`
                  <${UserRow} key=${u.name} u=${u} mayWrite=${mayWrite}
                    teams=${teamList} action=${action} reload=${reload} />
                `
              )} />
          `
          : null}
        <h2>Teams</h2>
        <${ErrorBox} error=${teams.error} />
        ${mayTeams
          ? html`<form class="search" onSubmit=${createTeam} aria-label="Create a team">
      <${Field} label="New team name" required value=${team} onInput=${(e) =>
            setTeam(e.currentTarget.value)} autocomplete="off" />
      <button type="submit">Create team</button></form>`
          : null}
        ${teams.data !== null && teamList.length === 0
          ? html`<${Empty}>No teams yet — ${
            mayTeams ? "create one above" : "an admin creates them"
          }; members of a team share its budget.</${Empty}>`
          : null}
        ${teamList.length > 0
          ? html`
            <${Table} caption="Teams" head=${[
              "Name",
              "Members",
              "Created",
              ...(mayTeams ? ["Actions"] : []),
            ]}
              rows=${teamList.map((t) =>
                html`<tr><td>${t.name}</td><td>${text(t.members)}</td><td>${
                  time(t.created_at)
                }</td>
        ${
                  mayTeams
                    ? html`<td><button type="button" class="danger" onClick=${() =>
                      deleteTeam(
                        t.name,
                      )} aria-label=${`Delete team ${t.name}`}>Delete</button></td>`
                    : null
                }</tr>`
              )} />
          `
          : null}
      </${Page}>
  `;
}

/** The audit log. */
export function Audit() {
  const [form, setForm] = useState({ since: "7d", user: "", action: "" });
  const [applied, setApplied] = useState(form);
  const { data, error } = useApi("audit", {
    query: { ...applied, limit: 200 },
  });
  const items = data?.data ?? [];
  const set = (k) => (e) => setForm({ ...form, [k]: e.currentTarget.value });
  const actor = (a) =>
    typeof a === "object" && a !== null
      ? `${a.name ?? "?"}${a.role ? ` (${a.role})` : ""}${
        a.address ? ` from ${a.address}` : ""
      }`
      : text(a);
  return html`<${Page} title="Audit log">
    <form class="form-grid" onSubmit=${(e) => {
    e.preventDefault();
    setApplied(form);
  }} aria-label="Filter the audit log">
      <${Field} label="Since" value=${form.since} onInput=${
    set("since")
  } hint="24h, 7d or a date" />
      <${Field} label="User" value=${form.user} onInput=${set("user")} />
      <${Field} label="Action" value=${form.action} onInput=${
    set("action")
  } placeholder="key.create" />
      <div class="form-actions"><button type="submit">Apply</button></div>
    </form>
    <${ErrorBox} error=${error} />
    ${
    data !== null && items.length === 0
      ? html`<${Empty}>Nothing audited in this window — widen "Since"; logins, key and user changes appear here.</${Empty}>`
      : null
  }
    ${
    items.length > 0
      ? html`
        <${Table} caption="Audit records, newest first" head=${[
          "Time",
          "Actor",
          "Action",
          "Target",
          "Outcome",
          "Detail",
        ]}
          rows=${items.map((a) =>
            html`
              <tr>
                <td>${time(a.at)}</td>
                <td>${actor(a.actor ?? a.user)}</td>
                <td>${a.action}</td>
                <td>${text(a.target)}</td>
                <td>${text(a.outcome)}</td>
                <td class="wrap">${text(a.detail)}</td>
              </tr>
            `
          )} />
      `
      : null
  }
  </${Page}>`;
}

/** About: version, uptime, configuration (secrets masked by the API), TLS, docs. */
export function About() {
  const about = useApi("about");
  const status = useApi("status");
  const a = about.data;
  const s = status.data;
  return html`<${Page} title="About">
    <${ErrorBox} error=${about.error} />
    ${
    a || s
      ? html`
        <dl class="details">
          <div class="kv">
            <dt>Version</dt>
            <dd data-testid="version">${(a ?? s).version}</dd>
          </div>
          <div class="kv">
            <dt>Started</dt>
            <dd>${time((a ?? s).started_at)}</dd>
          </div>
          <div class="kv">
            <dt>Uptime</dt>
            <dd>${duration((a ?? s).uptime_seconds)}</dd>
          </div>
          <div class="kv">
            <dt>Workers</dt>
            <dd>${num((a ?? s).workers?.ready)} of ${num(
              (a ?? s).workers?.expected,
            )} ready</dd>
          </div>
        </dl>
      `
      : null
  }
    ${
    a
      ? html`<h2>Configuration</h2>
      ${
        (a.configuration ?? []).length === 0
          ? html`<${Empty}>Every option has its default.</${Empty}>`
          : html`
            <${Table} caption="Effective configuration (secrets shown as ***)"
              head=${["Option", "Environment", "Value", "Source"]}
              rows=${a.configuration.map((c) =>
                html`
                  <tr>
                    <td class="mono">${c.option}</td>
                    <td class="mono">${text(c.env)}</td>
                    <td class="mono wrap">${text(c.value)}</td>
                    <td>${c.source}</td>
                  </tr>
                `
              )} />
          `
      }
      <h2>TLS certificates</h2>
      ${
        a.tls === null || (a.tls?.certificates ?? []).length === 0
          ? html`<${Empty}>No TLS: this server speaks plain HTTP (see --tls-cert or --acme-domain).</${Empty}>`
          : html`
            <${Table} caption="Certificates"
              head=${["Names", "Expires"]} rows=${a.tls.certificates.map((c) =>
                html`
                  <tr>
                    <td>${text(c.names)}</td>
                    <td>${time(c.not_after)}</td>
                  </tr>
                `
              )} />
          `
      }
      <h2>Documentation</h2>
      <ul>${
        (a.docs ?? []).map((d) =>
          html`<li><a href=${d.url} rel="noreferrer">${d.title}</a></li>`
        )
      }</ul>`
      : null
  }
  </${Page}>`;
}
