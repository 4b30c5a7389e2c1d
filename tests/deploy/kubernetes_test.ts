/**
 * deploy/kubernetes/ without a cluster: every manifest parses, the required
 * kinds are there and agree with each other (labels, names, ports), the pods
 * are probed on /healthz, drained before they stop, run non-root on a
 * read-only root filesystem, and are configured with real flow-proxy
 * variables; the Secret holds placeholders only.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { SERVE_OPTIONS } from "../../src/config/serve_options.ts";
import { parseDuration } from "../../src/base/time_grammar.ts";

const DIR = fileURLToPath(new URL("../../deploy/kubernetes/", import.meta.url));

// deno-lint-ignore no-explicit-any
type Manifest = Record<string, any>;

function manifests(): Map<string, Manifest> {
  const byKind = new Map<string, Manifest>();
  const kustomization = parse(
    Deno.readTextFileSync(join(DIR, "kustomization.yaml")),
  ) as { resources: string[] };
  const files = [...Deno.readDirSync(DIR)].map((e) => e.name).filter((n) =>
    n.endsWith(".yaml") && n !== "kustomization.yaml"
  ).sort();
  assert.deepEqual([...kustomization.resources].sort(), files);
  for (const file of files) {
    const doc = parse(Deno.readTextFileSync(join(DIR, file))) as Manifest;
    assert.ok(doc.apiVersion && doc.kind && doc.metadata?.name, file);
    assert.ok(!byKind.has(doc.kind), `two ${doc.kind} manifests`);
    byKind.set(doc.kind, doc);
  }
  return byKind;
}

Deno.test("deploy/kubernetes has every required kind, and they select the same pods", () => {
  const m = manifests();
  assert.deepEqual([...m.keys()].sort(), [
    "ConfigMap",
    "Deployment",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "Secret",
    "Service",
  ]);
  const deployment = m.get("Deployment")!;
  const labels = deployment.spec.template.metadata.labels;
  assert.deepEqual(deployment.spec.selector.matchLabels, labels);
  assert.deepEqual(m.get("Service")!.spec.selector, labels);
  assert.deepEqual(
    m.get("PodDisruptionBudget")!.spec.selector.matchLabels,
    labels,
  );
  const hpa = m.get("HorizontalPodAutoscaler")!;
  assert.equal(hpa.spec.scaleTargetRef.kind, "Deployment");
  assert.equal(hpa.spec.scaleTargetRef.name, deployment.metadata.name);
  assert.ok(
    hpa.spec.minReplicas >= 3 && hpa.spec.maxReplicas >= hpa.spec.minReplicas,
  );
  assert.equal(deployment.spec.replicas, 3);
  const container = deployment.spec.template.spec.containers[0];
  assert.equal(
    m.get("Service")!.spec.ports[0].targetPort,
    container.ports[0].name,
  );
  assert.equal(
    container.envFrom[0].configMapRef.name,
    m.get("ConfigMap")!.metadata.name,
  );
});

Deno.test("deploy/kubernetes pods: /healthz probes, a preStop drain within the grace period, non-root and read-only", () => {
  const m = manifests();
  const pod = m.get("Deployment")!.spec.template.spec;
  const container = pod.containers[0];
  for (const probe of ["readinessProbe", "livenessProbe"]) {
    assert.equal(container[probe].httpGet.path, "/healthz", probe);
    assert.equal(container[probe].httpGet.port, container.ports[0].name, probe);
  }
  const sleep = container.lifecycle.preStop.sleep.seconds;
  assert.ok(sleep >= 5, `preStop sleeps ${sleep} s`);
  // The grace period covers the sleep and flow-proxy's own drain and wait.
  const shutdown = parseDuration(
    m.get("ConfigMap")!.data.FLOW_PROXY_SHUTDOWN_TIMEOUT,
  )! / 1000;
  assert.ok(
    pod.terminationGracePeriodSeconds > sleep + shutdown,
    `${pod.terminationGracePeriodSeconds} s ≤ ${sleep} + ${shutdown} s`,
  );
  assert.equal(pod.securityContext.runAsNonRoot, true);
  assert.equal(pod.securityContext.runAsUser, 65532);
  assert.equal(container.securityContext.readOnlyRootFilesystem, true);
  assert.equal(container.securityContext.allowPrivilegeEscalation, false);
  assert.deepEqual(container.securityContext.capabilities.drop, ["ALL"]);
  // Writable places are volumes: the database and /tmp.
  const mounts = new Map<string, string>(
    container.volumeMounts.map((v: Manifest) => [v.mountPath, v.name]),
  );
  const dbDir = m.get("ConfigMap")!.data.FLOW_PROXY_DB.replace(/\/[^/]+$/, "");
  assert.ok(mounts.has(dbDir), `no volume at ${dbDir}`);
  assert.ok(mounts.has("/tmp"));
  const secretsFile = m.get("ConfigMap")!.data.FLOW_PROXY_SECRETS_FILE;
  const secretsDir = secretsFile.replace(/\/[^/]+$/, "");
  const volume = pod.volumes.find((v: Manifest) =>
    v.name === mounts.get(secretsDir)
  );
  assert.equal(volume.secret.secretName, m.get("Secret")!.metadata.name);
  assert.equal(volume.secret.items[0].path, secretsFile.split("/").pop());
});

Deno.test("deploy/kubernetes configures real flow-proxy variables, secrets only as placeholders", () => {
  const m = manifests();
  const known = new Set(
    SERVE_OPTIONS.flatMap((o) => o.env ? [o.env] : []).concat([
      "FLOW_PROXY_CLICKHOUSE_USER",
      "FLOW_PROXY_CLICKHOUSE_PASSWORD",
    ]),
  );
  const config = m.get("ConfigMap")!.data as Record<string, string>;
  for (const name of Object.keys(config)) {
    assert.ok(
      known.has(name),
      `ConfigMap: ${name} is not a flow-proxy variable`,
    );
  }
  assert.equal(config.FLOW_PROXY_HOST, "0.0.0.0");
  assert.ok(config.FLOW_PROXY_CLICKHOUSE_URL);
  const secret = m.get("Secret")!.stringData as Record<string, string>;
  const container = m.get("Deployment")!.spec.template.spec.containers[0];
  for (const env of container.env) {
    assert.ok(known.has(env.name), `${env.name} is not a flow-proxy variable`);
    const ref = env.valueFrom.secretKeyRef;
    assert.equal(ref.name, m.get("Secret")!.metadata.name);
    assert.ok(ref.key in secret, `Secret lacks ${ref.key}`);
  }
  assert.ok(
    container.env.some((e: Manifest) => e.name === "FLOW_PROXY_REDIS_URL"),
  );
  for (const [key, value] of Object.entries(secret)) {
    assert.match(value, /PLACEHOLDER/, `Secret ${key} is not a placeholder`);
  }
  const entries = JSON.parse(secret["secrets.json"]);
  assert.ok(Array.isArray(entries) && entries[0].clientSecret);
});
