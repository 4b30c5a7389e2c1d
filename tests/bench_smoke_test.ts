/**
 * The benchmark runs end to end on a tiny load. No timing is asserted: only
 * that every target was measured and answered correctly.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const REPO = fileURLToPath(new URL("../", import.meta.url));
const TARGETS = [
  "direct to upstream",
  "nginx `proxy_pass`, keepalive",
  "bare Deno proxy, 1 isolate",
  "bare Deno proxy + contract minimum, 1 isolate",
  "bare Deno proxy, 2 workers + Atomics + JWT",
  "bare Deno proxy + contract minimum, 2 workers",
  "flow-proxy, 1 worker",
  "flow-proxy, 2 workers",
];

/** The rows of the first markdown table under `heading`. */
function tableRows(report: string, heading: string): string[][] {
  const start = report.indexOf(heading);
  assert.ok(start >= 0, `Report has no "${heading}" section:\n${report}`);
  const lines = report.slice(start).split("\n");
  const first = lines.findIndex((l) => l.startsWith("|"));
  const rows: string[][] = [];
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith("|")) break;
    rows.push(line.slice(1, -1).split(" | ").map((c) => c.trim()));
  }
  return rows;
}

function findTool(name: string): boolean {
  const dirs = (Deno.env.get("PATH") ?? "").split(":").concat(["/usr/sbin"]);
  return dirs.some((dir) => {
    try {
      return Deno.statSync(`${dir}/${name}`).isFile;
    } catch {
      return false;
    }
  });
}

Deno.test("bench/run.ts --quick measures every target end to end", async () => {
  const missing = ["wrk", "nginx"].filter((t) => !findTool(t));
  assert.deepEqual(
    missing,
    [],
    `The benchmark smoke test needs wrk and nginx: apt-get install ${
      missing.join(" ")
    }`,
  );
  const results = await Deno.makeTempDir({ prefix: "bench-smoke-" });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "bench/run.ts",
        "--quick",
        "--no-install",
        "--sse-requests",
        "5",
        "--results-dir",
        results,
      ],
      cwd: REPO,
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(300_000),
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, `bench/run.ts failed:\n${stdout}\n${stderr}`);

    const files = [...Deno.readDirSync(results)].map((e) => e.name);
    assert.equal(files.length, 1, `Expected one report, got ${files}`);
    const report = Deno.readTextFileSync(`${results}/${files[0]}`);
    assert.ok(stdout.includes(report.trim()), "The report is printed too");

    const summary = tableRows(report, "### Summary");
    for (const target of TARGETS) {
      const row = summary.find((r) => r[0].startsWith(target));
      assert.ok(row, `No summary row for "${target}":\n${report}`);
      const rps = Number(row[1]);
      assert.ok(
        rps > 0,
        `RPS of "${target}" is not a positive number: ${row[1]}`,
      );
    }
    const header = report.split("### Summary")[1].split("\n").find((l) =>
      l.startsWith("|")
    )!;
    const columns = header.split("|").map((c) => c.trim()).slice(1, -1);
    const flow2 = summary.find((r) => r[0] === "flow-proxy, 2 workers")!;
    for (const name of ["RSS at start (MiB)", "idle RSS (MiB)"]) {
      const value = Number(flow2[columns.indexOf(name)]);
      assert.ok(value > 0, `${name} of flow-proxy, 2 workers: ${value}`);
    }
    const detail = tableRows(report, "### Latency detail");
    for (const target of TARGETS) {
      const row = detail.find((r) => r[0].startsWith(target))!;
      const [errors, requests] = row[row.length - 1].split(" / ").map(Number);
      assert.ok(requests > 0, `No requests counted for "${target}"`);
      assert.equal(errors, 0, `"${target}" had failed requests: ${row.at(-1)}`);
    }
    const floor = tableRows(report, "### Issue 20 targets");
    for (const flow of ["flow-proxy, 1 worker", "flow-proxy, 2 workers"]) {
      const row = floor.find((r) => r[0] === flow);
      assert.ok(row, `No floor row for "${flow}":\n${report}`);
      // RPS, CPU/req and added p50 as ratios to the floor of the same workers.
      for (const cell of [row[2], row[4], row[6]]) {
        assert.match(
          cell,
          /^(✅|❌) \d+\.\d\d×$/,
          `${flow}: ${row.join(" | ")}`,
        );
      }
    }
    const extras = tableRows(report, "### New features: HTTPS and Redis");
    const https = extras.find((r) => r[0].includes("HTTPS"));
    assert.ok(https && Number(https[1]) > 0, `No HTTPS row:\n${report}`);
    assert.equal(https.at(-1), "0", `HTTPS requests failed: ${https}`);
    assert.match(report, /Redis on vs off: (skipped|not run|measured)/);
    assert.ok(
      tableRows(report, "### Rewrite of a ~200 KB Claude Code request").some(
        (r) => r[0] === "rewrite a Claude Code request" && Number(r[2]) > 0,
      ),
      `No rewrite time:\n${report}`,
    );
    assert.ok(
      tableRows(report, "#### Time to first token through flow-proxy").some(
        (r) => r[0].startsWith("messages → chat") && Number(r[1]) > 0,
      ),
      `No translated TTFT:\n${report}`,
    );
    const features = tableRows(report, "### Per-feature cost");
    for (
      const name of [
        "all on",
        "log off",
        "record off",
        "sqlite off",
        "metrics off",
        "usage off",
        "access off",
        "id off",
        "deadline off",
        "all off",
      ]
    ) {
      const row = features.find((r) => r[0] === name);
      assert.ok(
        row && Number(row[2]) > 0,
        `No feature row "${name}":\n${report}`,
      );
      assert.equal(row.at(-1), "0", `"${name}" had failed requests`);
    }
    const streaming = tableRows(report, "### Streaming");
    assert.ok(
      streaming.some((r) => r[0] === "flow-proxy, 2 workers"),
      "Streaming was measured through flow-proxy",
    );
    assert.ok(
      !report.includes("INCOMPLETE"),
      `A streamed response was cut short:\n${report}`,
    );
  } finally {
    await Deno.remove(results, { recursive: true });
  }
});

