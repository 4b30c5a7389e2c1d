import assert from "node:assert/strict";
import { signCredentials } from "../../src/upstream/jwt.ts";
import { resolveSettings } from "../../src/config/settings.ts";
import { getLog } from "../../src/base/logging.ts";
import { metricsObserver, startRuntime } from "../../src/server/runtime.ts";
import { Metrics } from "../../src/observe/metrics.ts";
import { validateModelsConfig } from "../../src/models/config_file.ts";
import { CONTROL, createSharedState } from "../../src/base/shared_state.ts";
import { freePort, testCredentials } from "../support/proxy.ts";

Deno.test("startRuntime: /healthz answers 503 until every worker listens", async () => {
  const port = freePort();
  const parsed = resolveSettings([
    "--port",
    String(port),
    "--no-threaded",
    "--no-db",
    "--upstream",
    "http://127.0.0.1:9/flow-llm-proxy",
  ], { env: {} });
  assert.ok(!parsed.help);
  const state = createSharedState();
  const runtime = await startRuntime({
    settings: parsed.settings,
    state,
    credentials: await signCredentials(
      testCredentials(2).map((c, index) => ({ ...c, index })),
    ),
    secretsGeneration: 1,
    workersExpected: 2,
    logger: getLog("runtime-test"),
    onRecord: () => {},
  });
  try {
    const health = async () => {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      return { status: res.status, body: await res.json() };
    };
    // This thread listens; the second worker does not yet.
    const starting = await health();
    assert.equal(starting.status, 503);
    assert.equal(starting.body.status, "starting");
    assert.deepEqual(starting.body.workers, { ready: 1, expected: 2 });

    Atomics.add(state.control, CONTROL.WORKERS_READY, 1);
    const ready = await health();
    assert.equal(ready.status, 200);
    assert.equal(ready.body.status, "ok");
    assert.equal(ready.body.credentials.usable, 2);
  } finally {
    await runtime.shutdown();
  }
});

Deno.test("metricsObserver counts rewrites and mappings into the shared metrics", () => {
  const state = createSharedState();
  const observer = metricsObserver(new Metrics(state.metrics));
  observer.rewrote?.(["beta", "max_tokens"]);
  observer.mapped?.("builtin:claude-opus-newest");
  const text = new Metrics(state.metrics).render({
    credentials: [],
    workersReady: 1,
    workersExpected: 1,
    version: "test",
  });
  assert.match(text, /^flow_proxy_request_rewrites_total\{kind="beta"\} 1$/m);
  assert.match(
    text,
    /^flow_proxy_request_rewrites_total\{kind="max_tokens"\} 1$/m,
  );
  assert.match(text, /^flow_proxy_model_mappings_total\{rule="builtin"\} 1$/m);
});

Deno.test("startRuntime builds its models state from the configuration and replaces it", async () => {
  const parsed = resolveSettings([
    "--port",
    String(freePort()),
    "--no-threaded",
    "--no-db",
    "--upstream",
    "http://127.0.0.1:9/flow-llm-proxy",
  ], { env: {} });
  assert.ok(!parsed.help);
  const first = validateModelsConfig('{"aliases": {"a": "gpt-5"}}', "m.json");
  const runtime = await startRuntime({
    settings: parsed.settings,
    state: createSharedState(),
    credentials: await signCredentials(
      testCredentials(1).map((c, index) => ({ ...c, index })),
    ),
    secretsGeneration: 1,
    workersExpected: 1,
    logger: getLog("runtime-test"),
    onRecord: () => {},
    models: first.config!,
  });
  try {
    assert.equal(runtime.models.resolve("a", "chat")?.flow, "gpt-5");
    const second = validateModelsConfig(
      '{"aliases": {"a": "gpt-4o"}}',
      "m.json",
    );
    runtime.replaceModels(second.config!);
    assert.equal(runtime.models.resolve("a", "chat")?.flow, "gpt-4o");
  } finally {
    await runtime.shutdown();
  }
});
