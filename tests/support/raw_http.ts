/**
 * HTTP/1.1 requests written byte for byte on a TCP socket: `fetch` and curl
 * resolve dot segments and normalise method names before sending, so they
 * cannot send the requests an attacker would.
 */

/** A response as read off the socket. */
export interface RawResponse {
  status: number;
  /** Header names lowercased. */
  headers: Map<string, string>;
  body: string;
}

/** Options of {@linkcode rawRequest}. */
export interface RawRequestOptions {
  /** Extra header lines, e.g. `content-type: application/json`. */
  headers?: string[];
  body?: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** A response bigger than this is not what these tests expect. */
const MAX_RESPONSE_BYTES = 1024 * 1024;

/**
 * Sends `requestLine` (e.g. `GET /v1/../x HTTP/1.1`) to 127.0.0.1:`port`
 * with `Connection: close` and reads the response to the end of the stream.
 */
export async function rawRequest(
  port: number,
  requestLine: string,
  options: RawRequestOptions = {},
): Promise<RawResponse> {
  const body = options.body ?? "";
  const lines = [
    requestLine,
    `host: 127.0.0.1:${port}`,
    "connection: close",
    ...(options.headers ?? []),
  ];
  if (body.length > 0 || !requestLine.startsWith("GET")) {
    lines.push(`content-length: ${encoder.encode(body).byteLength}`);
  }
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(encoder.encode(lines.join("\r\n") + "\r\n\r\n" + body));
    const chunks: Uint8Array[] = [];
    let total = 0;
    const buf = new Uint8Array(16 * 1024);
    while (total < MAX_RESPONSE_BYTES) {
      const n = await conn.read(buf);
      if (n === null) break;
      chunks.push(buf.slice(0, n));
      total += n;
    }
    return parse(decoder.decode(concat(chunks, total)));
  } finally {
    conn.close();
  }
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

function parse(text: string): RawResponse {
  const headEnd = text.indexOf("\r\n\r\n");
  if (headEnd === -1) throw new Error(`Incomplete response: ${text}`);
  const [statusLine, ...headerLines] = text.slice(0, headEnd).split("\r\n");
  const status = Number(statusLine.split(" ")[1]);
  const headers = new Map<string, string>();
  for (const line of headerLines) {
    const colon = line.indexOf(":");
    headers.set(
      line.slice(0, colon).trim().toLowerCase(),
      line.slice(colon + 1).trim(),
    );
  }
  let body = text.slice(headEnd + 4);
  if (headers.get("transfer-encoding") === "chunked") body = unchunk(body);
  return { status, headers, body };
}

function unchunk(text: string): string {
  let out = "";
  let at = 0;
  for (;;) {
    const lineEnd = text.indexOf("\r\n", at);
    if (lineEnd === -1) return out;
    const size = parseInt(text.slice(at, lineEnd), 16);
    if (!(size > 0)) return out;
    out += text.slice(lineEnd + 2, lineEnd + 2 + size);
    at = lineEnd + 2 + size + 2;
  }
}

/** Reads until the peer closes: what was read, or null after `timeoutMs`. */
export async function readToClose(
  conn: Deno.Conn,
  timeoutMs: number,
): Promise<string | null> {
  const buf = new Uint8Array(4096);
  const decoder = new TextDecoder();
  let text = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), timeoutMs);
  });
  const read = (async () => {
    for (let i = 0; i < 1000; i++) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) return text;
      text += decoder.decode(buf.subarray(0, n));
    }
    return text;
  })();
  try {
    return await Promise.race([read, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
