/**
 * Rows for the features that came after the hot path was tuned, so a later
 * change that makes one of them slower shows: HTTPS against HTTP and Redis
 * shared state on against off (flow-proxy, 2 workers, one interleaved A/B
 * run), the rewrite of a ~200 KB Claude Code request (bench/rewrite_bench.ts)
 * and a translated stream's time to first token against pass-through
 * (bench/translate_bench.ts).
 *
 * @module
 */
import { type AbRow, abRow, runAb } from "./ab.ts";
import {
  freePort,
  type ProcessSet,
  type Spawned,
  waitForHttp,
} from "./procs.ts";
import { fixed, median, table } from "./report.ts";
import {
  childEnv,
  commandText,
  findBinary,
  flowProxyArgs,
  log,
  ROOT,
} from "./stack.ts";

/** What the extras need from the main run. */
export interface ExtrasInit {
  procs: ProcessSet;
  tmp: string;
  upstream: string;
  secretsFile: string;
  keyDb: string;
  /** wrk's script, with the client key. */
  script: string;
  seconds: number;
  repeats: number;
  warmupSeconds: number;
  ticksPerSecond: number;
  /** `--redis`: also measure flow-proxy with `--redis-url`. */
  redis: boolean;
  quick: boolean;
}

/** A CA and a certificate for 127.0.0.1 it signed, made with openssl. */
export interface TestCertificate {
  ca: string;
  cert: string;
  key: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  const out = await new Deno.Command("openssl", {
    args,
    cwd,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `Cannot make the benchmark's test certificate: openssl ${args[0]}: ${
        new TextDecoder().decode(out.stderr).trim()
      }`,
    );
  }
}

/** Makes a test CA and a P-256 certificate for `127.0.0.1`/`localhost` in `dir`. */
export async function makeTestCertificate(
  dir: string,
): Promise<TestCertificate> {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
  await openssl([
    "req",
    "-x509",
    ...ec,
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "2",
    "-subj",
    "/CN=flow-proxy bench CA",
  ], dir);
  await openssl([
    "req",
    ...ec,
    "-nodes",
    "-keyout",
    "server.key",
    "-out",
    "server.csr",
    "-subj",
    "/CN=127.0.0.1",
  ], dir);
  Deno.writeTextFileSync(
    `${dir}/san.ext`,
    "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
  );
  await openssl([
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "server.pem",
    "-days",
    "2",
    "-extfile",
    "san.ext",
  ], dir);
  return {
    ca: `${dir}/ca.pem`,
    cert: `${dir}/server.pem`,
    key: `${dir}/server.key`,
  };
}

/** Whether this build's `serve` takes `--redis-url` (the Redis branches landed). */
export async function redisUrlSupported(): Promise<boolean> {
  const help = await commandText(Deno.execPath(), [
    "run",
    "-A",
    `${ROOT}main.ts`,
    "serve",
    "--help",
  ]);
  return help.includes("--redis-url");
}

/** Starts redis-server on a free port without persistence; returns its URL. */
function startRedis(
  procs: ProcessSet,
  tmp: string,
): { url: string; process: Spawned } {
  const bin = findBinary("redis-server");
  if (bin === null) {
    throw new Error(
      "Cannot find redis-server for --redis: install it (Debian/Ubuntu: apt-get install redis-server)",
    );
  }
  const port = freePort();
  const process = procs.spawn([
    bin,
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--appendonly",
    "no",
    "--dir",
    tmp,
  ], { name: "redis", logDir: tmp });
  return { url: `redis://127.0.0.1:${port}`, process };
}