Deno.test("bench/run.ts --idle sets how long targets stay unloaded before idle RSS", async () => {
  const { parseBenchArgs } = await import("../bench/run.ts");
  assert.equal(parseBenchArgs([])!.idleSeconds, 60);
  assert.equal(parseBenchArgs(["--quick"])!.idleSeconds, 1);
  assert.equal(parseBenchArgs(["--idle", "90s"])!.idleSeconds, 90);
  assert.throws(() => parseBenchArgs(["--idle", "soon"]), TypeError);
});

Deno.test("bench/run.ts --features, --workers and --redis are parsed", async () => {
  const { parseBenchArgs } = await import("../bench/run.ts");
  const plain = parseBenchArgs([])!;
  assert.equal(plain.features, false);
  assert.equal(plain.workers, 1);
  assert.equal(plain.redis, false);
  const features = parseBenchArgs(["--features", "--workers", "2", "--redis"])!;
  assert.equal(features.features, true);
  assert.equal(features.workers, 2);
  assert.equal(features.redis, true);
  assert.throws(() => parseBenchArgs(["--workers", "0"]), TypeError);
});

Deno.test("bench/compare.ts sends a variant's --v8-flags to deno, other flags to serve", async () => {
  const { parseVariant } = await import("../bench/compare.ts");
  assert.deepEqual(
    parseVariant("exp=/tmp/x::--no-db --v8-flags=--single-threaded-gc"),
    {
      name: "exp",
      dir: "/tmp/x",
      flags: ["--no-db"],
      denoFlags: ["--v8-flags=--single-threaded-gc"],
    },
  );
  assert.deepEqual(parseVariant("base=."), {
    name: "base",
    dir: ".",
    flags: [],
    denoFlags: [],
  });
  assert.throws(() => parseVariant("no-equals-sign"), TypeError);
});

Deno.test("bench/translate_bench.ts measures the first token of every stream it knows", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "bench/translate_bench.ts", "--rounds", "3"],
    cwd: REPO,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  assert.equal(
    out.code,
    0,
    `translate_bench failed:\n${stdout}\n${
      new TextDecoder().decode(out.stderr)
    }`,
  );
  const rows = tableRows(stdout, "## Time to first token");
  const byName = new Map(rows.map((r) => [r[0], r]));
  // The pass-through streams and every translation answer with a first
  // token each round.
  for (
    const name of [
      "chat → chat (pass-through)",
      "messages → messages (pass-through)",
      "messages → chat (Claude Code on GPT-5)",
      "responses → chat (Codex on Claude)",
      "gemini → chat (Gemini CLI on GPT-5)",
    ]
  ) {
    const row = byName.get(name);
    assert.ok(row, `no row "${name}" in:\n${stdout}`);
    assert.ok(Number(row[1]) > 0, `${name}: ${row.join(" | ")}`);
  }
  const cost = tableRows(stdout, "## Stream translation in-process");
  for (const pair of ["messages → chat", "responses → chat", "gemini → chat"]) {
    assert.ok(
      cost.some((r) => r[0] === pair && Number(r[1]) > 0),
      `${pair} in:\n${stdout}`,
    );
  }
});
