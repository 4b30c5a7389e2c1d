/**
 * nginx configurations of the benchmark, written into a private prefix
 * directory: the upstream (fixed chat completion via `return 200`, streaming
 * paths forwarded to bench/upstream.ts) and the `proxy_pass` gateway with a
 * keepalive upstream block.
 *
 * @module
 */
import { BASE_PATH, CHAT_COMPLETION, CHAT_PATH } from "./payloads.ts";

/** Options of {@linkcode upstreamConfig}. */
export interface UpstreamConfigOptions {
  /** Directory for pid, logs and temp files (created). */
  prefix: string;
  port: number;
  /** Port of bench/upstream.ts, which serves SSE and the download. */
  streamPort: number;
  workers: number;
  /** `nginx -V` output, to leave out temp paths of modules not built in. */
  buildInfo: string;
}

/** Options of {@linkcode proxyConfig}. */
export interface ProxyConfigOptions {
  prefix: string;
  port: number;
  /** Port of the upstream nginx. */
  upstreamPort: number;
  workers: number;
  buildInfo: string;
  /** Sent upstream as `Authorization: Bearer …`, as a gateway would. */
  jwt: string;
}

function quote(text: string): string {
  if (text.includes("$")) {
    throw new TypeError("An nginx string here cannot hold '$'");
  }
  return `'${text.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

function common(
  prefix: string,
  workers: number,
  buildInfo: string,
): { main: string; http: string } {
  const user = Deno.uid() === 0 ? "user root root;\n" : "";
  const temps = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
    .filter((m) =>
      m === "client_body" || !buildInfo.includes(`--without-http_${m}_module`)
    )
    .map((m) => `  ${m}_temp_path ${prefix}/tmp/${m};`)
    .join("\n");
  const main = `${user}worker_processes ${workers};
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events {
  worker_connections 4096;
}
`;
  const http = `  access_log off;
${temps}
  keepalive_requests 10000000;
  keepalive_timeout 120s;
  tcp_nodelay on;
  sendfile on;
`;
  return { main, http };
}

/** The upstream: fixed JSON at `<BASE_PATH>/v1/chat/completions`, the rest streamed from bench/upstream.ts. */
export function upstreamConfig(options: UpstreamConfigOptions): string {
  const { main, http } = common(
    options.prefix,
    options.workers,
    options.buildInfo,
  );
  return `${main}http {
${http}
  upstream stream_backend {
    server 127.0.0.1:${options.streamPort};
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${options.port} backlog=4096;
    location = ${BASE_PATH}${CHAT_PATH} {
      default_type application/json;
      return 200 ${quote(CHAT_COMPLETION)};
    }
    location ${BASE_PATH}/ {
      proxy_pass http://stream_backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_request_buffering off;
    }
  }
}
`;
}

/** A gateway made of nginx alone: `proxy_pass` to the upstream over kept-alive connections. */
export function proxyConfig(options: ProxyConfigOptions): string {
  const { main, http } = common(
    options.prefix,
    options.workers,
    options.buildInfo,
  );
  return `${main}http {
${http}
  upstream flow_upstream {
    server 127.0.0.1:${options.upstreamPort};
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${options.port} backlog=4096;
    location / {
      proxy_pass http://flow_upstream${BASE_PATH}/;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Authorization ${quote(`Bearer ${options.jwt}`)};
      proxy_buffering off;
    }
  }
}
`;
}

/** Creates the prefix's directories and writes `nginx.conf`; returns its path. */
export function writeConfig(prefix: string, config: string): string {
  Deno.mkdirSync(`${prefix}/tmp`, { recursive: true });
  const path = `${prefix}/nginx.conf`;
  Deno.writeTextFileSync(path, config);
  return path;
}

/** Arguments that run nginx in the foreground on `conf`. */
export function nginxArgs(prefix: string, conf: string): string[] {
  return [
    "-p",
    prefix,
    "-e",
    `${prefix}/error.log`,
    "-c",
    conf,
    "-g",
    "daemon off;",
  ];
}
