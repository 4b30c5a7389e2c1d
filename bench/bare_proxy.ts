/**
 * The floor flow-proxy is measured against: `Deno.serve` + `fetch`
 * passthrough, nothing else. With `--workers 1` it serves on the main
 * isolate and forwards the client's headers as they are; with `--workers N`
 * (N ≥ 2) it serves from N Web Workers sharing the port (`reusePort`), and an
 * `Atomics` counter in a SharedArrayBuffer picks one of 3 fixed JWTs per
 * request, the least a gateway of this design has to do.
 *
 * With `--contract` (1 isolate or N workers), it also does the least that flow-proxy's
 * contract makes any implementation do, and nothing else: keep the request
 * body in memory (failover must be able to send it again), give the upstream
 * call its own abort signal (deadlines, and a client that leaves cancels it),
 * and read a JSON response body in JavaScript (token usage is in it) before
 * sending it on; event streams and downloads pass through untouched. The gap
 * between the two bare proxies is the contract's floor; the gap above it is
 * flow-proxy's own.
 *
 * ```sh
 * deno run -A --unstable-net bench/bare_proxy.ts --port 8080 \
 *   --upstream http://127.0.0.1:9000/flow-llm-proxy --workers 2
 * ```
 * `GET /healthz` answers 200 once every worker listens.
 *
 * @module
 */
import { createHmac } from "node:crypto";
import { parseArgs } from "node:util";

/** What a worker needs to serve. */
interface WorkerInit {
  hostname: string;
  port: number;
  upstream: string;
  workers: number;
  shared: SharedArrayBuffer;
  contract: boolean;
}

const WORKER_NAME = "bare-proxy-worker";
const COUNTER = 0;
const LISTENING = 1;

function base64url(text: string | Uint8Array): string {
  const bytes = typeof text === "string"
    ? new TextEncoder().encode(text)
    : text;
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(
    /=+$/,
    "",
  );
}

/** An HS256 JWT shaped like Flow's: `{clientId, clientSecret, tenant}`. */
export function fixedJwt(index: number): string {
  const secret = `bench-client-secret-${index}-0123456789abcdef`;
  const header = base64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const payload = base64url(
    JSON.stringify({
      clientId: `bench-client-${index}`,
      clientSecret: secret,
      tenant: "bench",
    }),
  );
  const mac = createHmac("sha256", secret).update(`${header}.${payload}`)
    .digest();
  return `${header}.${payload}.${base64url(new Uint8Array(mac))}`;
}

/** The passthrough handler; `bearer` null forwards the client's headers untouched. */
export function bareHandler(
  upstream: string,
  options: {
    bearer: (() => string) | null;
    ready: () => boolean;
    contract?: boolean;
  },
): (req: Request) => Response | Promise<Response> {
  const bearer = options.bearer;
  if (options.contract) {
    return contractHandler(upstream, {
      ready: options.ready,
      bearer: bearer ?? (() => FIXED_BEARER),
    });
  }
  return function bareProxy(req: Request) {
    const url = new URL(req.url);
    if (url.pathname === "/healthz") {
      const ready = options.ready();
      return new Response(ready ? "ok\n" : "starting\n", {
        status: ready ? 200 : 503,
      });
    }
    let headers = req.headers;
    if (bearer !== null) {
      headers = new Headers(req.headers);
      headers.set("authorization", bearer());
    }
    return fetch(upstream + url.pathname + url.search, {
      method: req.method,
      headers,
      body: req.body,
      redirect: "manual",
    });
  };
}

const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding"]);

const FIXED_BEARER = `Bearer ${fixedJwt(0)}`;

/** `--contract`: see the module documentation. */
function contractHandler(
  upstream: string,
  options: { ready: () => boolean; bearer: () => string },
): (req: Request) => Promise<Response> {
  const { ready, bearer } = options;
  return async function contractProxy(req: Request) {
    const url = new URL(req.url);
    if (url.pathname === "/healthz") {
      return new Response(ready() ? "ok\n" : "starting\n", {
        status: ready() ? 200 : 503,
      });
    }
    const body = req.method === "GET" || req.method === "HEAD"
      ? null
      : new Uint8Array(await req.arrayBuffer());
    // The cheapest header handling measured: the request's as a list (a
    // served request's Headers cannot change); the response's appended to a
    // Response built without headers.
    const headers: [string, string][] = [["authorization", bearer()]];
    for (const entry of req.headers) {
      if (entry[0] !== "authorization" && entry[0] !== "host") {
        headers.push(entry);
      }
    }
    const controller = new AbortController();
    const res = await fetch(upstream + url.pathname + url.search, {
      method: req.method,
      headers,
      body,
      redirect: "manual",
      signal: controller.signal,
    });
    // Usage is read from JSON answers; streams and downloads pass through
    // as in the plain bare proxy (this floor is about the JSON hot path).
    const type = res.headers.get("content-type") ?? "";
    const length = Number(res.headers.get("content-length") ?? Infinity);
    if (!type.includes("json") || length > 1024 * 1024) return res;
    const bytes = await res.bytes();
    const out = new Response(bytes, { status: res.status });
    for (const [name, value] of res.headers) {
      if (!HOP_BY_HOP.has(name)) out.headers.append(name, value);
    }
    return out;
  };
}

function serveWorker(init: WorkerInit): void {
  const slots = new Int32Array(init.shared);
  const tokens = [0, 1, 2].map((i) => `Bearer ${fixedJwt(i)}`);
  Deno.serve(
    {
      hostname: init.hostname,
      port: init.port,
      reusePort: true,
      onListen() {
        Atomics.add(slots, LISTENING, 1);
      },
    },
    bareHandler(init.upstream, {
      bearer: () => tokens[Atomics.add(slots, COUNTER, 1) % tokens.length],
      ready: () => Atomics.load(slots, LISTENING) >= init.workers,
      contract: init.contract,
    }),
  );
}

function main(args: string[]): void {
  const { values } = parseArgs({
    args,
    options: {
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string" },
      upstream: { type: "string" },
      workers: { type: "string", default: "1" },
      contract: { type: "boolean", default: false },
    },
  });
  const port = Number(values.port);
  const workers = Number(values.workers);
  if (!values.upstream || !(port > 0 && port < 65536)) {
    throw new TypeError(
      "Usage: bare_proxy.ts --port <port> --upstream <url> [--workers <n>] [--contract] [--host <addr>]",
    );
  }
  if (!(Number.isInteger(workers) && workers >= 1)) {
    throw new RangeError(`Invalid --workers: ${values.workers}`);
  }
  const upstream = values.upstream.replace(/\/+$/, "");
  if (workers === 1) {
    Deno.serve(
      { hostname: values.host, port, onListen() {} },
      bareHandler(upstream, {
        bearer: null,
        ready: () => true,
        contract: values.contract,
      }),
    );
    return;
  }
  const shared = new SharedArrayBuffer(8);
  for (let i = 0; i < workers; i++) {
    const worker = new Worker(import.meta.url, {
      type: "module",
      name: WORKER_NAME,
    });
    const init: WorkerInit = {
      hostname: values.host,
      port,
      upstream,
      workers,
      shared,
      contract: values.contract,
    };
    worker.postMessage(init);
  }
}

if ((globalThis as { name?: string }).name === WORKER_NAME) {
  (self as unknown as Worker).onmessage = (event: MessageEvent<WorkerInit>) =>
    serveWorker(event.data);
} else if (import.meta.main) {
  main(Deno.args);
}
