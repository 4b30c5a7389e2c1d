/**
 * A mock of Flow's LLM proxy as it is known to behave (issue 14): LiteLLM in
 * front of AWS Bedrock. It checks the JWT like the real one, serves only
 * Flow's model names, refuses on Anthropic models what Bedrock refuses
 * (adaptive thinking, unknown `anthropic-beta` flags, `context_management`,
 * a `role: "system"` message, `max_tokens` over the model's limit) — each
 * rule switchable off — and answers as a tiny scripted model
 * (`mock_flow_llm.ts`). Every request and every refusal is recorded.
 */
import { decodeProtectedHeader, jwtVerify } from "jose";
import {
  answerChat,
  answerMessages,
  answerResponses,
} from "./mock_flow_llm.ts";
import {
  anthropicViolations,
  FLOW_MODELS,
  type FlowModel,
  type FlowRules,
  type FlowViolation,
  GENERIC_BEDROCK_CLAUDE,
  responsesRefusal,
  thinkingRefusal,
} from "./mock_flow_rules.ts";

export {
  anthropicRefusal,
  anthropicViolations,
  FLOW_MODELS,
  type FlowModel,
  type FlowRules,
  type FlowViolation,
  responsesRefusal,
  thinkingRefusal,
} from "./mock_flow_rules.ts";

/** A credential the mock accepts (the JWT is HS256 over exactly these claims). */
export interface FlowCredential {
  clientId: string;
  clientSecret: string;
  tenant: string;
}

/** How a WebSocket upgrade (`GET /v1/responses` with `Upgrade`) is answered. */
export type WebSocketAnswer = 400 | 404 | 405 | 426 | 501 | "close";

/** Options of {@linkcode MockFlow.start}. */
export interface MockFlowOptions {
  credentials: FlowCredential[];
  /** Base path, as Flow's `/flow-llm-proxy` (default). */
  basePath?: string;
  rules?: FlowRules;
  /** The served models (default {@linkcode FLOW_MODELS}). */
  models?: Record<string, FlowModel>;
  /** Answer to a WebSocket upgrade (default 405, what Flow answers a GET). */
  webSocket?: WebSocketAnswer;
  /** Skip the JWT check, for a client that talks to the mock directly. */
  acceptAnyToken?: boolean;
  /**
   * Keep an event stream open this long after its last event, as an upstream
   * that is slow to close: a client that hangs up on the final event then
   * leaves before the upstream is done.
   */
  lingerMs?: number;
}

/** One request as the mock saw it. */
export interface FlowRequest {
  /** Milliseconds since the mock started. */
  at: number;
  method: string;
  path: string;
  search: string;
  /** Headers without `authorization`. */
  headers: Record<string, string>;
  /** Parsed JSON body, or the text, or null. */
  body: unknown;
  clientId: string | null;
  /** The refusal's message when the mock refused it. */
  refused: string | null;
}

/** One refusal: which rule, on which model. */
export interface FlowRefusal {
  path: string;
  model: string;
  rule: keyof FlowRules | "jwt";
  message: string;
  /**
   * Every Bedrock rule the request breaks besides (for a model Flow does not
   * serve, judged as a generic Claude on Bedrock would be): the whole diff of
   * what must change, where Flow itself stops at the first.
   */
  alsoBreaks: FlowViolation[];
}

type Json = Record<string, unknown>;

function litellmError(status: number, message: string): Response {
  return Response.json(
    {
      error: {
        message,
        type: "invalid_request_error",
        param: null,
        code: String(status),
      },
    },
    { status },
  );
}

/** Checks the JWT as Flow does: HS256, typ JWT, claims exactly {clientId, clientSecret, tenant}. */
export async function verifyFlowJwt(
  authorization: string | null,
  credentials: FlowCredential[],
): Promise<{ clientId: string } | { error: string }> {
  if (!authorization?.startsWith("Bearer ")) {
    return { error: "no bearer token" };
  }
  const token = authorization.slice(7);
  try {
    const header = decodeProtectedHeader(token);
    if (header.alg !== "HS256" || header.typ !== "JWT") {
      return { error: "bad JWT header" };
    }
  } catch {
    return { error: "not a JWT" };
  }
  for (const c of credentials) {
    try {
      const { payload } = await jwtVerify(
        token,
        new TextEncoder().encode(c.clientSecret),
      );
      const keys = Object.keys(payload).sort().join(",");
      if (keys !== "clientId,clientSecret,tenant") {
        return { error: `bad claims ${keys}` };
      }
      if (
        payload.clientId !== c.clientId ||
        payload.clientSecret !== c.clientSecret ||
        payload.tenant !== c.tenant
      ) return { error: "claims do not match" };
      return { clientId: c.clientId };
    } catch {
      // Try the next secret.
    }
  }
  return { error: "signature matches no credential" };
}

/** A running mock Flow on 127.0.0.1. */
export class MockFlow {
  /** Every request, in order. */
  readonly requests: FlowRequest[] = [];
  /** Every refusal, in order. */
  readonly refusals: FlowRefusal[] = [];
  /** Answer to WebSocket upgrades; may be changed between requests. */
  webSocket: WebSocketAnswer;
  #server: Deno.HttpServer<Deno.NetAddr>;
  #options: MockFlowOptions;
  #basePath: string;
  #models: Record<string, FlowModel>;
  #started = performance.now();

