/**
 * A mock Flow LLM proxy for tests: verifies the JWT of every request like
 * Flow would, records what it saw, and can be told how to misbehave.
 */
import { decodeProtectedHeader, jwtVerify } from "jose";

/** A credential the mock accepts. */
export interface MockCredential {
  clientId: string;
  clientSecret: string;
  tenant: string;
}

/** One request as the mock saw it. */
export interface SeenRequest {
  method: string;
  path: string;
  search: string;
  headers: Headers;
  /** clientId of a valid JWT, or null. */
  clientId: string | null;
  /** Why the JWT was refused, when it was. */
  jwtError: string | null;
  bodyLength: number;
  bodySha256: string | null;
  body: string;
}

/** What the mock does with one request. */
export type Behaviour =
  | { kind: "default" }
  | {
    kind: "status";
    status: number;
    headers?: Record<string, string>;
    body?: string;
  }
  /** Never answers (until the mock closes or the client leaves). */
  | { kind: "hang" }
  /** SSE events, optionally stalling (never sending more) or failing after `stopAfter` events. */
  | {
    kind: "sse";
    events: string[];
    delayMs?: number;
    stopAfter?: number;
    then?: "stall" | "reset";
  }
  | {
    kind: "bytes";
    size: number;
    contentType?: string;
    headers?: Record<string, string>;
  }
  /** Whatever the test builds. */
  | { kind: "respond"; respond: () => Response | Promise<Response> };

/** Options of {@linkcode MockUpstream.start}. */
export interface MockUpstreamOptions {
  credentials: MockCredential[];
  /** Base path of the mock, as Flow's `/flow-llm-proxy`. */
  basePath?: string;
  /** Decides per request; `{kind:"default"}` when it returns undefined. */
  behave?: (req: SeenRequest) => Behaviour | undefined;
}

const encoder = new TextEncoder();

/** A running mock upstream on 127.0.0.1. */
export class MockUpstream {
  readonly requests: SeenRequest[] = [];
  behave: (req: SeenRequest) => Behaviour | undefined;
  /** Requests whose response stream was cancelled by the proxy. */
  cancelled = 0;
  /** `hang` requests the proxy aborted before any answer. */
  abortedHangs = 0;
  #server: Deno.HttpServer<Deno.NetAddr>;
  #closing = Promise.withResolvers<void>();
  #credentials: MockCredential[];
  #basePath: string;
  #cancelWaiters: (() => void)[] = [];

