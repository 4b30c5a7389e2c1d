/**
 * deploy/compose/ without a container engine: the YAML parses and wires what
 * the deployment needs, every file it mounts exists (secrets as their
 * `.example`), the instances' flags are real `serve` flags, nginx accepts its
 * configuration (`nginx -t`) and Prometheus its own (`promtool check config`).
 */
import assert from "node:assert/strict";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { COMPOSE_NGINX, nginxArgs, writeLocalNginx } from "./local_nginx.ts";
import { freePort } from "../support/clickhouse.ts";
import { SERVE_OPTIONS } from "../../src/config/serve_options.ts";

const DIR = fileURLToPath(new URL("../../deploy/compose/", import.meta.url));
const INSTANCES = ["flow-proxy-1", "flow-proxy-2", "flow-proxy-3"];

type Service = {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  secrets?: { source: string; target: string }[];
  "read_only"?: boolean;
  ports?: string[];
};
type Compose = {
  services: Record<string, Service>;
  secrets: Record<string, { file: string }>;
  volumes: Record<string, unknown>;
};

function readCompose(): Compose {
  // Compose reads YAML merge keys (`<<: *flow-proxy`), as `merge` does here.
  return parse(Deno.readTextFileSync(join(DIR, "compose.yaml")), {
    merge: true,
  }) as Compose;
}

async function run(
  command: string,
  args: string[],
  options: { cwd?: string } = {},
): Promise<{ code: number; output: string }> {
  let child;
  try {
    child = new Deno.Command(command, {
      args,
      cwd: options.cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    });
  } catch (err) {
    throw new Error(`Cannot run ${command}`, { cause: err });
  }
  const out = await child.output().catch((err) => {
    throw new Error(
      `Cannot run ${command}: ${err.message} (apt-get install -y ${
        command === "promtool" ? "prometheus" : command
      })`,
      { cause: err },
    );
  });
  const decoder = new TextDecoder();
  return {
    code: out.code,
    output: decoder.decode(out.stdout) + decoder.decode(out.stderr),
  };
}

Deno.test("deploy/compose/compose.yaml: 3 instances behind nginx with Redis, ClickHouse, Prometheus and Grafana", () => {
  const compose = readCompose();
  const names = Object.keys(compose.services).sort();
  assert.deepEqual(
    names,
    [
      ...INSTANCES,
      "clickhouse",
      "grafana",
      "nginx",
      "prometheus",
      "redis",
    ].sort(),
  );
  const serveFlags = new Set(SERVE_OPTIONS.map((o) => `--${o.flag}`));
  serveFlags.add("--env-file");
  const volumes = new Set<string>();
  for (const name of INSTANCES) {
    const s = compose.services[name];
    assert.equal(s.build?.context, "../..", name);
    assert.equal(s.command?.[0], "serve", name);
    const args = s.command!.slice(1);
    const flag = (f: string) => args[args.indexOf(f) + 1];
    assert.equal(flag("--redis-url"), "redis://redis:6379/0", name);
    assert.equal(flag("--clickhouse-url"), "http://clickhouse:8123/", name);
    assert.equal(flag("--env-file"), "/run/secrets/flow-proxy.env", name);
    for (const arg of args.filter((a) => a.startsWith("--"))) {
      assert.ok(serveFlags.has(arg), `${name}: ${arg} is not a serve flag`);
    }
    assert.deepEqual(
      s.secrets?.map((x) => x.target).sort(),
      ["flow-proxy.env", "secrets.json"],
    );
    assert.equal(s["read_only"], true, name);
    const variables = new Set(
      SERVE_OPTIONS.flatMap((o) => o.env ? [o.env] : []).concat([
        "FLOW_PROXY_CLICKHOUSE_USER",
      ]),
    );
    for (const variable of Object.keys(s.environment ?? {})) {
      assert.ok(variables.has(variable), `${name}: ${variable} is unknown`);
    }
    // Each instance has its own database volume (SQLite is per instance).
    const data = s.volumes?.find((v) => v.endsWith(":/data"));
    assert.ok(data, `${name} has no /data volume`);
    volumes.add(data.split(":")[0]);
    // Only nginx is published.
    assert.equal(s.ports, undefined, name);
  }
  assert.equal(volumes.size, 3);
  assert.deepEqual(compose.services.nginx.ports, ["127.0.0.1:8899:8899"]);
  assert.ok(
    compose.services.nginx.volumes?.includes(
      "./nginx.conf:/etc/nginx/nginx.conf:ro",
    ),
  );
  assert.ok(
    compose.services.prometheus.volumes?.includes(
      "../prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro",
    ),
  );
  assert.ok(
    compose.services.grafana.volumes?.includes(
      "../grafana/flow-proxy.json:/var/lib/grafana/dashboards/flow-proxy.json:ro",
    ),
  );
  // Named volumes used are declared.
  for (const s of Object.values(compose.services)) {
    for (const v of s.volumes ?? []) {
      const source = v.split(":")[0];
      if (!source.startsWith(".")) {
        assert.ok(source in compose.volumes, `volume ${source} not declared`);
      }
    }
  }
});

