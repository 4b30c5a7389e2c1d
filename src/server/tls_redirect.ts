/**
 * The plain-HTTP listener of `--http-redirect-port`: every request is
 * answered 308 with the same host, path and query on HTTPS, nothing else
 * (no proxying, no `/healthz`). It runs on the main thread with the same
 * connection limits as the HTTPS listener. With ACME it is the
 * `--acme-http-port` listener and also answers HTTP-01 challenges.
 *
 * @module
 */
import { type LimitedServer, serveWithLimits } from "./connection_limits.ts";

/** Options of {@linkcode startRedirect}. */
export interface RedirectOptions {
  hostname: string;
  /** Port of the plain-HTTP listener. */
  port: number;
  /** Port of the HTTPS listener, written into the Location unless 443. */
  httpsPort: number;
  headerTimeout: number;
  keepAliveTimeout: number;
  maxConnections: number;
  /** ACME HTTP-01: token → key authorization, answered under {@linkcode ACME_CHALLENGE_PATH}. */
  challenges?: ChallengeAnswers;
}

/**
 * Where the challenge listener finds a token's key authorization: this
 * instance's pending orders (a `Map` will do), or with Redis also another
 * instance's (src/server/acme/challenges.ts).
 */
export interface ChallengeAnswers {
  get(token: string): string | undefined | Promise<string | undefined>;
}

/** Where a CA fetches an HTTP-01 challenge: this path, then the token. */
export const ACME_CHALLENGE_PATH = "/.well-known/acme-challenge/";

/** Where a plain-HTTP request is sent: the same URL on HTTPS. */
export function redirectLocation(url: string, httpsPort: number): string {
  const target = new URL(url);
  target.protocol = "https:";
  target.port = httpsPort === 443 ? "" : String(httpsPort);
  return target.href;
}

/** The redirect's answer: 308 keeps the method and body of the request. */
export function redirectResponse(req: Request, httpsPort: number): Response {
  return new Response(null, {
    status: 308,
    headers: { location: redirectLocation(req.url, httpsPort) },
  });
}

/**
 * The answer to an HTTP-01 challenge request: the key authorization of a
 * pending token (200), 404 for another token, or null when the path is not
 * a challenge's.
 */
export function challengeResponse(
  req: Request,
  challenges: ChallengeAnswers,
): Promise<Response> | null {
  const path = new URL(req.url).pathname;
  if (!path.startsWith(ACME_CHALLENGE_PATH)) return null;
  return Promise.resolve(
    challenges.get(path.slice(ACME_CHALLENGE_PATH.length)),
  ).then((answer) =>
    answer === undefined
      ? new Response(null, { status: 404 })
      : new Response(answer, {
        headers: { "content-type": "application/octet-stream" },
      })
  );
}

/** Opens the redirect listener; throws when the port cannot be opened. */
export function startRedirect(options: RedirectOptions): LimitedServer {
  const challenges = options.challenges;
  const handler = (req: Request) =>
    (challenges && challengeResponse(req, challenges)) ??
      redirectResponse(req, options.httpsPort);
  const server = serveWithLimits({
    ...options,
    reusePort: false,
    onError: () => new Response(null, { status: 400 }),
  }, handler);
  if (server === null) {
    throw new Error(
      "This Deno cannot serve one connection at a time: --http-redirect-port needs it",
    );
  }
  return server;
}
