/**
 * Runs scripts/smoke.sh, the release job's end-to-end check, against this
 * checkout, so the script is known to work before a tag needs it.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { readCompilePlan } from "../scripts/compile_all.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

async function smoke(
  flowProxy: string,
): Promise<{ code: number; output: string }> {
  const { code, stdout, stderr } = await new Deno.Command("sh", {
    args: ["scripts/smoke.sh"],
    cwd: ROOT,
    env: { FLOW_PROXY: flowProxy, DENO: Deno.execPath() },
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  return { code, output: decoder.decode(stdout) + decoder.decode(stderr) };
}

Deno.test("scripts/smoke.sh passes against the program", async (t) => {
  await t.step("deno run -A main.ts", async () => {
    const { code, output } = await smoke(`${Deno.execPath()} run -A main.ts`);
    assert.equal(code, 0, output);
    assert.match(output, /smoke: all checks passed/);
    // The backup and request-log checks only run with sqlite3: here they must.
    assert.match(
      output,
      /ok - sqlite3 \.backup/,
      "sqlite3 is not installed: apt-get install sqlite3",
    );
    assert.match(output, /ok - the request log holds every proxied request/);
  });

  await t.step(
    "with exactly the permissions, unstable and V8 flags the compiled binary gets",
    async () => {
      // `deno compile` cannot run here; `deno run` with the same flags is the
      // closest check that the binary is not short of a permission.
      const { flags } = readCompilePlan();
      const runFlags = flags.filter((f) =>
        /^--(allow-|deny-|unstable-|v8-|lock=|frozen)/.test(f)
      );
      assert.ok(
        !runFlags.includes("-A") &&
          runFlags.some((f) => f.startsWith("--allow-net")),
      );
      const { code, output } = await smoke(
        `${Deno.execPath()} run ${runFlags.join(" ")} main.ts`,
      );
      assert.equal(code, 0, output);
      assert.match(output, /smoke: all checks passed/);
    },
  );
});

Deno.test("scripts/smoke.sh fails when the program misbehaves", async () => {
  // A stand-in whose `check-secrets` accepts everything: the smoke test must notice.
  const fake = await Deno.makeTempFile({
    prefix: "flow_proxy_fake_",
    suffix: ".sh",
  });
  try {
    await Deno.writeTextFile(
      fake,
      'case $1 in --version) echo "flow-proxy 0.0.0" ;; *) exit 0 ;; esac\n',
    );
    const { code, output } = await smoke(`sh ${fake}`);
    assert.equal(code, 1);
    assert.match(
      output,
      /smoke: FAILED: check-secrets on a bad file exited with 0, expected 1/,
    );
  } finally {
    await Deno.remove(fake);
  }
});