/** Runs the extras and returns their markdown section. */
export async function runExtras(init: ExtrasInit): Promise<string> {
  const { procs, tmp } = init;
  const env = childEnv();
  const parts: string[] = [];
  const rows: AbRow[] = [];
  const flow = (name: string, extra: string[]) => {
    const port = freePort();
    const dir = `${tmp}/extra-${rows.length}`;
    Deno.mkdirSync(dir);
    const args = flowProxyArgs({
      port,
      upstream: init.upstream,
      secretsFile: init.secretsFile,
      dir,
      workers: 2,
      keyDb: init.keyDb,
    });
    const tls = extra.includes("--tls-cert");
    const process = procs.spawn([...args, ...extra], {
      name: `extra-${rows.length}`,
      logDir: tmp,
      cwd: ROOT,
      env,
    });
    const row = abRow(
      name,
      `${tls ? "https" : "http"}://127.0.0.1:${port}`,
      process,
    );
    rows.push(row);
    return row;
  };
  flow("flow-proxy, 2 workers, HTTP", []);
  const certDir = `${tmp}/tls`;
  Deno.mkdirSync(certDir);
  const cert = await makeTestCertificate(certDir);
  flow("flow-proxy, 2 workers, HTTPS (P-256 test certificate)", [
    "--tls-cert",
    cert.cert,
    "--tls-key",
    cert.key,
  ]);
  let redisNote = "";
  if (init.redis) {
    if (await redisUrlSupported()) {
      const redis = startRedis(procs, tmp);
      flow("flow-proxy, 2 workers, HTTP, Redis shared state", [
        "--redis-url",
        redis.url,
      ]);
    } else {
      redisNote = "skipped: --redis-url not supported by this build";
    }
  } else {
    redisNote = "not run (give --redis)";
  }
  const client = Deno.createHttpClient({
    caCerts: [Deno.readTextFileSync(cert.ca)],
  });
  try {
    await Promise.all(rows.map((r) =>
      waitForHttp(`${r.base}/healthz`, {
        timeoutMs: 90_000,
        process: r.process,
        status: 200,
        client,
      })
    ));
  } finally {
    client.close();
  }
  await runAb(rows, {
    script: init.script,
    seconds: init.seconds,
    repeats: init.repeats,
    warmupSeconds: init.warmupSeconds,
    ticksPerSecond: init.ticksPerSecond,
    label: "TLS/Redis",
  });
  const base = rows[0];
  parts.push("\n### New features: HTTPS and Redis against plain HTTP\n\n");
  parts.push(table(
    [
      "flow-proxy",
      "RPS @50",
      "× HTTP",
      "CPU/req (µs)",
      "× HTTP",
      "p50 @1 (ms)",
      "errors",
    ],
    rows.map((r) => [
      r.name,
      fixed(median(r.rps), 0),
      fixed(median(r.rps) / median(base.rps), 2),
      fixed(median(r.cpuUs), 0),
      fixed(median(r.cpuUs) / median(base.cpuUs), 2),
      fixed(median(r.p50At1), 3),
      String(r.errors),
    ]),
  ));
  parts.push(
    `\nwrk keeps its connections open, so the HTTPS row is the cost of encryption per request, not of handshakes. Redis on vs off: ${
      redisNote || "measured above"
    }.\n`,
  );
  for (const r of rows) await procs.stop(r.process);
  parts.push(
    await subBench(
      "Rewrite of a ~200 KB Claude Code request (bench/rewrite_bench.ts, in-process)",
      ["run", "bench/rewrite_bench.ts", "--rounds", init.quick ? "20" : "300"],
    ),
  );
  parts.push(
    await subBench(
      "Translated streams against pass-through (bench/translate_bench.ts)",
      [
        "run",
        "-A",
        "bench/translate_bench.ts",
        "--rounds",
        init.quick ? "5" : "60",
      ],
    ),
  );
  return parts.join("");
}

/** Runs another benchmark script and returns its report under `title`, headings demoted. */
async function subBench(title: string, args: string[]): Promise<string> {
  log(title);
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env: childEnv(),
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(600_000),
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  if (!out.success) {
    return `\n### ${title}\n\nFailed (exit ${out.code}): ${
      new TextDecoder().decode(out.stderr).trim().slice(-500)
    }\n`;
  }
  return `\n### ${title}\n\n${text.replace(/^#+ /gm, "#### ")}\n`;
}
