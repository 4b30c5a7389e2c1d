/**
 * deploy/systemd/acme.conf, the ACME drop-in: systemd accepts it on top of
 * the shipped unit, it keeps the state in the unit's StateDirectory= and
 * grants one capability only.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const UNIT = join(ROOT, "deploy/systemd/flow-proxy.service");
const DROP_IN = join(ROOT, "deploy/systemd/acme.conf");
const EXEC_START = "ExecStart=/usr/local/bin/flow-proxy serve";

function hasSystemdAnalyze(): boolean {
  try {
    return new Deno.Command("systemd-analyze", { args: ["--version"] })
      .outputSync().success;
  } catch {
    return false;
  }
}

Deno.test({
  name: "the ACME drop-in passes systemd-analyze verify on the shipped unit",
  ignore: !hasSystemdAnalyze(),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "flow_proxy_acme_unit_" });
    try {
      const unit = (await Deno.readTextFile(UNIT))
        .replace(EXEC_START, `ExecStart=${Deno.execPath()} serve`);
      const path = join(dir, "flow-proxy.service");
      await Deno.writeTextFile(
        path,
        `${unit}\n${await Deno.readTextFile(DROP_IN)}`,
      );
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
  },
});

Deno.test("the ACME drop-in names the domain, ports 443 and 80, and adds only CAP_NET_BIND_SERVICE", async () => {
  const lines = (await Deno.readTextFile(DROP_IN)).split("\n")
    .filter((line) => line !== "" && !line.startsWith("#"));
  assert.ok(
    lines.some((l) => l.startsWith("Environment=FLOW_PROXY_ACME_DOMAIN=")),
  );
  assert.ok(lines.includes("Environment=FLOW_PROXY_PORT=443"));
  assert.ok(lines.includes("Environment=FLOW_PROXY_ACME_HTTP_PORT=80"));
  assert.deepEqual(lines.filter((line) => /Capabilit/.test(line)), [
    "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
    "AmbientCapabilities=CAP_NET_BIND_SERVICE",
  ]);
  assert.ok(!lines.some((line) => /^(DynamicUser|StateDirectory)=/.test(line)));
  const unit = await Deno.readTextFile(UNIT);
  assert.match(unit, /^DynamicUser=yes$/m);
  assert.match(unit, /^StateDirectory=flow-proxy$/m);
});
