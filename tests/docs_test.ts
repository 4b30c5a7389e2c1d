/**
 * The docs cannot drift from the program: every `flow-proxy …` command shown
 * in README.md and docs/ names a real command and real flags, and the
 * configuration table lists exactly the options `serve` has.
 */
import assert from "node:assert/strict";
import { SERVE_OPTIONS } from "../src/config/serve_options.ts";
import { REPO, runCli } from "./support/proxy.ts";

function markdownFiles(): string[] {
  const files = [`${REPO}README.md`];
  const walk = (dir: string) => {
    for (const entry of Deno.readDirSync(dir)) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) walk(path);
      else if (entry.name.endsWith(".md")) files.push(path);
    }
  };
  walk(`${REPO}docs`);
  return files;
}

/** Command lines in fenced code blocks that run flow-proxy (binary or checkout). */
function commandLines(text: string): string[] {
  const lines: string[] = [];
  let inCode = false;
  for (const raw of text.split("\n")) {
    if (raw.trimStart().startsWith("```")) {
      inCode = !inCode;
      continue;
    }
    if (!inCode) continue;
    const line = raw.replace(/^\s*(sudo\s+)?(-u\s+\S+\s+)?/, "").replace(
      /^\$\s+/,
      "",
    );
    const m = line.match(
      /^(?:flow-proxy|\/usr\/local\/bin\/flow-proxy|dist\/flow-proxy|deno run -A main\.ts)\s+(.*)$/,
    );
    if (m) lines.push(m[1].replace(/\s+#.*$/, "").replace(/\\$/, "").trim());
  }
  return lines;
}

const helpCache = new Map<string, string>();
async function helpOf(command: string): Promise<string> {
  if (!helpCache.has(command)) {
    const out = await runCli([command, "--help"]);
    assert.equal(
      out.code,
      0,
      `flow-proxy ${command} --help failed: ${out.stderr}`,
    );
    helpCache.set(command, out.stdout);
  }
  return helpCache.get(command)!;
}

Deno.test("every flow-proxy command shown in the docs exists with the flags shown", async () => {
  const commands = new Set([
    "serve",
    "check-secrets",
    "check-config",
    "models",
    "usage",
    "keys",
    "users",
    "teams",
    "tokens",
    "audit",
  ]);
  let checked = 0;
  for (const file of markdownFiles()) {
    for (const line of commandLines(Deno.readTextFileSync(file))) {
      const [command, ...rest] = line.split(/\s+/);
      if (
        command === "--help" || command === "--version" ||
        command.startsWith("<") || command === "|"
      ) continue;
      assert.ok(
        commands.has(command),
        `${file}: unknown command in "flow-proxy ${line}"`,
      );
      const help = await helpOf(command);
      for (const word of rest) {
        const flag = word.match(/^(--[a-z][a-z0-9-]*)/)?.[1];
        if (flag && flag !== "--help") {
          assert.ok(
            help.includes(flag),
            `${file}: "${flag}" is not a flag of ${command}`,
          );
        }
      }
      checked++;
    }
  }
  assert.ok(checked >= 10, `only ${checked} commands found in the docs`);
});

Deno.test("README's configuration table lists every serve option and variable", () => {
  const readme = Deno.readTextFileSync(`${REPO}README.md`);
  for (const option of SERVE_OPTIONS) {
    assert.ok(
      readme.includes(`\`--${option.flag}\``),
      `README lacks --${option.flag}`,
    );
    if (option.env) {
      assert.ok(
        readme.includes(option.env.replace("FLOW_PROXY_", "")),
        `README lacks ${option.env}`,
      );
    }
  }
});

/** Splits a shell line into words, honouring single and double quotes. */
function shellWords(line: string): string[] | null {
  if (/[|<>;`]|\$\(|&&/.test(line)) return null;
  const words: string[] = [];
  let word = "";
  let quote: string | null = null;
  let inWord = false;
  for (const c of line) {
    if (quote) {
      if (c === quote) quote = null;
      else word += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quote) return null;
  if (inWord) words.push(word);
  return words;
}

Deno.test("every flow-proxy command in the docs runs without a usage error", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "flow-proxy-docs-" });
  Deno.copyFileSync(`${REPO}secrets.json.template`, `${dir}/secrets.json`);
  Deno.chmodSync(`${dir}/secrets.json`, 0o600);
  const env = { FLOW_PROXY_DB: `${dir}/flow-proxy.db` };
  let ran = 0;
  try {
    for (const file of markdownFiles()) {
      const text = Deno.readTextFileSync(file);
      for (const line of commandLines(text)) {
        const words = shellWords(line);
        if (!words || words.length === 0) continue;
        const [command] = words;
        if (
          ![
            "serve",
            "check-secrets",
            "check-config",
            "models",
            "usage",
            "keys",
          ].includes(command)
        ) {
          continue;
        }
        if (
          words.some((w) =>
            /^<.*>$/.test(w) || w.startsWith("[") || w === "..."
          )
        ) continue;
        // serve would run: a secrets file that cannot be read ends it right
        // after the flags were accepted (exit 1), while a bad flag exits 2.
        const args = command === "serve"
          ? [...words, "--secrets-file", `${dir}/missing/secrets.json`]
          : words;
        const out = await runCli(args, { cwd: dir, env });
        // A file the page names does not exist here; the flags were accepted.
        const missingFile = /^error: Cannot read .* file /.test(out.stderr);
        if (out.code === 2 && !missingFile) {
          // Only an example of a usage error may be one, and then the page
          // shows that very error line.
          const shown = out.stderr.split("\n")[0];
          assert.ok(
            text.includes(shown),
            `${file}: "flow-proxy ${line}" is a usage error the page does not show: ${shown}`,
          );
        }
        ran++;
      }
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
  assert.ok(ran >= 10, `only ${ran} commands ran`);
});
