/// <reference lib="dom" />
/**
 * The web dashboard in a real browser: Debian's chromium driven by
 * puppeteer-core against the real `flow-proxy serve` (a database, users of
 * every role, traffic from the mock upstream). Every page renders real data,
 * passes axe-core with no serious or critical violation and logs no console
 * error; a key created in the page works against the proxy and stops working
 * once revoked there; a member sees only its own keys; a viewer sees no
 * control that changes anything and the API refuses one anyway.
 *
 * Screenshots of every page at 1280×800 and 390×844 go to
 * `$FLOW_PROXY_SCREENSHOTS` (default: a new temp dir, printed).
 * Chromium: `$FLOW_PROXY_CHROMIUM` or /usr/bin/chromium; missing, the test
 * fails saying how to install it (`.ci/run` does).
 */
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import puppeteer, {
  type Browser,
  type BrowserContext,
  type Page,
} from "puppeteer-core";
import { openAccounts } from "../../src/accounts/accounts.ts";
import { startStack } from "../support/stack.ts";
import { CLI, PASSWORD } from "../accounts/helpers.ts";

const CHROMIUM = Deno.env.get("FLOW_PROXY_CHROMIUM") ?? "/usr/bin/chromium";
const SHOTS = Deno.env.get("FLOW_PROXY_SCREENSHOTS") ??
  Deno.makeTempDirSync({ prefix: "flow-proxy-screenshots-" });
const SIZES = [
  { name: "desktop", width: 1280, height: 800 },
  { name: "phone", width: 390, height: 844 },
] as const;
const AXE_SOURCE = Deno.readTextFileSync(
  createRequire(import.meta.url).resolve("axe-core/axe.min.js"),
);
/** Requests sent through the proxy, the first ALICE with alice's key, the rest with bob's. */
const SENT = 60;
const ALICE = 55;
/** Rows on a page of the Requests page. */
const PAGE = 50;
/** How long a page may take to show what it should (the machine is shared and slow). */
const WAIT_MS = 20_000;

function chromiumPresent(): boolean {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
}

/** Fails (never skips) when there is no chromium, before anything is started. */
function assertChromium(): void {
  if (!chromiumPresent()) {
    throw new Error(
      `No chromium at ${CHROMIUM}: install Debian's (apt-get install -y chromium, as .ci/run does) or set FLOW_PROXY_CHROMIUM`,
    );
  }
}

async function launch(): Promise<Browser> {
  assertChromium();
  return await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      `--user-data-dir=${
        Deno.makeTempDirSync({ prefix: "flow-proxy-chromium-" })
      }`,
    ],
  });
}

/** What went wrong in a page: console errors, failed requests, error answers. */
interface Trouble {
  problems: string[];
  /** Answers that are expected (e.g. `GET me` 401 before logging in). */
  allow: (url: string, status: number) => boolean;
}

function watch(page: Page, allow: Trouble["allow"]): Trouble {
  const t: Trouble = { problems: [], allow };
  page.on("console", (msg) => {
    if (msg.type() !== "error") return;
    const url = msg.location()?.url ?? "";
    // Chrome logs every 4xx as "Failed to load resource"; the response handler judges those.
    if (/Failed to load resource/.test(msg.text()) && url !== "") return;
    t.problems.push(`console error: ${msg.text()} (${url})`);
  });
  page.on("pageerror", (err) => t.problems.push(`page error: ${err}`));
  page.on("requestfailed", (req) => {
    // A download link is cancelled by design, and a page left mid-poll aborts its fetch.
    const reason = req.failure()?.errorText ?? "";
    if (reason === "net::ERR_ABORTED") return;
    t.problems.push(`request failed: ${req.url()} ${reason}`);
  });
  page.on("response", (res) => {
    if (res.status() >= 400 && !t.allow(res.url(), res.status())) {
      t.problems.push(`HTTP ${res.status()} for ${res.url()}`);
    }
  });
  return t;
}

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