  private constructor(options: MockFlowOptions) {
    this.#options = options;
    this.#basePath = options.basePath ?? "/flow-llm-proxy";
    this.#models = options.models ?? { ...FLOW_MODELS };
    this.webSocket = options.webSocket ?? 405;
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      (req) => this.#handle(req),
    );
  }

  /** Starts a mock Flow on a free port. */
  static start(options: MockFlowOptions): MockFlow {
    return new MockFlow(options);
  }

  /** Base URL including the base path, e.g. `http://127.0.0.1:1234/flow-llm-proxy`. */
  get url(): string {
    return `http://127.0.0.1:${this.#server.addr.port}${this.#basePath}`;
  }

  /** The model names of every request that named one, in order. */
  modelsSeen(): string[] {
    return this.requests.flatMap((r) => {
      const model = (r.body as Json | null)?.model;
      return typeof model === "string" ? [model] : [];
    });
  }

  /** Stops the server. */
  async close(): Promise<void> {
    await this.#server.shutdown();
  }

  /** Stops the server. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #refuse(
    seen: FlowRequest,
    refusal: Omit<FlowRefusal, "alsoBreaks"> & { alsoBreaks?: FlowViolation[] },
    status = 400,
  ): Response {
    seen.refused = refusal.message;
    this.refusals.push({ alsoBreaks: [], ...refusal });
    return litellmError(status, `litellm.BadRequestError: ${refusal.message}`);
  }

  async #handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const headers: Record<string, string> = {};
    for (const [k, v] of req.headers) if (k !== "authorization") headers[k] = v;
    const text = req.body ? await req.text() : "";
    let body: unknown = text || null;
    try {
      if (text) body = JSON.parse(text);
    } catch {
      // Keep the text.
    }
    const path = url.pathname.startsWith(this.#basePath)
      ? url.pathname.slice(this.#basePath.length)
      : url.pathname;
    const seen: FlowRequest = {
      at: Math.round(performance.now() - this.#started),
      method: req.method,
      path,
      search: url.search,
      headers,
      body,
      clientId: null,
      refused: null,
    };
    this.requests.push(seen);
    if (req.headers.get("upgrade")?.toLowerCase() === "websocket") {
      return this.#webSocketAnswer();
    }
    if (!this.#options.acceptAnyToken) {
      const verdict = await verifyFlowJwt(
        req.headers.get("authorization"),
        this.#options.credentials,
      );
      if ("error" in verdict) {
        return this.#refuse(seen, {
          path,
          model: "",
          rule: "jwt",
          message: `Unauthorized: ${verdict.error}`,
        }, 401);
      }
      seen.clientId = verdict.clientId;
    }
    if (req.method === "GET" && path === "/v1/models") {
      return Response.json({
        object: "list",
        data: Object.keys(this.#models).map((id) => ({
          id,
          object: "model",
          owned_by: "flow",
        })),
      });
    }
    if (req.method !== "POST") {
      return litellmError(405, "Method Not Allowed");
    }
    const json = (body && typeof body === "object" ? body : {}) as Json;
    const modelName = String(json.model ?? "");
    const rules = this.#options.rules ?? {};
    const model = this.#models[modelName];
    const anthropicPath = path === "/v1/messages" ||
      path === "/v1/messages/count_tokens";
    const beta = req.headers.get("anthropic-beta");
    if (!model && rules.knownModelsOnly !== false) {
      return this.#refuse(seen, {
        path,
        model: modelName,
        rule: "knownModelsOnly",
        message: `no healthy deployment for model '${modelName}'`,
        alsoBreaks: anthropicPath
          ? anthropicViolations(GENERIC_BEDROCK_CLAUDE, json, beta, rules)
          : [],
      });
    }
    if (anthropicPath) {
      const broken = model && model.api === "anthropic"
        ? anthropicViolations(model, json, beta, rules)
        : [];
      if (broken.length) {
        return this.#refuse(seen, {
          path,
          model: modelName,
          ...broken[0],
          alsoBreaks: broken.slice(1),
        });
      }
      if (path.endsWith("count_tokens")) {
        return Response.json({ input_tokens: Math.ceil(text.length / 4) });
      }
      return answerMessages(json);
    }
    if (path === "/v1/responses") {
      const refused = model ? responsesRefusal(modelName, model, rules) : null;
      if (refused !== null) {
        return this.#refuse(seen, { path, model: modelName, ...refused });
      }
      return this.#linger(answerResponses(json));
    }
    if (path === "/v1/chat/completions") {
      const refused = model ? thinkingRefusal(model, json, rules) : null;
      if (refused !== null) {
        return this.#refuse(seen, { path, model: modelName, ...refused });
      }
      return this.#linger(answerChat(json));
    }
    return litellmError(404, `Not Found: ${path}`);
  }

  /** `res` as is, or an event stream held open `lingerMs` after its last event. */
  #linger(res: Response): Response {
    const ms = this.#options.lingerMs ?? 0;
    if (ms <= 0 || !res.headers.get("content-type")?.includes("event-stream")) {
      return res;
    }
    const events = res.body!;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const held = new ReadableStream<Uint8Array>({
      async start(controller) {
        for await (const chunk of events) controller.enqueue(chunk);
        timer = setTimeout(() => {
          try {
            controller.close();
          } catch {
            // The client (flow-proxy) cancelled first.
          }
        }, ms);
      },
      cancel() {
        clearTimeout(timer);
      },
    });
    return new Response(held, { status: res.status, headers: res.headers });
  }

  #webSocketAnswer(): Response {
    if (this.webSocket === "close") {
      return new Response(null, {
        status: 400,
        headers: { connection: "close" },
      });
    }
    return litellmError(this.webSocket, "WebSocket upgrade refused");
  }
}
