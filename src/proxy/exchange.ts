/**
 * One proxied request while it runs: its record, the client's link, the body
 * plan, and `finish`, which completes the record once, reports it and writes
 * the request's log line. One object per request, passed to the pieces of
 * src/proxy/ instead of closures that share its state.
 */
import type { RequestRecord } from "../request_log/record.ts";
import type { ApiFamily, ProxyErrorType } from "../base/api_errors.ts";
import { apiFamily } from "../base/api_family.ts";
import type { AccessDenial } from "../access/contract.ts";
import type { Usage } from "../observe/usage_tap.ts";
import type { HandlerContext } from "./context.ts";
import { ClientLink } from "./client_link.ts";
import type { BodyPlan } from "./request_body.ts";
import { errorAnswer } from "./error_answer.ts";
import type { TokenRedactor } from "./redact.ts";
import type { Watch } from "./deadlines.ts";
import { type ApiRoute, apiRoute } from "./api_route.ts";
import type { Translation } from "../translate/registry.ts";
import type { RequestContext } from "../translate/types.ts";
import type { ModelPrice } from "../models/types.ts";
import type { BudgetLease } from "../access/budget_table.ts";
import { costNanos } from "../models/price.ts";
import { benchOff } from "../base/bench_switches.ts";
import { logLine } from "../base/logging.ts";

/** A record's error: null, or the kind of failure. */
export type RecordError = RequestRecord["error"];

/** Where a proxied request goes, as the router found it. */
export interface ExchangeInit {
  req: Request;
  info: Deno.ServeHandlerInfo;
  /** The upstream URL. */
  target: string;
  /** The path relative to the proxy (for the record, logs and the error shape). */
  path: string;
  id: string;
  family: ApiFamily;
}

const NO_HEADERS: [string, string][] = [];
/** `FLOW_PROXY_BENCH_OFF=log` (bench/README.md): no per-request line. */
const LINE_OFF = benchOff("log");

/** One proxied request; `finish` completes it exactly once. */
export class Exchange {
  readonly context: HandlerContext;
  readonly req: Request;
  readonly info: Deno.ServeHandlerInfo;
  /** The upstream URL (a translation sends the request to another path). */
  target: string;
  readonly path: string;
  readonly id: string;
  readonly family: ApiFamily;
  readonly record: RequestRecord;
  /** `performance.now()` at arrival. */
  readonly started: number;
  /** The client's connection: `gone` once it left (while watched). */
  readonly link: ClientLink;
  /** The API the path is, for the models configuration; undefined for other paths. */
  readonly api: ApiRoute | undefined;
  /** The `anthropic-beta` to send instead of the client's (null: none); undefined: the client's. */
  betaHeader: string | null | undefined = undefined;
  /** The translation the request goes upstream through (src/proxy/translation.ts); null: none. */
  translation: Translation | null = null;
  /** The key's budget lease, settled when the request finishes. */
  lease: BudgetLease | null = null;
  /** The price of the model the request is sent as; null: unknown. */
  price: ModelPrice | null = null;
  /** What the translation was told of the request. */
  translationContext: RequestContext | null = null;
  /** Set when the request cannot be translated: the 400's message. */
  untranslatable: string | null = null;
  /** The request body, once planned. */
  body: BodyPlan | null = null;
  /** The credential of the current attempt. */
  credentialIndex: number | null = null;
  /** Headers access control adds to the answer (`x-ratelimit-*`). */
  extraHeaders: [string, string][] = NO_HEADERS;
  /** Strips the credentials' tokens from what the upstream sends back. */
  redactor: TokenRedactor | null = null;
  /**
   * The model the response named: not a record field (the log keeps the
   * model asked for), but the metrics' only trusted model label.
   */
  answeredModel: string | null = null;
  /** The current attempt's deadlines (set by the attempt loop before each fetch). */
  watch!: Watch;
  /** The current attempt's abort controller: deadlines and the client's leaving abort it. */
  controller!: AbortController;
  #finished = false;

  /** Starts the record; the observer's `started()` is balanced by `finish`. */
  constructor(context: HandlerContext, init: ExchangeInit) {
    this.context = context;
    this.req = init.req;
    this.info = init.info;
    this.target = init.target;
    this.path = init.path;
    this.id = init.id;
    this.family = init.family;
    this.api = apiRoute(init.path);
    this.started = performance.now();
    this.record = {
      id: init.id,
      ts: Date.now(),
      client: null,
      credential: null,
      method: init.req.method,
      path: init.path,
      model: null,
      status: 0,
      durationMs: 0,
      ttftMs: null,
      bytesIn: 0,
      bytesOut: 0,
      tokensIn: null,
      tokensOut: null,
      cacheReadTokens: null,
      cacheWriteTokens: null,
      error: null,
      attempts: 0,
      stream: false,
    };
    context.observer?.started();
    this.link = new ClientLink(init.req);
  }

