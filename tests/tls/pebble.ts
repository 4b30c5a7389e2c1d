/**
 * A local pebble (a small ACME server for tests) on free 127.0.0.1 ports:
 * its own HTTPS certificate from a test CA, HTTP-01 validation against
 * `httpPort`, and short certificate lifetimes on demand.
 */
import { freePort } from "../support/proxy.ts";
import { makeCa, makeLeaf, type TestCa } from "./test_ca.ts";

/** True when Debian's pebble is installed. */
export function hasPebble(): boolean {
  try {
    return Deno.statSync("/usr/bin/pebble").isFile;
  } catch {
    return false;
  }
}

/** A running pebble. */
export interface Pebble extends AsyncDisposable {
  /** The ACME directory URL. */
  directory: string;
  /** The CA of pebble's own HTTPS (what `--acme-ca-file` trusts). */
  ca: TestCa;
  /** The port pebble validates HTTP-01 challenges on. */
  httpPort: number;
  /** PEM root of the certificates pebble issues. */
  root(): Promise<string>;
  /** PEM intermediate that signs them. */
  intermediate(): Promise<string>;
  /** Certificates issued so far (from its log). */
  issued(): number;
  stop(): Promise<void>;
}

/** Options of {@linkcode startPebble}. */
export interface PebbleOptions {
  /** Lifetime of issued certificates, seconds (pebble's default: five years). */
  validitySeconds?: number;
}

/** Starts pebble and waits for its directory to answer. */
export async function startPebble(
  options: PebbleOptions = {},
): Promise<Pebble> {
  const ca = makeCa();
  const leaf = makeLeaf(ca, "pebble");
  const port = freePort();
  const management = freePort();
  const httpPort = freePort();
  const config = {
    pebble: {
      listenAddress: `127.0.0.1:${port}`,
      managementListenAddress: `127.0.0.1:${management}`,
      certificate: leaf.certFile,
      privateKey: leaf.keyFile,
      httpPort,
      tlsPort: freePort(),
      ocspResponderURL: "",
      externalAccountBindingRequired: false,
      ...(options.validitySeconds === undefined
        ? {}
        : { certificateValidityPeriod: options.validitySeconds }),
    },
  };
  const configFile = `${ca.dir}/pebble.json`;
  Deno.writeTextFileSync(configFile, JSON.stringify(config));
  const child = new Deno.Command("/usr/bin/pebble", {
    args: ["-config", configFile],
    env: { PEBBLE_VA_NOSLEEP: "1", PEBBLE_WFE_NONCEREJECT: "0" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let log = "";
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) log += decoder.decode(chunk);
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  const client = Deno.createHttpClient({ caCerts: [ca.caPem] });
  const get = async (url: string) => {
    const res = await fetch(url, { client });
    if (!res.ok) throw new Error(`${url}: ${res.status}`);
    return await res.text();
  };
  const directory = `https://127.0.0.1:${port}/dir`;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    client.close();
    child.kill("SIGTERM");
    await child.status;
    await pumps;
  };
  try {
    await waitFor(() => get(directory), 10_000);
  } catch (err) {
    await stop();
    throw new Error(`pebble did not start: ${log}`, { cause: err });
  }
  return {
    directory,
    ca,
    httpPort,
    root: () => get(`https://127.0.0.1:${management}/roots/0`),
    intermediate: () => get(`https://127.0.0.1:${management}/intermediates/0`),
    issued: () => log.match(/Issued certificate serial/g)?.length ?? 0,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

async function waitFor<T>(probe: () => Promise<T>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await probe();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/**
 * `serve`'s flags for a certificate for localhost from `pebble`, its state in
 * `stateDir`, challenges answered on `challengePort` (default the port
 * pebble validates on).
 */
export function acmeServeArgs(
  pebble: Pebble,
  stateDir: string,
  challengePort = pebble.httpPort,
): string[] {
  return [
    "--no-db",
    "--acme-domain",
    "localhost",
    "--acme-directory",
    pebble.directory,
    "--acme-ca-file",
    pebble.ca.caFile,
    "--acme-http-port",
    String(challengePort),
    "--acme-state-dir",
    stateDir,
  ];
}
