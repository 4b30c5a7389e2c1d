/**
 * The docs cannot drift from the program: every `flow-proxy …` command shown
 * in README.md and docs/ names a real command and real flags, and the
 * configuration table lists exactly the options `serve` has.
 */
import assert from "node:assert/strict";
import { SERVE_OPTIONS } from "../src/config/settings.ts";
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
  const commands = new Set(["serve", "check-secrets", "usage", "keys"]);
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
