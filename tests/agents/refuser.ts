/**
 * The recording refuser: what HTTPS_PROXY/HTTP_PROXY point at inside the
 * namespace. It records the host of every CONNECT and absolute-URL request
 * (and whether a body came with it) and answers 403, so nothing a client
 * sends through a proxy goes anywhere, and the test can tell what it tried.
 */

/** One request the refuser turned away. */
export interface RefusedRequest {
  method: string;
  /** `host:port` of a CONNECT, or the host of an absolute URL. */
  host: string;
  /** The absolute URL for plain-HTTP requests, else null. */
  url: string | null;
  /** Bytes of body it carried (always 0 for CONNECT: the tunnel never opens). */
  bodyBytes: number;
}

/** A running refuser. */
export interface Refuser {
  url: string;
  refused: RefusedRequest[];
  close(): Promise<void>;
}

/** Starts the refuser on 127.0.0.1 (port 0). */
export function startRefuser(): Refuser {
  const refused: RefusedRequest[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (req) => {
      const body = req.body
        ? new Uint8Array(await req.arrayBuffer())
        : new Uint8Array();
      const url = new URL(req.url);
      refused.push({
        method: req.method,
        host: req.method === "CONNECT"
          ? (req.headers.get("host") ?? url.host)
          : url.host,
        url: req.method === "CONNECT" ? null : req.url,
        bodyBytes: body.byteLength,
      });
      return new Response("refused by the test's network jail\n", {
        status: 403,
        headers: { connection: "close" },
      });
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    refused,
    close: () => server.shutdown(),
  };
}
