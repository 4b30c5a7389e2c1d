/**
 * The client set-ups the docs give, read from the docs themselves, so the
 * agent tests run exactly what a user copies. Every snippet sits in
 * docs/clients.md as a fenced block right after a `<!-- client:NAME -->`
 * comment; README.md and the user guides may carry copies, which
 * tests/docs_clients_test.ts holds equal to it. The docs say
 * {@linkcode DOCS_BASE_URL}; a test puts its own proxy's URL in its place.
 */
import { fileURLToPath as fromFileUrl } from "node:url";

/** Where the docs say flow-proxy listens. */
export const DOCS_BASE_URL = "http://127.0.0.1:8899";

/** The page every snippet comes from. */
export const CLIENTS_PAGE = fromFileUrl(
  new URL("../../docs/clients.md", import.meta.url),
);

/** One marked snippet: its name, the fence's language and the code. */
export interface DocSnippet {
  name: string;
  lang: string;
  code: string;
}

/** Every `<!-- client:NAME -->` block of a Markdown text, in order. */
export function docSnippets(markdown: string): DocSnippet[] {
  const out: DocSnippet[] = [];
  const re = /<!-- client:([a-z0-9-]+) -->\s*\n```(\w*)\n([\s\S]*?)\n```/g;
  for (const m of markdown.matchAll(re)) {
    out.push({ name: m[1], lang: m[2], code: `${m[3]}\n` });
  }
  return out;
}

let page: DocSnippet[] | null = null;

/** The code of the snippet `name` on docs/clients.md; throws when it is missing. */
export function snippet(name: string): string {
  page ??= docSnippets(Deno.readTextFileSync(CLIENTS_PAGE));
  const found = page.find((s) => s.name === name);
  if (!found) {
    throw new Error(`docs/clients.md has no <!-- client:${name} --> block`);
  }
  return found.code;
}

/** `text` with the docs' base URL replaced by the scenario placeholder `{{BASE_URL}}`. */
export function templated(text: string): string {
  return text.replaceAll(DOCS_BASE_URL, "{{BASE_URL}}");
}

/** The `export NAME=value` lines of a shell snippet. */
export function exportedVariables(code: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const m of code.matchAll(/^export ([A-Z_][A-Z0-9_]*)=(\S+)$/gm)) {
    env[m[1]] = m[2].replace(/^(["'])(.*)\1$/, "$2");
  }
  return env;
}

/** Claude Code's variables as the docs give them, base URL templated. */
export function claudeCodeEnv(): Record<string, string> {
  return exportedVariables(templated(snippet("claude-code")));
}

/** Codex's `~/.codex/config.toml` as the docs give it, base URL templated. */
export function codexConfigToml(): string {
  return templated(snippet("codex-config"));
}

/** The variables the docs export before running Codex (its key). */
export function codexEnv(): Record<string, string> {
  return exportedVariables(snippet("codex-env"));
}

/** The docs' one-line alternative that keeps Codex's built-in provider, base URL templated. */
export function codexOpenAiBaseUrlToml(): string {
  return templated(snippet("codex-openai-base-url"));
}

/** The `key: value` lines of a settings or YAML snippet (last one wins; indentation and `- ` dropped). */
export function settingLines(code: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of code.split("\n")) {
    const m = line.match(/^\s*(?:- )?([A-Za-z][\w ]*?):\s+(\S.*)$/);
    if (m) out[m[1]] = m[2].trim();
  }
  return out;
}

/** The string values of `key` (`key: "…"` or `key="…"`) in a code snippet, in order. */
export function stringOptions(code: string, key: string): string[] {
  const re = new RegExp(`\\b${key}\\s*[:=]\\s*"([^"]*)"`, "g");
  return [...code.matchAll(re)].map((m) => m[1]);
}

/** The result of {@linkcode runSnippet}. */
export interface SnippetRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** What Deno needs to find its cache, and nothing a client would read. */
function snippetEnv(): Record<string, string> {
  const env: Record<string, string> = { NO_COLOR: "1" };
  for (const name of ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  return env;
}

const DENO_CONFIG = fromFileUrl(new URL("../../deno.json", import.meta.url));

/**
 * Runs a TypeScript snippet as written, pointed at `baseUrl` instead of the
 * docs' address, in a Deno that may reach 127.0.0.1 only: a client that
 * ignored its base URL fails instead of going outside.
 */
export async function runSnippet(
  code: string,
  baseUrl: string,
): Promise<SnippetRun> {
  const dir = Deno.makeTempDirSync({ prefix: "flow-proxy-snippet-" });
  const file = `${dir}/snippet.ts`;
  Deno.writeTextFileSync(file, code.replaceAll(DOCS_BASE_URL, baseUrl));
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--config",
        DENO_CONFIG,
        "--no-prompt",
        "--allow-net=127.0.0.1",
        "--allow-env",
        "--allow-read",
        "--allow-sys",
        file,
      ],
      // No proxy variables and no keys of the user's: only what the snippet sets.
      env: snippetEnv(),
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const d = new TextDecoder();
    return {
      code: out.code,
      stdout: d.decode(out.stdout),
      stderr: d.decode(out.stderr),
    };
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}