  private constructor(options: MockUpstreamOptions) {
    this.#credentials = options.credentials;
    this.#basePath = options.basePath ?? "/flow-llm-proxy";
    this.behave = options.behave ?? (() => undefined);
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      (req) => this.#handle(req),
    );
  }

  /** Starts a mock on a free port. */
  static start(options: MockUpstreamOptions): MockUpstream {
    return new MockUpstream(options);
  }

  /** Base URL including the base path, e.g. `http://127.0.0.1:1234/flow-llm-proxy`. */
  get url(): string {
    return `http://127.0.0.1:${this.#server.addr.port}${this.#basePath}`;
  }

  get port(): number {
    return this.#server.addr.port;
  }

  /** Resolves when the proxy next cancels a response stream or aborts a `hang`. */
  nextCancel(): Promise<void> {
    return new Promise((resolve) => this.#cancelWaiters.push(resolve));
  }

  async close(): Promise<void> {
    this.#closing.resolve();
    await this.#server.shutdown();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #verify(
    header: string | null,
  ): Promise<{ clientId: string | null; error: string | null }> {
    if (!header?.startsWith("Bearer ")) {
      return { clientId: null, error: "no bearer token" };
    }
    const token = header.slice(7);
    let protectedHeader;
    try {
      protectedHeader = decodeProtectedHeader(token);
    } catch {
      return { clientId: null, error: "not a JWT" };
    }
    if (protectedHeader.alg !== "HS256" || protectedHeader.typ !== "JWT") {
      return { clientId: null, error: "bad JWT header" };
    }
    for (const c of this.#credentials) {
      try {
        const { payload } = await jwtVerify(
          token,
          encoder.encode(c.clientSecret),
        );
        const keys = Object.keys(payload).sort().join(",");
        if (keys !== "clientId,clientSecret,tenant") {
          return { clientId: null, error: `bad claims ${keys}` };
        }
        if (
          payload.clientId !== c.clientId || payload.tenant !== c.tenant ||
          payload.clientSecret !== c.clientSecret
        ) {
          return { clientId: null, error: "claims do not match" };
        }
        return { clientId: c.clientId, error: null };
      } catch {
        // Try the next secret.
      }
    }
    return { clientId: null, error: "signature matches no credential" };
  }

  async #handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const bytes = req.body
      ? new Uint8Array(await req.arrayBuffer())
      : new Uint8Array();
    const { clientId, error } = await this.#verify(
      req.headers.get("authorization"),
    );
    const seen: SeenRequest = {
      method: req.method,
      path: url.pathname,
      search: url.search,
      headers: req.headers,
      clientId,
      jwtError: error,
      bodyLength: bytes.byteLength,
      bodySha256: bytes.byteLength ? await sha256(bytes) : null,
      body: bytes.byteLength <= 64 * 1024
        ? new TextDecoder().decode(bytes)
        : "",
    };
    this.requests.push(seen);
    const behaviour = this.behave(seen) ?? { kind: "default" };
    switch (behaviour.kind) {
      case "status":
        return new Response(
          behaviour.body ??
            JSON.stringify({ error: { message: `mock ${behaviour.status}` } }),
          {
            status: behaviour.status,
            headers: {
              "content-type": "application/json",
              ...behaviour.headers,
            },
          },
        );
      case "hang":
        await Promise.race([this.#closing.promise, abortPromise(req.signal)]);
        if (req.signal.aborted) {
          this.abortedHangs++;
          for (const w of this.#cancelWaiters.splice(0)) w();
        }
        return new Response("closing", { status: 503 });
      case "sse":
        return this.#sse(behaviour);
      case "respond":
        return await behaviour.respond();
      case "bytes":
        return new Response(patternStream(behaviour.size), {
          headers: {
            "content-type": behaviour.contentType ?? "application/octet-stream",
            "content-length": String(behaviour.size),
            ...behaviour.headers,
          },
        });
    }
    if (clientId === null) {
      return Response.json({
        error: { message: `Unauthorized: ${error}`, type: "auth_error" },
      }, { status: 401 });
    }
    return this.#default(url.pathname.slice(this.#basePath.length), seen);
  }

  #default(path: string, seen: SeenRequest): Response {
    if (path === "/v1/models") {
      return Response.json({
        object: "list",
        data: [{ id: "gpt-4o", object: "model" }],
      });
    }
    if (path === "/upload") {
      return Response.json({
        length: seen.bodyLength,
        sha256: seen.bodySha256,
      });
    }
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(seen.body);
    } catch {
      // Not JSON: answer as for an empty body.
    }
    const model = typeof body.model === "string" ? body.model : "gpt-4o";
    if (path === "/v1/chat/completions") {
      if (body.stream) {
        return this.#sse({ kind: "sse", events: openAiEvents(model) });
      }
      return Response.json({
        id: "chatcmpl-1",
        object: "chat.completion",
        model,
        choices: [{
          index: 0,
          message: { role: "assistant", content: "Hello from mock" },
          finish_reason: "stop",
        }],
        usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 },
      });
    }
    if (path === "/v1/messages") {
      if (body.stream) {
        return this.#sse({ kind: "sse", events: anthropicEvents(model) });
      }
      return Response.json({
        id: "msg_1",
        type: "message",
        role: "assistant",
        model,
        content: [{ type: "text", text: "Hello from mock" }],
        stop_reason: "end_turn",
        usage: { input_tokens: 11, output_tokens: 4 },
      });
    }
    return Response.json({ error: { message: `mock: no route ${path}` } }, {
      status: 404,
    });
  }

  #sse(b: Extract<Behaviour, { kind: "sse" }>): Response {
    const closing = this.#closing.promise;
    const waiters = this.#cancelWaiters;
    let sent = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stream = new ReadableStream<Uint8Array>({
      pull: async (ctrl) => {
        if (b.stopAfter !== undefined && sent >= b.stopAfter) {
          if (b.then === "reset") {
            ctrl.error(new Error("mock reset"));
            return;
          }
          await closing; // stall until the mock closes
          ctrl.close();
          return;
        }
        if (sent >= b.events.length) {
          ctrl.close();
          return;
        }
        if (b.delayMs && sent > 0) {
          await new Promise<void>((resolve) =>
            timer = setTimeout(resolve, b.delayMs)
          );
        }
        ctrl.enqueue(encoder.encode(b.events[sent++]));
      },
      cancel: () => {
        clearTimeout(timer);
        this.cancelled++;
        for (const w of waiters.splice(0)) w();
      },
    }, { highWaterMark: 0 });
    return new Response(stream, {
      headers: {
        "content-type": "text/event-stream",
        "cache-control": "no-cache",
      },
    });
  }
}