  /** True once {@linkcode finish} ran. */
  get finished(): boolean {
    return this.#finished;
  }

  /** Completes the record (the first call only), reports it and logs the request. */
  finish(status: number, error: RecordError): void {
    if (this.#finished) return;
    this.#finished = true;
    const record = this.record;
    record.status = status;
    record.error = error;
    record.bytesIn = this.body?.sent() ?? 0;
    record.durationMs = Math.round((performance.now() - this.started) * 1000) /
      1000;
    const { observer, onRecord } = this.context;
    if (this.lease !== null) this.#settle(this.lease);
    observer?.finished(record, this.credentialIndex, {
      answeredModel: this.answeredModel,
    });
    onRecord?.(record);
    this.#log(status, error);
  }

  /** Charges the key's budget with what the answer reported (tokens in + out, cost). */
  #settle(lease: BudgetLease): void {
    const r = this.record;
    try {
      this.context.access?.settle(lease, {
        tokens: (r.tokensIn ?? 0) + (r.tokensOut ?? 0),
        nanos: r.costNanos ?? null,
      });
    } catch (err) {
      this.context.logger.error(
        `Cannot charge the budget of key '${lease.key}': ${err} [${this.id}]`,
      );
    }
  }

  #log(status: number, error: RecordError): void {
    const log = this.context.logger;
    const record = this.record;
    const warn = status >= 500 || error !== null;
    if (LINE_OFF && !warn) return;
    // Below the active level the line is not even built.
    if (!log.isEnabledFor(warn ? "warning" : "info")) return;
    const who = record.credential === null
      ? "no configuration"
      : `configuration '${record.credential}'`;
    const line = `Using ${who} for ${record.method} ${this.path}: ${
      status || "-"
    }${error ? ` (${error})` : ""} in ${
      record.durationMs.toFixed(1)
    } ms [${this.id}]${
      record.client === null ? "" : ` client '${record.client}'`
    }`;
    logLine(log, warn ? "warning" : "info", line);
  }

  /** An error of flow-proxy's own, in the client's shape; finishes the record with its type. */
  fail(
    type: ProxyErrorType,
    message: string,
    headers?: HeadersInit,
  ): Response {
    const res = errorAnswer(this.id, {
      family: this.family,
      type,
      message,
      headers,
    });
    this.finish(res.status, type);
    return res;
  }

  /** Answers a request access control refused, and finishes the record with the reason. */
  refuse(denial: AccessDenial): Response {
    this.record.client = denial.client;
    this.context.logger.warn(
      `Refused ${this.req.method} ${this.path} from ${
        peerAddress(this.info) || "unknown"
      }: ${denial.reason} [${this.id}]`,
    );
    // The shape follows the path as the client sent it, as it always has.
    const res = errorAnswer(this.id, {
      family: apiFamily(new URL(this.req.url).pathname),
      type: denial.type,
      message: denial.message,
      headers: denial.headers,
    });
    this.finish(res.status, denial.reason);
    return res;
  }

  /** The client left: status 0 in the record, 499 to nobody. */
  clientLeft(): Response {
    this.finish(0, "client_cancel");
    return new Response(null, { status: 499 });
  }

  /** Copies what the usage tap found into the record. */
  applyUsage(usage: Usage): void {
    const record = this.record;
    if (usage.model !== null) this.answeredModel = usage.model;
    record.ttftMs = usage.ttftMs;
    record.tokensIn = usage.tokensIn;
    record.tokensOut = usage.tokensOut;
    record.cacheReadTokens = usage.cacheReadTokens;
    record.cacheWriteTokens = usage.cacheWriteTokens;
    record.model ??= usage.model;
    if (this.price !== null) {
      // Usage is read in Flow's API: Anthropic's input tokens leave the cache out.
      const flowApi = this.translation?.to ?? this.api?.wire;
      record.costNanos = costNanos(this.price, usage, flowApi !== "messages");
      if (record.costNanos !== null) {
        record.costCurrency = this.context.models.config.currency;
      }
    }
  }
}

/** The peer's IP address; "" for a Unix socket. */
export function peerAddress(info: Deno.ServeHandlerInfo): string {
  const addr = info.remoteAddr as Deno.Addr;
  return "hostname" in addr ? addr.hostname : "";
}
