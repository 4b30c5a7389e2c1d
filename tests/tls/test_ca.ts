/**
 * A test certificate authority made by the test with `openssl`: a CA and
 * leaf certificates for localhost / 127.0.0.1, valid, expired, or for
 * other names.
 */

/** Whether `openssl` can be run here. */
export function hasOpenssl(): boolean {
  try {
    return new Deno.Command("openssl", { args: ["version"] }).outputSync()
      .success;
  } catch {
    return false;
  }
}

/** A CA in a temp directory. */
export interface TestCa {
  dir: string;
  /** The CA certificate, PEM (what clients trust). */
  caPem: string;
  caFile: string;
}

/** Files of one leaf certificate. */
export interface Leaf {
  certFile: string;
  keyFile: string;
}

function openssl(args: string[], cwd: string): void {
  const out = new Deno.Command("openssl", { args, cwd, stdin: "null" })
    .outputSync();
  if (!out.success) {
    throw new Error(
      `openssl ${args[0]} failed: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
}

/** Makes a CA (P-256) in a new temp directory. */
export function makeCa(): TestCa {
  const dir = Deno.makeTempDirSync({ prefix: "flow-proxy-tls-" });
  openssl([
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "2",
    "-subj",
    "/CN=flow-proxy test CA",
  ], dir);
  return {
    dir,
    caFile: `${dir}/ca.pem`,
    caPem: Deno.readTextFileSync(`${dir}/ca.pem`),
  };
}

/** Options of {@linkcode makeLeaf}. */
export interface LeafOptions {
  /** Validity in days from now; negative for an expired certificate. */
  days?: number;
  names?: string[];
  /** Key type: EC P-256 (default) or RSA 2048. */
  rsa?: boolean;
}

/** Issues a leaf certificate named `name` (files `<name>.pem`, `<name>.key`). */
export function makeLeaf(
  ca: TestCa,
  name: string,
  options: LeafOptions = {},
): Leaf {
  const names = options.names ?? ["DNS:localhost", "IP:127.0.0.1"];
  const keyArgs = options.rsa
    ? ["-newkey", "rsa:2048"]
    : ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];
  openssl([
    "req",
    ...keyArgs,
    "-nodes",
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.csr`,
    "-subj",
    "/CN=localhost",
  ], ca.dir);
  Deno.writeTextFileSync(
    `${ca.dir}/${name}.ext`,
    `subjectAltName=${names.join(",")}\n`,
  );
  openssl([
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    `${name}.pem`,
    "-days",
    String(options.days ?? 1),
    "-extfile",
    `${name}.ext`,
  ], ca.dir);
  Deno.chmodSync(`${ca.dir}/${name}.key`, 0o600);
  return {
    certFile: `${ca.dir}/${name}.pem`,
    keyFile: `${ca.dir}/${name}.key`,
  };
}

/** The SHA-256 fingerprint of a PEM certificate file, lower-case hex. */
export function fingerprintOf(certFile: string): string {
  const out = new Deno.Command("openssl", {
    args: ["x509", "-in", certFile, "-noout", "-fingerprint", "-sha256"],
  }).outputSync();
  const text = new TextDecoder().decode(out.stdout);
  return text.split("=")[1].trim().replaceAll(":", "").toLowerCase();
}

/** The serial number of a PEM certificate file, lower-case hex. */
export function serialOf(certFile: string): string {
  const out = new Deno.Command("openssl", {
    args: ["x509", "-in", certFile, "-noout", "-serial"],
  }).outputSync();
  const text = new TextDecoder().decode(out.stdout);
  return text.split("=")[1].trim().toLowerCase();
}

/** Copies a leaf's files over `target`'s (key first, as an operator would). */
export function install(leaf: Leaf, target: Leaf): void {
  Deno.writeTextFileSync(target.keyFile, Deno.readTextFileSync(leaf.keyFile));
  Deno.writeTextFileSync(target.certFile, Deno.readTextFileSync(leaf.certFile));
}