async function axe(page: Page): Promise<AxeViolation[]> {
  const loaded = await page.evaluate(() => "axe" in globalThis);
  if (!loaded) await page.evaluate(AXE_SOURCE);
  const found = await page.evaluate(async () => {
    // deno-lint-ignore no-explicit-any
    const result = await (globalThis as any).axe.run(document, {
      resultTypes: ["violations"],
    });
    return result.violations.map((v: AxeViolation) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => ({ target: n.target })),
    }));
  }) as AxeViolation[];
  return found.filter((v) => v.impact === "serious" || v.impact === "critical");
}

/** Waits until the page's main content holds `text`. */
async function waitText(page: Page, text: string): Promise<void> {
  await page.waitForFunction(
    (t: string) => document.querySelector("main")?.textContent?.includes(t),
    { timeout: WAIT_MS },
    text,
  );
}

/** Axe, then a screenshot at each size, for the page showing now. */
async function inspect(page: Page, name: string, role: string): Promise<void> {
  const serious = await axe(page);
  assert.deepEqual(
    serious,
    [],
    `axe-core on ${name} (${role}): ${JSON.stringify(serious, null, 1)}`,
  );
  for (const size of SIZES) {
    await page.setViewport({ width: size.width, height: size.height });
    await page.evaluate(() => scrollTo(0, 0));
    await new Promise((r) => setTimeout(r, 150));
    await page.screenshot({
      path: `${SHOTS}/${role}-${name}-${size.name}.png`,
      fullPage: false,
    });
  }
  await page.setViewport({ width: 1280, height: 800 });
}

async function login(
  context: BrowserContext,
  base: string,
  name: string,
): Promise<{ page: Page; trouble: Trouble }> {
  const page = await context.newPage();
  await page.setViewport({ width: 1280, height: 800 });
  let loggedIn = false;
  const trouble = watch(
    page,
    (url, status) => !loggedIn && status === 401 && url.endsWith("/admin/me"),
  );
  await page.goto(`${base}/_flow-proxy/ui/`, { waitUntil: "load" });
  await page.waitForSelector("form.login-form", { timeout: WAIT_MS });
  await page.type("input[name=name]", name);
  await page.type("input[name=password]", PASSWORD);
  loggedIn = true;
  await page.click("form.login-form button[type=submit]");
  await page.waitForSelector("[data-testid=who]", { timeout: WAIT_MS });
  // The shell moves to the first page the role may see; wait for that before going elsewhere.
  await page.waitForFunction(() => location.hash !== "", { timeout: WAIT_MS });
  return { page, trouble };
}

async function visit(page: Page, route: string, shows: string): Promise<void> {
  await page.evaluate((r: string) => location.hash = `#/${r}`, route);
  await waitText(page, shows);
}

