/**
 * deploy/systemd/tls.conf, the HTTPS drop-in: systemd accepts it on top of
 * the shipped unit, and it grants one capability only.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const UNIT = join(ROOT, "deploy/systemd/flow-proxy.service");
const DROP_IN = join(ROOT, "deploy/systemd/tls.conf");
const EXEC_START = "ExecStart=/usr/local/bin/flow-proxy serve";

Deno.test("the TLS drop-in passes systemd-analyze verify on the shipped unit", async () => {
  const dir = await Deno.makeTempDir({ prefix: "flow_proxy_tls_unit_" });
  try {
    const unit = (await Deno.readTextFile(UNIT))
      .replace(EXEC_START, `ExecStart=${Deno.execPath()} serve`);
    const dropIn = await Deno.readTextFile(DROP_IN);
    // A drop-in's [Service] lines apply after the unit's, as here.
    const path = join(dir, "flow-proxy.service");
    await Deno.writeTextFile(path, `${unit}\n${dropIn}`);
    const out = await new Deno.Command("systemd-analyze", {
      args: ["verify", path],
      stdin: "null",
      env: { SYSTEMD_COLORS: "0" },
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    assert.equal(stderr, "");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the TLS drop-in loads the pair as credentials and adds only CAP_NET_BIND_SERVICE", async () => {
  const lines = (await Deno.readTextFile(DROP_IN)).split("\n")
    .filter((line) => line !== "" && !line.startsWith("#"));
  assert.ok(lines.includes("LoadCredential=tls.crt:/etc/flow-proxy/tls.crt"));
  assert.ok(lines.includes("LoadCredential=tls.key:/etc/flow-proxy/tls.key"));
  assert.ok(lines.includes("Environment=FLOW_PROXY_TLS_CERT=tls.crt"));
  assert.ok(lines.includes("Environment=FLOW_PROXY_TLS_KEY=tls.key"));
  const capabilities = lines.filter((line) => /Capabilit/.test(line));
  assert.deepEqual(capabilities, [
    "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
    "AmbientCapabilities=CAP_NET_BIND_SERVICE",
  ]);
  assert.ok(!lines.some((line) => line.startsWith("DynamicUser=")));
});
