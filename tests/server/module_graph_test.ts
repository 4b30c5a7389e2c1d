/**
 * What the isolates load. Every module an isolate imports stays in its heap
 * for good, and flow-proxy runs one isolate per worker plus the supervisor:
 * the Node.js compatibility layer behind `node:crypto` cost about 2.4 MiB in
 * each (docs/architecture.md, "Memory"), jose is only needed where tokens
 * are signed, and `node:sqlite` only where the database is opened (the store
 * worker): a serving thread verifies client keys in memory.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

interface InfoModule {
  specifier: string;
  dependencies?: { code?: { specifier: string }; isDynamic?: boolean }[];
}

/**
 * Specifiers an entry point loads at run time: `import type` edges are
 * erased, so not followed; `import()` edges only when `dynamic` names the
 * importing module's path (e.g. TLS, which alone needs `node:crypto`).
 */
async function runtimeGraph(
  entry: string,
  dynamic: readonly string[] = [],
): Promise<Set<string>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: ROOT,
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const info = JSON.parse(new TextDecoder().decode(out.stdout));
  const redirects: Record<string, string> = info.redirects;
  const modules = new Map<string, InfoModule>(
    info.modules.map((m: InfoModule) => [m.specifier, m]),
  );
  const seen = new Set<string>();
  const stack = info.roots.map((r: string) => redirects[r] ?? r);
  while (stack.length > 0) {
    const specifier = stack.pop()!;
    if (seen.has(specifier)) continue;
    seen.add(specifier);
    const follow = dynamic.some((path) => specifier.endsWith(path));
    for (const dep of modules.get(specifier)?.dependencies ?? []) {
      if (dep.code && (!dep.isDynamic || follow)) {
        stack.push(redirects[dep.code.specifier] ?? dep.code.specifier);
      }
    }
  }
  return seen;
}

const HEAVY = ["node:crypto", "node:buffer", "node:stream"];

Deno.test("a worker loads neither node:crypto nor jose", async () => {
  const graph = await runtimeGraph("src/server/worker.ts");
  assert.ok(graph.has("npm:/@logtape/logtape@2.4.2"), [...graph].join("\n"));
  for (const name of [...HEAVY, "npm:/jose@6.2.17"]) {
    assert.ok(!graph.has(name), `src/server/worker.ts loads ${name}`);
  }
});

Deno.test("the supervisor loads no node:crypto", async () => {
  const graph = await runtimeGraph("main.ts");
  assert.ok(graph.has("npm:/jose@6.2.17"), [...graph].join("\n"));
  for (const name of HEAVY) {
    assert.ok(!graph.has(name), `main.ts loads ${name}`);
  }
});

Deno.test("the supervisor loads node:crypto only for TLS, by import()", async () => {
  const graph = await runtimeGraph("main.ts", ["src/server/tls.ts"]);
  assert.ok(graph.has("node:crypto"), "tls.ts imports tls_x509.ts");
  const worker = await runtimeGraph("src/server/worker.ts", [
    "src/server/tls.ts",
  ]);
  assert.ok(!worker.has("node:crypto"), "a worker never loads tls.ts");
});

Deno.test("a worker does not load node:sqlite; the store worker does", async () => {
  const worker = await runtimeGraph("src/server/worker.ts");
  assert.ok(
    !worker.has("node:sqlite"),
    "src/server/worker.ts loads node:sqlite",
  );
  const store = await runtimeGraph("src/server/store_worker.ts");
  assert.ok(store.has("node:sqlite"), [...store].join("\n"));
});

Deno.test("the ACME client is loaded by the supervisor only, by import(), and never by a worker", async () => {
  const client = "npm:/acme-client@5.4.0";
  assert.ok(!(await runtimeGraph("main.ts")).has(client), "main.ts loads it");
  const acme = await runtimeGraph("main.ts", ["src/cli/serve.ts"]);
  assert.ok(acme.has(client), "serve.ts imports acme/manager.ts");
  const worker = await runtimeGraph("src/server/worker.ts", [
    "src/server/tls.ts",
  ]);
  assert.ok(!worker.has(client), "a worker loads acme-client");
});

Deno.test("Redis code (src/cluster/, ioredis) is loaded only with --redis-url, by import()", async () => {
  const client = "npm:/ioredis@5.9.3";
  for (const entry of ["main.ts", "src/server/worker.ts"]) {
    const graph = await runtimeGraph(entry);
    assert.ok(!graph.has(client), `${entry} loads ioredis`);
    for (const specifier of graph) {
      assert.ok(
        !specifier.includes("/src/cluster/"),
        `${entry} loads ${specifier}`,
      );
    }
  }
  const joined = await runtimeGraph("src/server/worker.ts", [
    "src/server/cluster_join.ts",
  ]);
  assert.ok(
    joined.has(client),
    "cluster_join.ts imports src/cluster/cluster.ts",
  );
});