Deno.test("dashboard in chromium: every page, every role, keys made and revoked in the page", async (t) => {
  assertChromium();
  const dir = Deno.makeTempDirSync({ prefix: "flow-proxy-test-" });
  const db = `${dir}/flow-proxy.db`;
  {
    using accounts = openAccounts(db);
    for (
      const [name, role] of [
        ["root", "admin"],
        ["alice", "member"],
        ["bob", "member"],
        ["vera", "viewer"],
        ["otto", "operator"],
      ] as const
    ) {
      await accounts.createUser({ name, role, password: PASSWORD }, CLI);
    }
  }
  await using stack = await startStack({
    dir,
    credentials: 2,
    args: ["--db", db, "--num-workers", "1"],
  });
  const base = stack.proxy.url;
  const admin = (path: string) => `${base}/_flow-proxy/admin/${path}`;

  // A session of root's, through the API, to lay out keys and traffic.
  const res = await fetch(admin("login"), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: "root", password: PASSWORD }),
  });
  assert.equal(res.status, 200);
  const { csrf_token: csrf } = await res.json();
  const cookie = res.headers.get("set-cookie")!.split(";")[0];
  const asRoot = async (path: string, init: RequestInit = {}) => {
    const r = await fetch(admin(path), {
      ...init,
      headers: {
        cookie,
        "x-csrf-token": csrf,
        "content-type": "application/json",
        ...init.headers,
      },
    });
    const body = await r.json();
    assert.ok(r.ok, `${path}: ${r.status} ${JSON.stringify(body)}`);
    return body;
  };
  const chat = async (key: string) => {
    const r = await fetch(`${base}/v1/chat/completions`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${key}`,
      },
      body: JSON.stringify({
        model: "gpt-4o",
        messages: [{ role: "user", content: "hi" }],
      }),
    });
    await r.body?.cancel();
    return { status: r.status, id: r.headers.get("x-request-id") };
  };
  const keys: Record<string, string> = {};
  for (const [name, owner] of [["alice-key", "alice"], ["bob-key", "bob"]]) {
    keys[name] = (await asRoot("keys", {
      method: "POST",
      body: JSON.stringify({ name, owner }),
    })).key;
  }
  // The overview samples the shared metrics every 5 s from its first request on.
  await asRoot("overview");
  const ids: string[] = [];
  for (let i = 0; i < SENT; i++) {
    const { status, id } = await chat(
      i < ALICE ? keys["alice-key"] : keys["bob-key"],
    );
    assert.equal(status, 200);
    ids.push(id!);
  }
  // The request log is written in batches: wait until it holds all eight.
  let logged = 0;
  for (let i = 0; i < 100 && logged < SENT; i++) {
    logged = (await asRoot("requests?limit=500")).items.length;
    if (logged < SENT) await new Promise((r) => setTimeout(r, 200));
  }
  assert.equal(logged, SENT, "the request log never held every request");
  const credNames = stack.creds.map((c) => c.name);

  const browser = await launch();
  try {
    await t.step("an admin sees real data on every page", async () => {
      const context = await browser.createBrowserContext();
      const { page, trouble } = await login(context, base, "root");
      // Everything the admin API sends the page, to look for secrets in it afterwards.
      const bodies: Promise<string>[] = [];
      page.on("response", (r) => {
        if (r.url().includes("/_flow-proxy/admin/") && r.status() !== 304) {
          bodies.push(r.text().catch(() => ""));
        }
      });
      // Keyboard: the first Tab reaches the skip link, drawn with a visible focus ring.
      await page.keyboard.press("Tab");
      const focused = await page.evaluate(() => {
        const el = document.activeElement as HTMLElement;
        return {
          cls: el.className,
          outline: getComputedStyle(el).outlineStyle,
        };
      });
      assert.deepEqual(focused, { cls: "skip", outline: "solid" });
      await page.keyboard.press("Enter");
      assert.equal(
        await page.evaluate(() => document.activeElement?.id),
        "main",
      );
      await visit(page, "overview", credNames[0]);
      for (const name of credNames) await waitText(page, name);
      // Two samples draw a line: the charts show the traffic above.
      await page.waitForFunction(
        () =>
          Number(
            document.querySelector("[data-samples]")?.getAttribute(
              "data-samples",
            ),
          ) >= 2,
        { timeout: WAIT_MS },
      );
      await inspect(page, "overview", "admin");
      await page.emulateMediaFeatures([
        { name: "prefers-color-scheme", value: "dark" },
      ]);
      await inspect(page, "overview-dark", "admin");
      await page.emulateMediaFeatures([
        { name: "prefers-color-scheme", value: "light" },
      ]);
      await visit(page, "credentials", credNames[1]);
      assert.ok(
        await page.$("button[aria-label^='Probe']"),
        "an admin has Probe now",
      );
      await inspect(page, "credentials", "admin");
      await page.click("button[aria-label^='Probe']");
      await waitText(page, "Probe of cred-1 started");
      await visit(page, "keys", "bob-key");
      await waitText(page, "alice-key");
      await inspect(page, "keys", "admin");
      await visit(page, "requests", ids[SENT - 1]);
      const rows = () => page.$$eval("main tbody tr", (r) => r.length);
      assert.equal(await rows(), PAGE);
      // Older: the second page (cursor from the first), then back.
      await page.click("nav.pager button:last-child");
      await waitText(page, ids[0]);
      assert.equal(await rows(), SENT - PAGE);
      await page.waitForSelector("nav.pager button:last-child:disabled");
      await page.click("nav.pager button:first-child");
      await waitText(page, ids[SENT - 1]);
      assert.equal(await rows(), PAGE);
      await inspect(page, "requests", "admin");
      // The CSV export link answers the same rows, with the session's cookie.
      const csv = await page.evaluate(async () => {
        const href = document.querySelector("a[download]")!.getAttribute(
          "href",
        )!;
        const r = await fetch(href);
        return { type: r.headers.get("content-type"), text: await r.text() };
      });
      assert.match(csv.type ?? "", /^text\/csv/);
      assert.equal(csv.text.trim().split(/\r?\n/).length, 1 + SENT);
      assert.ok(csv.text.includes(ids[SENT - 1]));
      // Find one by id with the search box.
      await page.type("form[role=search] input", ids[2]);
      await page.click("form[role=search] button[type=submit]");
      await page.waitForSelector("[data-testid=request-detail]", {
        timeout: WAIT_MS,
      });
      await waitText(page, "alice-key");
      const detail = await page.$eval(
        "[data-testid=request-detail]",
        (e) => e.textContent ?? "",
      );
      assert.ok(detail.includes(ids[2]), detail);
      await inspect(page, "request-detail", "admin");
      await visit(page, "usage", "Tokens per day");
      const usage = await page.$eval(
        "[data-testid=usage-requests]",
        (e) => e.textContent ?? "",
      );
      assert.equal(Number(usage.replace(/\D/g, "")), logged);
      await inspect(page, "usage", "admin");
      await visit(page, "users", "vera");
      await page.type("form[aria-label='Create a team'] input", "red");
      await page.click("form[aria-label='Create a team'] button[type=submit]");
      await waitText(page, "Team red created.");
      await inspect(page, "users", "admin");
      // Users: create one, change its role, disable it, reset its password, delete it.
      page.on("dialog", (d) => d.accept());
      await page.click("details.panel summary");
      const create = "form[aria-label='Create a user']";
      const [userName, password] = await page.$$(`${create} input`);
      await userName.type("temp");
      await password.type(PASSWORD);
      await page.click(`${create} button[type=submit]`);
      await waitText(page, "User temp created.");
      await page.waitForSelector("#role-temp", { timeout: WAIT_MS });
      await page.select("#role-temp", "viewer");
      const row = "xpath///tr[td[1][text()='temp']]";
      await page.click(`${row}//button[text()='Set role']`);
      await waitText(page, "Role of temp is now viewer.");
      await page.click(`${row}//button[text()='Disable']`);
      await waitText(page, "User temp disabled.");
      await page.type("#pw-temp", `${PASSWORD} again`);
      await page.click(`${row}//button[text()='Reset password']`);
      await waitText(page, "Password of temp reset.");
      const users = (await asRoot("users")).data;
      const temp = users.find((u: { name: string }) => u.name === "temp");
      assert.deepEqual([temp.role, temp.status], ["viewer", "disabled"]);
      await page.click(`${row}//button[text()='Delete']`);
      await waitText(page, "User temp deleted.");
      assert.ok(
        !(await asRoot("users")).data.some((u: { name: string }) =>
          u.name === "temp"
        ),
      );
      await visit(page, "audit", "key.create");
      await inspect(page, "audit", "admin");
      await visit(page, "about", "Configuration");
      await waitText(page, "--port");
      await inspect(page, "about", "admin");
      assert.deepEqual(trouble.problems, []);
      // No clientSecret, client key, password, hash or JWT ever reached the page.
      const seen = (await Promise.all(bodies)).join("\n");
      assert.ok(seen.includes(credNames[0]), "the page read the API");
      for (const c of stack.creds) assert.ok(!seen.includes(c.clientSecret));
      for (const k of Object.values(keys)) assert.ok(!seen.includes(k));
      assert.ok(!seen.includes(PASSWORD));
      assert.doesNotMatch(seen, /"[a-z_]*hash"|eyJ[\w-]{10,}\./);
      await context.close();
    });

    await t.step(
      "a key created in the page works, and revoked there stops working",
      async () => {
        const context = await browser.createBrowserContext();
        const { page, trouble } = await login(context, base, "root");
        page.on("dialog", (d) => d.accept());
        await visit(page, "keys", "alice-key");
        await page.click("details.panel summary");
        const name = await page.$(
          "form[aria-label='Create a key'] input[required]",
        );
        await name!.type("ui-key");
        await page.click("form[aria-label='Create a key'] button[type=submit]");
        await page.waitForSelector("#new-key", { timeout: WAIT_MS });
        const key = await page.$eval(
          "#new-key",
          (e) => (e as HTMLInputElement).value,
        );
        assert.match(key, /^\S{20,}$/);
        await inspect(page, "key-created", "admin");
        assert.equal((await chat(key)).status, 200);
        // Edit the key's limits (PATCH) and budget (PUT), then see both in the list.
        await page.click("button[aria-label='Edit ui-key']");
        const limits = "form[aria-label='Limits of ui-key']";
        await page.waitForSelector(limits, { timeout: WAIT_MS });
        await page.type(`${limits} input[type=number]`, "42");
        await page.click(`${limits} button[type=submit]`);
        await waitText(page, "Limits saved.");
        const budget = "form[aria-label='Budget of ui-key']";
        const [tokens] = await page.$$(`${budget} input`);
        await tokens.type("5000");
        await page.click(`${budget} button[type=submit]`);
        await waitText(page, "Budget saved.");
        const listed = await asRoot("keys");
        const edited = listed.data.find((k: { name: string }) =>
          k.name === "ui-key"
        );
        assert.equal(edited.rpm, 42);
        assert.equal(edited.budget.tokens, 5000);
        await page.waitForFunction(
          () =>
            document.querySelector("tr[data-key='ui-key']")?.textContent
              ?.includes("5,000 tokens"),
          { timeout: WAIT_MS },
        );
        await page.click("button[aria-label='Revoke ui-key']");
        await waitText(page, "Key ui-key revoked.");
        let status = 0;
        for (let i = 0; i < 50 && status !== 401; i++) {
          status = (await chat(key)).status;
          if (status !== 401) await new Promise((r) => setTimeout(r, 200));
        }
        assert.equal(status, 401);
        assert.deepEqual(trouble.problems, []);
        await context.close();
      },
    );

    await t.step("a member sees only its own keys and requests", async () => {
      const context = await browser.createBrowserContext();
      const { page, trouble } = await login(context, base, "alice");
      const nav = await page.$$eval(
        "nav a",
        (a) => a.map((e) => e.textContent),
      );
      assert.deepEqual(nav, ["Keys", "Requests", "Usage"]);
      await visit(page, "keys", "alice-key");
      const text = await page.$eval("main", (e) => e.textContent ?? "");
      assert.ok(!text.includes("bob-key"), "alice sees bob's key");
      await inspect(page, "keys", "member");
      await visit(page, "requests", ids[ALICE - 1]);
      const rows = await page.$$eval("main tbody tr", (r) => r.length);
      assert.equal(rows, Math.min(ALICE, PAGE));
      // Times are the browser's local time: the same row in Tokyo time, not UTC.
      const newest = (await asRoot("requests?limit=1&key=alice-key")).items[0];
      await page.emulateTimezone("Asia/Tokyo");
      await visit(page, "usage", "Usage");
      await visit(page, "requests", ids[ALICE - 1]);
      const shown = await page.$eval("main tbody tr td", (e) => e.textContent);
      const [tokyo, utc] = await page.evaluate((iso: string) => [
        new Date(iso).toLocaleString(),
        new Date(iso).toLocaleString(undefined, { timeZone: "UTC" }),
      ], newest.time);
      assert.equal(shown, tokyo);
      assert.notEqual(shown, utc);
      const log = await page.$eval("main", (e) => e.textContent ?? "");
      assert.ok(
        !ids.slice(ALICE).some((id) => log.includes(id)),
        "alice sees bob's requests",
      );
      await inspect(page, "requests", "member");
      await visit(page, "usage", "Usage");
      await page.waitForSelector("[data-testid=usage-requests]", {
        timeout: WAIT_MS,
      });
      await inspect(page, "usage", "member");
      assert.deepEqual(trouble.problems, []);
      await context.close();
    });

    await t.step(
      "an operator sees teams but not users or the audit log",
      async () => {
        const context = await browser.createBrowserContext();
        const { page, trouble } = await login(context, base, "otto");
        const nav = await page.$$eval(
          "nav a",
          (a) => a.map((e) => e.textContent),
        );
        assert.deepEqual(nav, [
          "Overview",
          "Credentials",
          "Keys",
          "Requests",
          "Usage",
          "Users & teams",
          "About",
        ]);
        await visit(page, "users", "red");
        const text = await page.$eval("main", (e) => e.textContent ?? "");
        assert.ok(!text.includes("vera"), "an operator sees the users");
        assert.equal(await page.$("main button"), null);
        await inspect(page, "users", "operator");
        assert.deepEqual(trouble.problems, []);
        await context.close();
      },
    );

    await t.step(
      "a viewer sees no control that changes anything, and the API refuses one",
      async () => {
        const context = await browser.createBrowserContext();
        const { page, trouble } = await login(context, base, "vera");
        const nav = await page.$$eval(
          "nav a",
          (a) => a.map((e) => e.textContent),
        );
        assert.deepEqual(nav, ["Overview", "Credentials", "Usage", "About"]);
        for (
          const [route, shows] of [
            ["overview", credNames[0]],
            ["credentials", credNames[0]],
            ["usage", "Tokens per day"],
            ["about", "Configuration"],
          ]
        ) {
          await visit(page, route, shows);
          const buttons = await page.$$eval(
            "main button, main form",
            (b) => b.map((e) => e.textContent?.trim() ?? e.tagName),
          );
          assert.deepEqual(buttons, [], `${route} shows ${buttons}`);
          await inspect(page, route, "viewer");
        }
        // The API refuses a mutation with the viewer's own session and CSRF token.
        const refused = await page.evaluate(async () => {
          const me = await (await fetch("/_flow-proxy/admin/me")).json();
          const r = await fetch("/_flow-proxy/admin/keys", {
            method: "POST",
            headers: {
              "content-type": "application/json",
              "x-csrf-token": me.csrf_token,
            },
            body: JSON.stringify({ name: "sneaky" }),
          });
          return r.status;
        });
        assert.equal(refused, 403);
        assert.deepEqual(
          trouble.problems.filter((p) => !/403 for .*\/admin\/keys$/.test(p)),
          [],
        );
        await context.close();
      },
    );
  } finally {
    await browser.close();
    // deno-lint-ignore no-console
    console.log(`Screenshots in ${SHOTS}`);
  }
});

Deno.test("dashboard in chromium: without an admin API the page says it is off", async () => {
  assertChromium();
  await using stack = await startStack({ args: ["--no-db"] });
  const browser = await launch();
  try {
    const page = await browser.newPage();
    const trouble = watch(
      page,
      (url, status) => status === 404 && url.endsWith("/admin/me"),
    );
    await page.goto(`${stack.proxy.url}/_flow-proxy/ui/`, {
      waitUntil: "load",
    });
    await waitText(page, "The admin API is off on this server");
    assert.deepEqual(await axe(page), []);
    await page.screenshot({ path: `${SHOTS}/admin-api-off-desktop.png` });
    assert.deepEqual(trouble.problems, []);
  } finally {
    await browser.close();
  }
});
