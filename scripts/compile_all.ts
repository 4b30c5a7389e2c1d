/**
 * Builds the release directory: one binary per target, each with its
 * `.sha256`, the files `install.sh --systemd` fetches, and a `SHA256SUMS`
 * covering every asset.
 *
 * ```sh
 * deno task compile:all                                   # every target into dist/
 * deno run -A scripts/compile_all.ts --target x86_64-unknown-linux-gnu
 * ```
 *
 * The compile flags are read from the `compile` task in deno.json, so the
 * host build and the release build cannot drift apart.
 */
import { createHash } from "node:crypto";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

/** Targets of a release, in the order they are built. */
export const TARGETS = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
  "x86_64-pc-windows-msvc",
] as const;

/** One of {@linkcode TARGETS}. */
export type Target = typeof TARGETS[number];

/** Files published next to the binaries, relative to the repository root. */
export const RELEASE_FILES = [
  "install.sh",
  "deploy/systemd/flow-proxy.service",
  "secrets.json.template",
] as const;

/** Name of the file listing the SHA-256 of every asset, in `sha256sum` format. */
export const CHECKSUMS_FILE = "SHA256SUMS";

const ROOT = new URL("..", import.meta.url);

/** File name of the binary of `target`, as install.sh downloads it. */
export function assetName(target: Target): string {
  return `flow-proxy-${target}${target.includes("windows") ? ".exe" : ""}`;
}

/** What `deno compile` needs besides a target and an output path. */
export interface CompilePlan {
  /** Flags between `deno compile` and the entry point, `--output` removed. */
  flags: string[];
  /** The entry point, e.g. `main.ts`. */
  entrypoint: string;
}

/**
 * Splits the `compile` task of deno.json into its flags and entry point.
 * Throws a `SyntaxError` when the task is not a plain `deno compile … <entry>`.
 */
export function parseCompileTask(task: string): CompilePlan {
  const words = task.trim().split(/\s+/);
  if (words[0] !== "deno" || words[1] !== "compile" || words.length < 3) {
    throw new SyntaxError(
      `Cannot read the compile task: expected "deno compile … <entry>", got "${task}"`,
    );
  }
  const entrypoint = words.at(-1)!;
  if (entrypoint.startsWith("-")) {
    throw new SyntaxError(
      `Cannot read the compile task: it must end with the entry point, got "${task}"`,
    );
  }
  const flags: string[] = [];
  const rest = words.slice(2, -1);
  for (let i = 0; i < rest.length; i++) {
    const word = rest[i];
    if (word === "--output" || word === "-o") {
      i++;
    } else if (!word.startsWith("--output=") && !word.startsWith("--target")) {
      flags.push(word);
    }
  }
  return { flags, entrypoint };
}

/** Reads the compile plan from the `compile` task of `deno.json` in `root`. */
export function readCompilePlan(root: URL = ROOT): CompilePlan {
  const config = JSON.parse(
    Deno.readTextFileSync(new URL("deno.json", root)),
  );
  const task = config.tasks?.compile;
  if (typeof task !== "string") {
    throw new TypeError(
      'Cannot read the compile task: deno.json has no "tasks.compile" string',
    );
  }
  return parseCompileTask(task);
}

/** Runs one compilation; `args` follow `deno` (`compile … --output F main.ts`). */
export type Compiler = (args: string[]) => Promise<void>;

/** Options of {@linkcode buildRelease}. */
export interface BuildReleaseOptions {
  /** Repository root holding deno.json and the release files; defaults to this script's parent. */
  root?: URL;
  /** Directory receiving the assets; created if missing. Defaults to `dist` in the root. */
  outDir?: string;
  /** Targets to build; defaults to {@linkcode TARGETS}. */
  targets?: readonly Target[];
  /** Runs `deno compile`; replaceable so tests need no network. Defaults to the running `deno`. */
  compile?: Compiler;
  /** Progress lines; defaults to stderr. */
  log?: (line: string) => void;
}

/** Builds every target, copies {@linkcode RELEASE_FILES} and writes the checksums; returns the asset names. */
export async function buildRelease(
  options: BuildReleaseOptions = {},
): Promise<string[]> {
  const root = options.root ?? ROOT;
  const outDir = options.outDir ?? join(fileURLToPath(root), "dist");
  const compile = options.compile ?? runDeno;
  const log = options.log ?? writeStderr;
  const plan = readCompilePlan(root);
  // Checked before the slow part: a release without them cannot be installed.
  for (const file of RELEASE_FILES) await Deno.stat(new URL(file, root));
  await Deno.mkdir(outDir, { recursive: true });

  const assets: string[] = [];
  for (const target of options.targets ?? TARGETS) {
    const name = assetName(target);
    const output = join(outDir, name);
    log(`Compiling ${name}`);
    await compile([
      "compile",
      ...plan.flags,
      "--target",
      target,
      "--output",
      output,
      plan.entrypoint,
    ]);
    await Deno.writeTextFile(
      `${output}.sha256`,
      checksumLine(name, await Deno.readFile(output)),
    );
    assets.push(name);
  }
  for (const file of RELEASE_FILES) {
    const name = basename(file);
    await Deno.copyFile(new URL(file, root), join(outDir, name));
    assets.push(name);
  }
  const lines = await Promise.all(
    assets.toSorted().map(async (name) =>
      checksumLine(name, await Deno.readFile(join(outDir, name)))
    ),
  );
  await Deno.writeTextFile(join(outDir, CHECKSUMS_FILE), lines.join(""));
  log(`Wrote ${assets.length} assets and ${CHECKSUMS_FILE} to ${outDir}`);
  return assets;
}

/** One line of `sha256sum` output: hex digest, two spaces, file name. */
export function checksumLine(name: string, bytes: Uint8Array): string {
  return `${createHash("sha256").update(bytes).digest("hex")}  ${name}\n`;
}

async function runDeno(args: string[]): Promise<void> {
  const { code } = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (code !== 0) {
    throw new Error(`deno ${args.join(" ")} exited with code ${code}`);
  }
}

function writeStderr(line: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(`${line}\n`));
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      target: { type: "string", multiple: true },
      "out-dir": { type: "string" },
    },
  });
  const targets = values.target?.map((t) => {
    if (!(TARGETS as readonly string[]).includes(t)) {
      writeStderr(
        `error: Unknown target "${t}": expected one of ${TARGETS.join(", ")}`,
      );
      Deno.exit(2);
    }
    return t as Target;
  });
  try {
    await buildRelease({ targets, outDir: values["out-dir"] });
  } catch (err) {
    writeStderr(`error: ${err instanceof Error ? err.message : String(err)}`);
    Deno.exit(1);
  }
}
