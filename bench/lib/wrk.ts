/**
 * Runs wrk with a Lua script that POSTs the chat request and prints its
 * summary as one JSON line, so nothing depends on wrk's human output.
 *
 * @module
 */
import { CHAT_REQUEST } from "./payloads.ts";
import { clientHeaders } from "./client_key.ts";

/** One wrk run's result; latencies in ms. */
export interface WrkResult {
  requests: number;
  seconds: number;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  /** Connect, read, write and timeout errors plus non-2xx/3xx answers. */
  errors: number;
  /** Non-2xx/3xx answers alone. */
  badStatus: number;
}

/** Options of {@linkcode runWrk}. */
export interface WrkOptions {
  /** Path of the script from {@linkcode writeWrkScript}. */
  script: string;
  connections: number;
  threads: number;
  /** Run length in seconds. */
  seconds: number;
}

const MARK = "WRK_JSON ";

function luaString(text: string): string {
  return `"${text.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/** Writes the POST script to `path` (with the client key, once one exists). */
export function writeWrkScript(path: string): void {
  const extra = Object.entries(clientHeaders()).map(([name, value]) =>
    `wrk.headers[${luaString(name)}] = ${luaString(value)}\n`
  ).join("");
  Deno.writeTextFileSync(
    path,
    `wrk.method = "POST"
wrk.body = ${luaString(CHAT_REQUEST)}
wrk.headers["Content-Type"] = "application/json"
wrk.headers["User-Agent"] = "flow-proxy-bench"
${extra}
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "${MARK}{\\"requests\\":%d,\\"duration_us\\":%d,\\"connect\\":%d,\\"read\\":%d,\\"write\\":%d,\\"status\\":%d,\\"timeout\\":%d,\\"p50\\":%d,\\"p90\\":%d,\\"p99\\":%d}\\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99)))
end
`,
  );
}

/** Runs wrk against `url` and returns its summary. */
export async function runWrk(
  url: string,
  options: WrkOptions,
): Promise<WrkResult> {
  const args = [
    "-t",
    String(Math.min(options.threads, options.connections)),
    "-c",
    String(options.connections),
    "-d",
    `${Math.max(1, Math.round(options.seconds))}s`,
    "--timeout",
    "5s",
    "-s",
    options.script,
    url,
  ];
  const out = await new Deno.Command("wrk", {
    args,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout((options.seconds + 30) * 1000),
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const line = text.split("\n").find((l) => l.startsWith(MARK));
  if (!out.success || line === undefined) {
    throw new Error(
      `wrk failed on ${url} (exit ${out.code}): ${
        new TextDecoder().decode(out.stderr).trim() || text.trim()
      }`,
    );
  }
  const raw = JSON.parse(line.slice(MARK.length));
  const seconds = raw.duration_us / 1e6;
  return {
    requests: raw.requests,
    seconds,
    rps: raw.requests / seconds,
    p50: raw.p50 / 1000,
    p90: raw.p90 / 1000,
    p99: raw.p99 / 1000,
    errors: raw.connect + raw.read + raw.write + raw.timeout + raw.status,
    badStatus: raw.status,
  };
}