Deno.test("deploy/compose/compose.yaml references only files that exist (secrets: their .example)", () => {
  const compose = readCompose();
  const files: string[] = [];
  for (const s of Object.values(compose.services)) {
    for (const v of s.volumes ?? []) {
      if (v.startsWith(".")) files.push(v.split(":")[0]);
    }
    if (s.build) {
      files.push(s.build.context, join(s.build.context, s.build.dockerfile));
    }
  }
  for (const secret of Object.values(compose.secrets)) files.push(secret.file);
  assert.ok(files.length >= 10, files.join(", "));
  for (const file of files) {
    const path = resolve(DIR, file);
    const inSecrets = dirname(path) === join(DIR, "secrets");
    const shipped = inSecrets ? `${path}.example` : path;
    assert.ok(exists(shipped), `${file}: ${shipped} does not exist`);
    if (inSecrets) {
      // The real file is the operator's: never shipped, and ignored by git.
      assert.ok(!exists(path), `${path} must not be committed`);
    }
  }
  // Every secret the operator fills in is marked as a placeholder.
  for (const entry of Deno.readDirSync(join(DIR, "secrets"))) {
    if (!entry.name.endsWith(".example")) continue;
    const text = Deno.readTextFileSync(join(DIR, "secrets", entry.name));
    assert.match(text, /PLACEHOLDER/, entry.name);
  }
});

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("deploy/compose/nginx.conf passes nginx -t and keeps streams unbuffered", async () => {
  const text = await Deno.readTextFile(COMPOSE_NGINX);
  for (
    const directive of [
      "proxy_buffering off;",
      "proxy_http_version 1.1;",
      "proxy_read_timeout 600s;",
      'proxy_set_header Connection "";',
    ]
  ) {
    assert.ok(text.includes(directive), `nginx.conf lacks ${directive}`);
  }
  for (const name of INSTANCES) {
    assert.ok(text.includes(`server ${name}:8899`), name);
  }
  const prefix = await Deno.makeTempDir({ prefix: "flow-proxy-nginx-t-" });
  try {
    const conf = await writeLocalNginx({
      prefix,
      port: freePort(),
      upstreams: [freePort(), freePort(), freePort()],
    });
    const { code, output } = await run("nginx", [
      "-t",
      ...nginxArgs(prefix, conf),
    ]);
    assert.equal(code, 0, output);
    assert.match(output, /test is successful/);
  } finally {
    await Deno.remove(prefix, { recursive: true });
  }
});

Deno.test("deploy/compose/prometheus.yml passes promtool check config and scrapes all three instances", async () => {
  const config = parse(
    await Deno.readTextFile(join(DIR, "prometheus.yml")),
  ) as {
    rule_files: string[];
    scrape_configs: {
      job_name: string;
      static_configs: { targets: string[] }[];
    }[];
  };
  assert.deepEqual(
    config.scrape_configs[0].static_configs[0].targets,
    INSTANCES.map((n) => `${n}:8899`),
  );
  // Checked where compose mounts it: beside the shipped alert rules.
  const dir = await Deno.makeTempDir({ prefix: "flow-proxy-promtool-" });
  try {
    await Deno.copyFile(
      join(DIR, "prometheus.yml"),
      join(dir, "prometheus.yml"),
    );
    await Deno.copyFile(
      join(DIR, "../prometheus/alerts.yml"),
      join(dir, config.rule_files[0]),
    );
    const { code, output } = await run("promtool", [
      "check",
      "config",
      join(dir, "prometheus.yml"),
    ]);
    assert.equal(code, 0, output);
    assert.match(output, /SUCCESS: 1 rule files found/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deploy/compose/grafana provisions the Prometheus data source and the shipped dashboard", () => {
  const sources = parse(
    Deno.readTextFileSync(join(DIR, "grafana/datasources/prometheus.yaml")),
  ) as { datasources: { type: string; url: string }[] };
  assert.equal(sources.datasources[0].type, "prometheus");
  assert.equal(sources.datasources[0].url, "http://prometheus:9090");
  const dashboards = parse(
    Deno.readTextFileSync(join(DIR, "grafana/dashboards/flow-proxy.yaml")),
  ) as { providers: { options: { path: string } }[] };
  const path = dashboards.providers[0].options.path;
  const compose = readCompose();
  assert.ok(
    compose.services.grafana.volumes?.some((v) =>
      v.split(":")[1] === `${path}/flow-proxy.json`
    ),
    `no dashboard mounted under ${path}`,
  );
});
