/**
 * The nginx configuration of deploy/compose/ made runnable here: the
 * instances' names rewritten to 127.0.0.1 ports, the listener on a free port,
 * pid, logs and temp files in a private prefix. Everything else — the SSE
 * settings under test — is the shipped file, unchanged.
 */
import { join } from "node:path";

/** The shipped configuration. */
export const COMPOSE_NGINX = new URL(
  "../../deploy/compose/nginx.conf",
  import.meta.url,
);

/** Options of {@linkcode localNginxConfig}. */
export interface LocalNginxOptions {
  /** Directory for pid, logs and temp files (created). */
  prefix: string;
  /** Port nginx listens on (127.0.0.1). */
  port: number;
  /** Ports of flow-proxy-1, -2, -3 (in that order). */
  upstreams: number[];
}

/** The shipped nginx.conf rewritten for this machine; throws if a name to rewrite is missing. */
export function localNginxConfig(
  source: string,
  options: LocalNginxOptions,
): string {
  let text = source;
  const replace = (pattern: RegExp, by: string) => {
    if (!pattern.test(text)) {
      throw new Error(`nginx.conf has no ${pattern}`);
    }
    text = text.replace(pattern, by);
  };
  options.upstreams.forEach((port, i) =>
    replace(
      new RegExp(`server flow-proxy-${i + 1}:8899`),
      `server 127.0.0.1:${port}`,
    )
  );
  replace(/listen 8899;/, `listen 127.0.0.1:${options.port};`);
  replace(/pid \/tmp\/nginx\.pid;/, `pid ${options.prefix}/nginx.pid;`);
  replace(/worker_processes auto;/, "worker_processes 1;");
  const temps = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
    .map((m) => `  ${m}_temp_path ${options.prefix}/tmp/${m};`).join("\n");
  replace(/http \{\n/, `http {\n${temps}\n`);
  const user = Deno.uid() === 0 ? "user root root;\n" : "";
  return `${user}error_log ${options.prefix}/error.log warn;\n${text}`;
}

/** Writes the rewritten configuration into `prefix` and returns its path. */
export async function writeLocalNginx(
  options: LocalNginxOptions,
): Promise<string> {
  await Deno.mkdir(join(options.prefix, "tmp"), { recursive: true });
  const path = join(options.prefix, "nginx.conf");
  await Deno.writeTextFile(
    path,
    localNginxConfig(await Deno.readTextFile(COMPOSE_NGINX), options),
  );
  return path;
}

/** nginx's command-line arguments for a configuration in `prefix`. */
export function nginxArgs(prefix: string, conf: string): string[] {
  return ["-p", prefix, "-c", conf, "-e", join(prefix, "error.log")];
}
