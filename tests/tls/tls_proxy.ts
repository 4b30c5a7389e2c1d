/**
 * Starting `flow-proxy serve` with HTTPS for the tests, and looking at what
 * it serves: curl (protocol), `openssl s_client` (the certificate a new
 * connection gets), fetch with the test CA trusted.
 */
import {
  type ProxyProcess,
  startProxy,
  testCredentials,
  writeSecrets,
} from "../support/proxy.ts";
import { MockUpstream, type SeenRequest } from "../support/mock_upstream.ts";
import type { Behaviour } from "../support/mock_upstream.ts";
import type { Leaf, TestCa } from "./test_ca.ts";

/** A proxy serving HTTPS and its mock upstream. */
export interface TlsStack extends AsyncDisposable {
  proxy: ProxyProcess;
  upstream: MockUpstream;
  /** `https://localhost:<port>` */
  url: string;
  /** fetch that trusts the test CA. */
  client: Deno.HttpClient;
}

/** Options of {@linkcode startTlsStack}. */
export interface TlsStackOptions {
  ca: TestCa;
  leaf: Leaf;
  args?: string[];
  behave?: (req: SeenRequest) => Behaviour | undefined;
}

/** Starts a mock upstream and a proxy with `--tls-cert`/`--tls-key`. */
export async function startTlsStack(
  options: TlsStackOptions,
): Promise<TlsStack> {
  const creds = testCredentials(1);
  const upstream = MockUpstream.start({
    credentials: creds,
    behave: options.behave,
  });
  const proxy = await startProxy({
    upstream: upstream.url,
    secretsFile: writeSecrets(creds),
    waitHealthy: false,
    args: [
      "--no-db",
      "--tls-cert",
      options.leaf.certFile,
      "--tls-key",
      options.leaf.keyFile,
      ...(options.args ?? []),
    ],
  });
  const url = `https://localhost:${proxy.port}`;
  const client = Deno.createHttpClient({ caCerts: [options.ca.caPem] });
  try {
    await proxy.waitForLog(" ready on https://");
    await waitHealthy(url, client);
  } catch (err) {
    client.close();
    await proxy[Symbol.asyncDispose]();
    await upstream[Symbol.asyncDispose]();
    throw err;
  }
  return {
    proxy,
    upstream,
    url,
    client,
    async [Symbol.asyncDispose]() {
      client.close();
      await proxy[Symbol.asyncDispose]();
      await upstream[Symbol.asyncDispose]();
    },
  };
}

async function waitHealthy(url: string, client: Deno.HttpClient) {
  for (let i = 0; i < 100; i++) {
    const res = await fetch(`${url}/healthz`, { client }).catch(() => null);
    const ok = res?.status === 200;
    await res?.body?.cancel();
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url}/healthz never answered 200`);
}

/** Runs curl; stdout, stderr and the exit code. */
export async function curl(
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command("curl", {
    args: ["-sS", ...args],
    stdin: "null",
  }).output();
  const d = new TextDecoder();
  return {
    code: out.code,
    stdout: d.decode(out.stdout),
    stderr: d.decode(out.stderr),
  };
}

/** The SHA-256 fingerprint of the certificate a new connection to `port` gets. */
export async function servedFingerprint(port: number): Promise<string> {
  const client = await new Deno.Command("openssl", {
    args: [
      "s_client",
      "-connect",
      `127.0.0.1:${port}`,
      "-servername",
      "localhost",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).output();
  const x509 = new Deno.Command("openssl", {
    args: ["x509", "-noout", "-fingerprint", "-sha256"],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const writer = x509.stdin.getWriter();
  await writer.write(client.stdout);
  await writer.close();
  const text = new TextDecoder().decode((await x509.output()).stdout);
  const value = text.split("=")[1];
  if (value === undefined) throw new Error("no certificate was served");
  return value.trim().replaceAll(":", "").toLowerCase();
}