function abortPromise(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

/** Deterministic bytes of any size: byte i is (i * 31 + 7) & 255. */
export function patternBytes(
  offset: number,
  length: number,
): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = ((offset + i) * 31 + 7) & 255;
  return out;
}

function patternStream(size: number): ReadableStream<Uint8Array> {
  let offset = 0;
  const chunk = 64 * 1024;
  return new ReadableStream({
    pull(ctrl) {
      if (offset >= size) return ctrl.close();
      const n = Math.min(chunk, size - offset);
      ctrl.enqueue(patternBytes(offset, n));
      offset += n;
    },
  });
}

/** Hex SHA-256 of bytes. */
export async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    bytes as Uint8Array<ArrayBuffer>,
  );
  return Array.from(
    new Uint8Array(digest),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}

/** OpenAI chat-completion SSE events, each a complete `data:` event. */
export function openAiEvents(
  model: string,
  words = ["Hello", " from", " mock"],
): string[] {
  const chunk = (
    delta: Record<string, unknown>,
    finish: string | null = null,
  ) =>
    `data: ${
      JSON.stringify({
        id: "chatcmpl-1",
        object: "chat.completion.chunk",
        model,
        choices: [{ index: 0, delta, finish_reason: finish }],
      })
    }\n\n`;
  return [
    chunk({ role: "assistant", content: "" }),
    ...words.map((w) => chunk({ content: w })),
    chunk({}, "stop"),
    `data: ${
      JSON.stringify({
        id: "chatcmpl-1",
        object: "chat.completion.chunk",
        model,
        choices: [],
        usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 },
      })
    }\n\n`,
    "data: [DONE]\n\n",
  ];
}

/** Anthropic Messages SSE events. */
export function anthropicEvents(
  model: string,
  words = ["Hello", " from", " mock"],
): string[] {
  const ev = (type: string, data: Record<string, unknown>) =>
    `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
  return [
    ev("message_start", {
      message: {
        id: "msg_1",
        type: "message",
        role: "assistant",
        model,
        content: [],
        stop_reason: null,
        usage: { input_tokens: 11, output_tokens: 1 },
      },
    }),
    ev("content_block_start", {
      index: 0,
      content_block: { type: "text", text: "" },
    }),
    ...words.map((w) =>
      ev("content_block_delta", {
        index: 0,
        delta: { type: "text_delta", text: w },
      })
    ),
    ev("content_block_stop", { index: 0 }),
    ev("message_delta", {
      delta: { stop_reason: "end_turn" },
      usage: { output_tokens: 4 },
    }),
    ev("message_stop", {}),
  ];
}
