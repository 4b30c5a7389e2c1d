/**
 * A tiny stand-in for Flow's LLM proxy, for scripts/smoke.sh: it accepts a
 * request only with a valid `Authorization: Bearer <jwt>` signed by one of the
 * entries of a secrets file, and answers `/v1/models` and
 * `/v1/chat/completions` (JSON, or SSE with `"stream": true`) under a base path.
 *
 * ```sh
 * deno run -A scripts/smoke_upstream.ts --secrets-file secrets.json --port-file port
 * ```
 * Listens on 127.0.0.1, port 0, and writes the port to `--port-file` once listening.
 */
import { Buffer } from "node:buffer";
import { createHmac, timingSafeEqual } from "node:crypto";
import { parseArgs } from "node:util";

/** Default base path, as Flow's production URL has. */
export const SMOKE_BASE_PATH = "/flow-llm-proxy";

/** The model `/v1/models` lists. */
export const SMOKE_MODEL = "smoke-model";

/** A credential the upstream accepts tokens from. */
export interface SmokeCredential {
  clientId: string;
  clientSecret: string;
  tenant: string;
}

/** Options of {@linkcode smokeUpstream}. */
export interface SmokeUpstreamOptions {
  /** Credentials whose tokens are accepted. */
  credentials: SmokeCredential[];
  /** Path prefix of every route; defaults to {@linkcode SMOKE_BASE_PATH}. */
  basePath?: string;
}

/** Returns the request handler of the mock upstream. */
export function smokeUpstream(
  options: SmokeUpstreamOptions,
): (req: Request) => Promise<Response> {
  const base = options.basePath ?? SMOKE_BASE_PATH;
  const credentials = options.credentials;
  const encoder = new TextEncoder();

  return async function smokeUpstream(req: Request): Promise<Response> {
    const auth = req.headers.get("authorization") ?? "";
    const token = auth.match(/^Bearer (\S+)$/)?.[1];
    if (!token || !verifyToken(token, credentials)) {
      return Response.json(
        {
          error: {
            message: "Missing or invalid bearer token",
            type: "authentication_error",
            code: 401,
          },
        },
        { status: 401 },
      );
    }
    const path = new URL(req.url).pathname;
    if (req.method === "GET" && path === `${base}/v1/models`) {
      return Response.json({
        object: "list",
        data: [{ id: SMOKE_MODEL, object: "model", owned_by: "smoke" }],
      });
    }
    if (req.method === "POST" && path === `${base}/v1/chat/completions`) {
      const body = await req.json();
      const last = body.messages?.at(-1)?.content;
      const content = `smoke-ok: ${typeof last === "string" ? last : ""}`;
      if (body.stream === true) {
        const events = [
          { choices: [{ index: 0, delta: { role: "assistant", content } }] },
          { choices: [{ index: 0, delta: {}, finish_reason: "stop" }] },
        ].map((chunk) =>
          `data: ${
            JSON.stringify({
              object: "chat.completion.chunk",
              model: body.model,
              ...chunk,
            })
          }\n\n`
        );
        events.push("data: [DONE]\n\n");
        return new Response(
          ReadableStream.from(events.map((e) => encoder.encode(e))),
          {
            headers: { "content-type": "text/event-stream" },
          },
        );
      }
      return Response.json({
        object: "chat.completion",
        model: body.model,
        choices: [{
          index: 0,
          message: { role: "assistant", content },
          finish_reason: "stop",
        }],
        usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 },
      });
    }
    return Response.json({
      error: {
        message: `No route ${req.method} ${path}`,
        type: "not_found",
        code: 404,
      },
    }, {
      status: 404,
    });
  };
}

/** True when `token` is an HS256 JWT whose payload is exactly one credential's three fields, signed with its secret. */
export function verifyToken(
  token: string,
  credentials: SmokeCredential[],
): boolean {
  const parts = token.split(".");
  if (parts.length !== 3) return false;
  let header: Record<string, unknown>;
  let payload: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(parts[0], "base64url").toString());
    payload = JSON.parse(Buffer.from(parts[1], "base64url").toString());
  } catch {
    return false;
  }
  if (
    header.alg !== "HS256" ||
    Object.keys(payload).toSorted().join() !== "clientId,clientSecret,tenant"
  ) {
    return false;
  }
  const credential = credentials.find((c) =>
    c.clientId === payload.clientId &&
    c.clientSecret === payload.clientSecret && c.tenant === payload.tenant
  );
  if (!credential) return false;
  const expected = createHmac("sha256", credential.clientSecret).update(
    `${parts[0]}.${parts[1]}`,
  ).digest();
  const actual = Buffer.from(parts[2], "base64url");
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      "secrets-file": { type: "string" },
      "port-file": { type: "string" },
      "base-path": { type: "string", default: SMOKE_BASE_PATH },
    },
  });
  if (!values["secrets-file"] || !values["port-file"]) {
    Deno.stderr.writeSync(
      new TextEncoder().encode(
        "usage: smoke_upstream.ts --secrets-file F --port-file F [--base-path P]\n",
      ),
    );
    Deno.exit(2);
  }
  const credentials = JSON.parse(
    await Deno.readTextFile(values["secrets-file"]),
  );
  const portFile = values["port-file"];
  const server = Deno.serve(
    {
      hostname: "127.0.0.1",
      port: 0,
      onListen({ port }) {
        // Written whole, then renamed, so a polling reader never sees half a number.
        Deno.writeTextFileSync(`${portFile}.tmp`, `${port}\n`);
        Deno.renameSync(`${portFile}.tmp`, portFile);
      },
    },
    smokeUpstream({ credentials, basePath: values["base-path"] }),
  );
  Deno.addSignalListener("SIGTERM", () => server.shutdown());
  await server.finished;
}
