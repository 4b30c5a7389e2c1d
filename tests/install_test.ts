/**
 * install.sh against a fake release served on 127.0.0.1, built by the real
 * scripts/compile_all.ts with a stand-in compiler: asset names, checksum
 * format and installer must agree for a release to be installable.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  assetName,
  buildRelease,
  CHECKSUMS_FILE,
  parseCompileTask,
  readCompilePlan,
  RELEASE_FILES,
  TARGETS,
} from "../scripts/compile_all.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const INSTALL_SH = join(ROOT, "install.sh");

/** A release directory whose "binaries" are shell scripts printing their version and target. */
async function fakeRelease(dir: string, version: string): Promise<void> {
  await buildRelease({
    outDir: dir,
    log() {},
    async compile(args) {
      const output = args[args.indexOf("--output") + 1];
      const target = args[args.indexOf("--target") + 1];
      await Deno.writeTextFile(
        output,
        `#!/bin/sh\necho "flow-proxy ${version} (${target})"\n`,
      );
    },
  });
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

interface RunOptions {
  /** Output of the fake `uname -sm`. */
  platform?: string;
  /** Output of the fake `id -u`. */
  uid?: number;
  env?: Record<string, string>;
  /** Replaces PATH entirely (after the shims). */
  path?: string;
}

/** Serves fake releases under /releases, GitHub-style, and records each request's User-Agent. */
function releaseServer(releases: Map<string, string>, latest: string) {
  const userAgents: string[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (req) => {
      userAgents.push(req.headers.get("user-agent") ?? "");
      const path = new URL(req.url).pathname;
      const latestMatch = path.match(/^\/releases\/latest\/download\/([^/]+)$/);
      if (latestMatch) {
        return Response.redirect(
          new URL(`/releases/download/${latest}/${latestMatch[1]}`, req.url),
          302,
        );
      }
      const match = path.match(/^\/releases\/download\/([^/]+)\/([^/]+)$/);
      const dir = match && releases.get(match[1]);
      if (!match || !dir) return new Response("Not Found", { status: 404 });
      try {
        return new Response(await Deno.readFile(join(dir, match[2])));
      } catch {
        return new Response("Not Found", { status: 404 });
      }
    },
  );
  return {
    server,
    userAgents,
    base: `http://127.0.0.1:${server.addr.port}/releases`,
  };
}

async function writeScript(path: string, body: string): Promise<void> {
  await Deno.writeTextFile(path, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
}

/** Absolute path of a tool on the real PATH. */
function findTool(name: string): string {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      const path = join(dir, name);
      if (Deno.statSync(path).isFile) return path;
    } catch { /* not in this directory */ }
  }
  throw new Error(`Cannot find "${name}" on PATH`);
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

Deno.test("deno task start and dev run with the V8 flags the binary is compiled with", () => {
  const { flags } = readCompilePlan();
  const v8 = flags.filter((f) => f.startsWith("--v8-flags"));
  assert.deepEqual(v8, ["--v8-flags=--max-semi-space-size=4"]);
  const tasks =
    JSON.parse(Deno.readTextFileSync(new URL("../deno.json", import.meta.url)))
      .tasks;
  for (const name of ["start", "dev"]) {
    const words: string[] = tasks[name].split(/\s+/);
    assert.ok(
      v8.every((f) => words.includes(f)),
      `deno task ${name} lacks ${v8.join(" ")}: "${tasks[name]}"`,
    );
  }
});

Deno.test("parseCompileTask() reads flags and entry point from the compile task", async (t) => {
  await t.step(
    "deno.json's task: worker included, unstable flags, no blanket permission",
    async () => {
      const plan = readCompilePlan();
      const config = JSON.parse(
        await Deno.readTextFile(join(ROOT, "deno.json")),
      );
      assert.equal(plan.entrypoint, "main.ts");
      const include = plan.flags.indexOf("--include");
      assert.ok(
        include >= 0,
        "the worker module must be passed with --include",
      );
      assert.equal(plan.flags[include + 1], "src/server/worker.ts");
      for (const feature of config.unstable as string[]) {
        assert.ok(
          plan.flags.includes(`--unstable-${feature}`),
          `--unstable-${feature} is missing`,
        );
      }
      for (const flag of plan.flags) {
        assert.ok(
          !["-A", "--allow-all"].includes(flag),
          `${flag} grants every permission`,
        );
        assert.ok(
          !flag.startsWith("--output"),
          "--output is chosen per target",
        );
      }
    },
  );

  await t.step("drops --output and rejects what it cannot read", () => {
    assert.deepEqual(
      parseCompileTask("deno compile --allow-net -o out/x --output=y main.ts"),
      {
        flags: ["--allow-net"],
        entrypoint: "main.ts",
      },
    );
    assert.throws(() => parseCompileTask("deno run main.ts"), SyntaxError);
    assert.throws(
      () => parseCompileTask("deno compile --allow-net"),
      SyntaxError,
    );
  });
});

Deno.test("buildRelease() writes every asset, its .sha256 and a SHA256SUMS that sha256sum accepts", async () => {
  const dir = await Deno.makeTempDir({ prefix: "flow_proxy_release_" });
  try {
    const calls: string[][] = [];
    const assets = await buildRelease({
      outDir: dir,
      log() {},
      async compile(args) {
        calls.push(args);
        await Deno.writeTextFile(
          args[args.indexOf("--output") + 1],
          `binary ${calls.length}\n`,
        );
      },
    });
    const plan = readCompilePlan();
    assert.equal(calls.length, TARGETS.length);
    for (const [i, target] of TARGETS.entries()) {
      assert.deepEqual(calls[i], [
        "compile",
        ...plan.flags,
        "--target",
        target,
        "--output",
        join(dir, assetName(target)),
        plan.entrypoint,
      ]);
      const sha = await Deno.readTextFile(
        join(dir, `${assetName(target)}.sha256`),
      );
      assert.match(
        sha,
        new RegExp(
          `^[0-9a-f]{64}  ${assetName(target).replace(".", "\\.")}\n$`,
        ),
      );
    }
    assert.equal(
      assetName("x86_64-pc-windows-msvc"),
      "flow-proxy-x86_64-pc-windows-msvc.exe",
    );
    const names = [
      ...TARGETS.map(assetName),
      ...RELEASE_FILES.map((f) => f.split("/").at(-1)!),
    ];
    assert.deepEqual(assets.toSorted(), names.toSorted());

    const check = await new Deno.Command("sha256sum", {
      args: ["-c", CHECKSUMS_FILE],
      cwd: dir,
    }).output();
    const listed = new TextDecoder().decode(check.stdout).trim().split("\n");
    assert.equal(check.code, 0);
    assert.deepEqual(
      listed.map((line) => line.replace(/: OK$/, "")).toSorted(),
      names.toSorted(),
    );

    // The manual checks docs/install.md shows, on a download of one binary.
    const one = join(dir, "one");
    const linux = assetName("x86_64-unknown-linux-gnu");
    await Deno.mkdir(one);
    await Deno.copyFile(join(dir, linux), join(one, linux));
    await Deno.copyFile(join(dir, CHECKSUMS_FILE), join(one, CHECKSUMS_FILE));
    for (
      const command of [
        "sha256sum --check --ignore-missing SHA256SUMS",
        `grep ' ${linux}$' SHA256SUMS | shasum -a 256 --check`,
      ]
    ) {
      const manual = await new Deno.Command("sh", {
        args: ["-c", command],
        cwd: one,
      }).output();
      assert.equal(manual.code, 0, command);
      assert.equal(
        new TextDecoder().decode(manual.stdout),
        `${linux}: OK\n`,
        command,
      );
    }
    await Deno.writeTextFile(join(one, linux), "tampered\n", { append: true });
    const tampered = await new Deno.Command("sha256sum", {
      args: ["--check", "--ignore-missing", CHECKSUMS_FILE],
      cwd: one,
      stderr: "null",
    }).output();
    assert.equal(tampered.code, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("install.sh installs a verified release", async (t) => {
  const tmp = await Deno.makeTempDir({ prefix: "flow_proxy_install_" });
  const releases = new Map<string, string>();
  for (const version of ["v0.1.0", "v0.2.0", "v0.2.1"]) {
    releases.set(version, join(tmp, "releases", version));
    await fakeRelease(releases.get(version)!, version.slice(1));
  }
  // v0.2.1 was tampered with after its checksums were written.
  const tampered = join(
    releases.get("v0.2.1")!,
    assetName("x86_64-unknown-linux-gnu"),
  );
  await Deno.writeTextFile(tampered, "echo pwned\n", { append: true });

  const { server, userAgents, base } = releaseServer(releases, "v0.2.0");
  await using _server = server;
  let runs = 0;

  /** Runs install.sh with fake `uname` and `id` first on PATH, in a fresh HOME. */
  async function install(
    args: string[],
    options: RunOptions = {},
  ): Promise<Run & { home: string }> {
    const runDir = join(tmp, `run${++runs}`);
    const shims = join(runDir, "shims");
    const home = join(runDir, "home");
    await Deno.mkdir(shims, { recursive: true });
    await Deno.mkdir(home);
    await writeScript(
      join(shims, "uname"),
      `echo '${options.platform ?? "Linux x86_64"}'`,
    );
    await writeScript(join(shims, "id"), `echo ${options.uid ?? 1000}`);
    const output = await new Deno.Command("sh", {
      args: [INSTALL_SH, ...args],
      cwd: runDir,
      clearEnv: true,
      env: {
        PATH: `${shims}:${options.path ?? Deno.env.get("PATH")}`,
        HOME: home,
        FLOW_PROXY_DOWNLOAD_BASE: base,
        ...options.env,
      },
      stdin: "null",
    }).output();
    const decoder = new TextDecoder();
    return {
      code: output.code,
      stdout: decoder.decode(output.stdout),
      stderr: decoder.decode(output.stderr),
      home,
    };
  }

  async function runBinary(path: string): Promise<string> {
    const output = await new Deno.Command(path, { args: ["--version"] })
      .output();
    assert.equal(output.code, 0);
    return new TextDecoder().decode(output.stdout).trim();
  }

  try {
    await t.step(
      "latest release into ~/.local/bin, with a PATH hint",
      async () => {
        const run = await install([]);
        assert.equal(run.code, 0, run.stderr);
        const exe = join(run.home, ".local/bin/flow-proxy");
        assert.equal((await Deno.stat(exe)).mode! & 0o777, 0o755);
        assert.equal(
          await runBinary(exe),
          "flow-proxy 0.2.0 (x86_64-unknown-linux-gnu)",
        );
        assert.match(run.stdout, /flow-proxy 0\.2\.0/);
        assert.ok(
          run.stdout.includes(
            `export PATH="${join(run.home, ".local/bin")}:$PATH"`,
          ),
          run.stdout,
        );
        assert.equal(run.stderr, "");
      },
    );

    await t.step(
      "a pinned version, with or without the v, into $FLOW_PROXY_INSTALL",
      async () => {
        for (const version of ["v0.1.0", "0.1.0"]) {
          const dir = join(tmp, `pinned-${version}`);
          const run = await install(["--version", version], {
            env: { FLOW_PROXY_INSTALL: dir },
          });
          assert.equal(run.code, 0, run.stderr);
          assert.equal(
            await runBinary(join(dir, "flow-proxy")),
            "flow-proxy 0.1.0 (x86_64-unknown-linux-gnu)",
          );
        }
      },
    );

    await t.step("the asset that matches uname -sm", async () => {
      const cases = [
        ["Linux aarch64", "aarch64-unknown-linux-gnu", "flow-proxy"],
        ["Linux arm64", "aarch64-unknown-linux-gnu", "flow-proxy"],
        ["Darwin x86_64", "x86_64-apple-darwin", "flow-proxy"],
        ["Darwin arm64", "aarch64-apple-darwin", "flow-proxy"],
        [
          "MINGW64_NT-10.0-19045 x86_64",
          "x86_64-pc-windows-msvc",
          "flow-proxy.exe",
        ],
      ];
      for (const [platform, target, file] of cases) {
        const dir = join(tmp, `platform-${target}-${runs}`);
        const run = await install([], {
          platform,
          env: { FLOW_PROXY_INSTALL: dir },
        });
        assert.equal(run.code, 0, run.stderr);
        assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), [file]);
        assert.equal(
          await runBinary(join(dir, file)),
          `flow-proxy 0.2.0 (${target})`,
        );
      }
    });

    await t.step("an unknown platform is refused", async () => {
      const dir = join(tmp, "unknown-platform");
      const run = await install([], {
        platform: "SunOS i86pc",
        env: { FLOW_PROXY_INSTALL: dir },
      });
      assert.equal(run.code, 1);
      assert.match(run.stderr, /^error: Unsupported platform 'SunOS i86pc'/);
      assert.equal(await exists(dir), false);
    });

    await t.step(
      "a checksum mismatch installs nothing and keeps the old binary",
      async () => {
        const dir = join(tmp, "mismatch");
        assert.equal(
          (await install(["--version", "v0.1.0"], {
            env: { FLOW_PROXY_INSTALL: dir },
          })).code,
          0,
        );
        const run = await install(["--version", "v0.2.1"], {
          env: { FLOW_PROXY_INSTALL: dir },
        });
        assert.equal(run.code, 1);
        assert.match(
          run.stderr,
          /^error: Checksum mismatch for flow-proxy-x86_64-unknown-linux-gnu \(expected [0-9a-f]{64}, got [0-9a-f]{64}\): nothing was installed\n$/,
        );
        assert.equal(
          await runBinary(join(dir, "flow-proxy")),
          "flow-proxy 0.1.0 (x86_64-unknown-linux-gnu)",
        );
        assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), [
          "flow-proxy",
        ]);
      },
    );

    await t.step(
      "a version that was never released is a clear error",
      async () => {
        const dir = join(tmp, "missing");
        const run = await install(["--version", "v9.9.9"], {
          env: { FLOW_PROXY_INSTALL: dir },
        });
        assert.equal(run.code, 1);
        assert.ok(
          run.stderr.includes(
            `error: Cannot download ${base}/download/v9.9.9/SHA256SUMS: is 'v9.9.9' a published release?`,
          ),
          run.stderr,
        );
        assert.equal(await exists(dir), false);
      },
    );

    await t.step(
      "a rerun replaces the installed binary and leaves nothing behind",
      async () => {
        const dir = join(tmp, "rerun");
        const env = { FLOW_PROXY_INSTALL: dir };
        assert.equal((await install(["--version", "v0.1.0"], { env })).code, 0);
        const run = await install([], { env });
        assert.equal(run.code, 0, run.stderr);
        assert.equal(
          await runBinary(join(dir, "flow-proxy")),
          "flow-proxy 0.2.0 (x86_64-unknown-linux-gnu)",
        );
        assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), [
          "flow-proxy",
        ]);
      },
    );

    await t.step(
      "wget when curl is missing, shasum when sha256sum is",
      async () => {
        const tools = join(tmp, "tools-wget");
        await Deno.mkdir(tools);
        const needed = [
          "sh",
          "mktemp",
          "rm",
          "awk",
          "cut",
          "mkdir",
          "cp",
          "chmod",
          "mv",
          "sed",
          "cat",
        ];
        for (const tool of [...needed, "wget", "shasum"]) {
          await Deno.symlink(findTool(tool), join(tools, tool));
        }
        const dir = join(tmp, "wget");
        const before = userAgents.length;
        const run = await install([], {
          path: tools,
          env: { FLOW_PROXY_INSTALL: dir },
        });
        assert.equal(run.code, 0, run.stderr);
        assert.equal(
          await runBinary(join(dir, "flow-proxy")),
          "flow-proxy 0.2.0 (x86_64-unknown-linux-gnu)",
        );
        const agents = userAgents.slice(before);
        assert.ok(
          agents.length > 0 && agents.every((ua) => ua.startsWith("Wget/")),
          agents.join(", "),
        );

        const noTools = join(tmp, "tools-none");
        await Deno.mkdir(noTools);
        for (const tool of needed) {
          await Deno.symlink(findTool(tool), join(noTools, tool));
        }
        const bare = await install([], {
          path: noTools,
          env: { FLOW_PROXY_INSTALL: join(tmp, "bare") },
        });
        assert.equal(bare.code, 1);
        assert.equal(
          bare.stderr,
          "error: Cannot download: neither curl nor wget is installed\n",
        );
      },
    );

    await t.step(
      "--systemd installs the unit and a private secrets.json, and never overwrites it",
      async () => {
        const env = {
          FLOW_PROXY_INSTALL: join(tmp, "sd/usr/local/bin"),
          FLOW_PROXY_SYSTEMD_DIR: join(tmp, "sd/etc/systemd/system"),
          FLOW_PROXY_ETC_DIR: join(tmp, "sd/etc/flow-proxy"),
        };
        const exe = join(env.FLOW_PROXY_INSTALL, "flow-proxy");
        const secrets = join(env.FLOW_PROXY_ETC_DIR, "secrets.json");
        const run = await install(["--systemd"], { uid: 0, env });
        assert.equal(run.code, 0, run.stderr);
        assert.equal(
          await runBinary(exe),
          "flow-proxy 0.2.0 (x86_64-unknown-linux-gnu)",
        );

        const unit = await Deno.readTextFile(
          join(env.FLOW_PROXY_SYSTEMD_DIR, "flow-proxy.service"),
        );
        const shipped = await Deno.readTextFile(
          join(ROOT, "deploy/systemd/flow-proxy.service"),
        );
        assert.match(unit, new RegExp(`^ExecStart=${exe} serve$`, "m"));
        assert.equal(
          unit.replace(
            `ExecStart=${exe} `,
            "ExecStart=/usr/local/bin/flow-proxy ",
          ),
          shipped,
        );

        assert.equal((await Deno.stat(secrets)).mode! & 0o777, 0o600);
        assert.equal(
          await Deno.readTextFile(secrets),
          await Deno.readTextFile(join(ROOT, "secrets.json.template")),
        );
        for (
          const command of [
            `${exe} check-secrets --secrets-file ${secrets}`,
            "systemctl daemon-reload",
            "systemctl enable --now flow-proxy",
          ]
        ) {
          assert.ok(
            run.stdout.includes(command),
            `missing "${command}" in:\n${run.stdout}`,
          );
        }

        await Deno.writeTextFile(secrets, "[]\n");
        const again = await install(["--systemd", "--version", "v0.1.0"], {
          uid: 0,
          env,
        });
        assert.equal(again.code, 0, again.stderr);
        assert.equal(await Deno.readTextFile(secrets), "[]\n");
        assert.match(again.stdout, /Kept the existing .*secrets\.json/);
        assert.equal(
          await runBinary(exe),
          "flow-proxy 0.1.0 (x86_64-unknown-linux-gnu)",
        );
      },
    );

    await t.step(
      "--systemd is refused without root, before anything is installed",
      async () => {
        const dir = join(tmp, "sd-user");
        const run = await install(["--systemd"], {
          uid: 1000,
          env: { FLOW_PROXY_INSTALL: dir },
        });
        assert.equal(run.code, 1);
        assert.equal(
          run.stderr,
          "error: Option '--systemd' needs root: run it with sudo\n",
        );
        assert.equal(await exists(dir), false);
      },
    );

    await t.step("bad arguments are usage errors", async () => {
      for (
        const args of [["--bogus"], ["--version"], ["--version", "latest;rm"]]
      ) {
        const run = await install(args);
        assert.equal(run.code, 2, args.join(" "));
        assert.match(run.stderr, /^error: .*\nUsage: install\.sh/);
      }
    });
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("install.sh and scripts/*.sh are shellcheck-clean", async () => {
  let output: Deno.CommandOutput;
  const scripts = [...Deno.readDirSync(join(ROOT, "scripts"))]
    .filter((e) => e.name.endsWith(".sh"))
    .map((e) => join("scripts", e.name));
  try {
    output = await new Deno.Command("shellcheck", {
      args: ["install.sh", ...scripts],
      cwd: ROOT,
    }).output();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new Error(
        "shellcheck is not installed: apt-get install shellcheck",
        { cause: err },
      );
    }
    throw err;
  }
  assert.ok(scripts.length > 0);
  assert.equal(output.code, 0, new TextDecoder().decode(output.stdout));
});

Deno.test("the compile task embeds the worker and only the npm packages flow-proxy runs", async () => {
  // `deno compile` appends the program to a runtime binary (denort), which it
  // downloads and this machine cannot. DENORT_BIN points it at the running
  // `deno` instead: the output is not a working flow-proxy and is not run, but
  // the compile step (flags, lockfile, what gets embedded) is the real one.
  const { flags, entrypoint } = readCompilePlan();
  const lock = flags.find((f) => f.startsWith("--lock="))?.slice(7);
  assert.equal(lock, "compile.lock", flags.join(" "));
  assert.ok(flags.includes("--frozen"), flags.join(" "));

  const compileLock = JSON.parse(Deno.readTextFileSync(join(ROOT, lock)));
  const denoLock = JSON.parse(Deno.readTextFileSync(join(ROOT, "deno.lock")));
  for (const [name, entry] of Object.entries(compileLock.npm ?? {})) {
    assert.deepEqual(
      entry,
      denoLock.npm[name],
      `${name} differs between compile.lock and deno.lock: deno task lock:compile`,
    );
  }

  const dir = await Deno.makeTempDir({ prefix: "flow_proxy_compile_" });
  try {
    const output = join(dir, "flow-proxy");
    const run = await new Deno.Command(Deno.execPath(), {
      args: ["compile", ...flags, "--output", output, entrypoint],
      cwd: ROOT,
      env: { DENORT_BIN: Deno.execPath(), NO_COLOR: "1" },
    }).output();
    const text = new TextDecoder().decode(run.stdout) +
      new TextDecoder().decode(run.stderr);
    assert.equal(run.code, 0, text);
    assert.match(text, /worker\.ts/, "the Web Worker module is not embedded");
    assert.match(text, /jose\/6\.2\.17/);
    assert.match(text, /@logtape\/logtape/);
    assert.match(text, /@noble\/hashes/);
    // Test-only dependencies (the SDKs of tests/integration/sdk_test.ts) are
    // 40 MB; deno.lock holds them, compile.lock must not. (flow-proxy's own
    // src/models/anthropic_*.ts are embedded, so match package names.)
    assert.doesNotMatch(
      text,
      /[@/]anthropic-ai|[@/]ai-sdk|[@/]langchain|[├└]── openai|\bopenai\//,
      text,
    );
    const embedded = Deno.statSync(output).size -
      Deno.statSync(Deno.execPath()).size;
    // 14.5 MB measured since ACME: acme-client brings axios and the
    // @peculiar ASN.1/X.509 stack (about 4.5 MB), loaded only with --acme-domain.
    assert.ok(
      embedded < 16 * 1024 * 1024,
      `the binary embeds ${embedded} bytes besides the runtime`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
