// The dashboard's shell: who is logged in (GET me), the login form, the
// navigation the viewer's permissions allow, and a hash router.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, ApiError, explain, setCsrf } from "./api.js";
import { ErrorBox, Field, html } from "./ui.js";
import { Credentials, Overview } from "./live.js";
import { Keys } from "./keys.js";
import { RequestDetail, Requests } from "./requests.js";
import { Usage } from "./usage.js";
import { About, Audit, Users } from "./admin.js";

/** The pages, each with the permission it needs to appear. */
const PAGES = [
  { path: "overview", title: "Overview", needs: "status.read", view: Overview },
  {
    path: "credentials",
    title: "Credentials",
    needs: "status.read",
    view: Credentials,
  },
  { path: "keys", title: "Keys", needs: "keys.read", view: Keys },
  {
    path: "requests",
    title: "Requests",
    needs: "requests.read",
    view: Requests,
  },
  { path: "usage", title: "Usage", needs: "usage.read", view: Usage },
  {
    path: "users",
    title: "Users & teams",
    needs: ["users.read", "teams.read"],
    view: Users,
  },
  { path: "audit", title: "Audit log", needs: "audit.read", view: Audit },
  { path: "about", title: "About", needs: "status.read", view: About },
];

function currentRoute() {
  return decodeURIComponent(location.hash.replace(/^#\/?/, ""));
}

function useRoute() {
  const [route, setRoute] = useState(currentRoute());
  useEffect(() => {
    const changed = () => setRoute(currentRoute());
    addEventListener("hashchange", changed);
    return () => removeEventListener("hashchange", changed);
  }, []);
  return route;
}

function navigate(path) {
  location.hash = `#/${path}`;
}

function Login({ onLogin }) {
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  async function submit(e) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const answer = await api("login", {
        method: "POST",
        body: { name, password },
      });
      setCsrf(answer.csrf_token);
      setPassword("");
      await onLogin();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }
  return html`
    <main id="main" class="login">
      <form onSubmit=${submit} aria-labelledby="login-title" class="login-form">
        <h1 id="login-title">flow-proxy</h1>
        <p>Log in with your flow-proxy user.</p>
        <${Field} label="User name" name="name" autocomplete="username" required
          value=${name} onInput=${(e) => setName(e.currentTarget.value)} />
        <${Field} label="Password" name="password" type="password"
          autocomplete="current-password" required value=${password}
          onInput=${(e) => setPassword(e.currentTarget.value)} />
        <button type="submit" disabled=${busy}>Log in</button>
        <${ErrorBox} error=${error} />
      </form>
    </main>
  `;
}

function Off({ error }) {
  return html`
    <main id="main" class="login">
      <div class="login-form">
        <h1>flow-proxy</h1>
        <div class="error"
          role="alert">The admin API is off on this server (${explain(
            error,
          )}), so the dashboard has nothing to show.</div>
        <p>Start <code>flow-proxy serve</code> with a database and a user (<code>flow-proxy users create --name NAME --role admin</code>), or with <code>--admin-token</code>; see docs/dashboard.md.</p>
      </div>
    </main>
  `;
}

function Shell({ me, onLogout }) {
  const route = useRoute();
  // A page appears when the role has any of the permissions it lists.
  const pages = PAGES.filter((p) =>
    [p.needs].flat().some((action) => me.permissions[action])
  );
  const [head, ...rest] = route.split("/");
  const page = pages.find((p) => p.path === head);
  useEffect(() => {
    if (!page && pages.length > 0) navigate(pages[0].path);
  }, [route]);
  useEffect(() => {
    document.title = `${page?.title ?? "Dashboard"} · flow-proxy`;
  }, [page]);
  async function logout() {
    try {
      await api("logout", { method: "POST" });
    } catch {
      // Logged out either way: the page forgets the session.
    }
    setCsrf(null);
    onLogout();
  }
  let view = null;
  if (page?.path === "requests" && rest.length > 0) {
    view = html`<${RequestDetail} id=${rest.join("/")} />`;
  } else if (page) {
    view =
      html`<${page.view} me=${me} navigate=${navigate} key=${page.path} />`;
  }
  return html`
    <a class="skip" href="#main" onClick=${(e) => {
      e.preventDefault();
      document.getElementById("main")?.focus();
    }}>Skip to content</a>
    <header class="top">
      <span class="brand">flow-proxy</span>
      <nav aria-label="Pages">
        <ul>
            ${pages.map((p) =>
              html`<li><a href=${`#/${p.path}`} aria-current=${
                p === page ? "page" : undefined
              }>${p.title}</a></li>`
            )}
          </ul>
      </nav>
      <div class="who"><span data-testid="who">${me.name} (${me.role})</span>
            <button type="button" class="secondary" onClick=${logout}>Log out</button></div>
    </header>
    <main id="main" tabindex="-1">
          ${pages.length === 0
            ? html`
              <p
                class="empty">Your role (${me
                  .role}) may see no page here — ask an admin for another role.</p>
            `
            : view}
        </main>
  `;
}

function App() {
  const [state, setState] = useState({ me: null, error: null, loading: true });
  async function load() {
    try {
      const me = await api("me");
      setCsrf(me.csrf_token);
      setState({ me, error: null, loading: false });
    } catch (error) {
      setState({ me: null, error, loading: false });
    }
  }
  useEffect(() => {
    load();
  }, []);
  if (state.loading) {
    return html`
      <main id="main">
        <p aria-live="polite">Loading…</p>
      </main>
    `;
  }
  if (state.me) {
    return html`<${Shell} me=${state.me} onLogout=${() =>
      setState({ me: null, error: null, loading: false })} />`;
  }
  if (state.error instanceof ApiError && state.error.status === 404) {
    return html`<${Off} error=${state.error} />`;
  }
  if (state.error instanceof ApiError && state.error.status !== 401) {
    return html`
      <main id="main" class="login">
        <div class="login-form">
          <h1>flow-proxy</h1>
          <${ErrorBox} error=${state.error} />
        </div>
      </main>
    `;
  }
  return html`<${Login} onLogin=${load} />`;
}

render(html`<${App} />`, document.getElementById("app"));
