/**
 * Strips Flow tokens from what the upstream sends back. An upstream that
 * reflects request headers (an echo endpoint, a debug error) would otherwise
 * hand the client the JWT, whose payload carries the clientSecret in base64.
 *
 * This runs on every response, so the common case must cost little: one
 * UTF-8 decode (native) and a few `String.prototype.includes` (native) per
 * chunk. Every Flow payload segment begins with the base64url of
 * `{"clientId":`, so one marker finds the payload of any Flow token, of any
 * secrets generation; only the signatures, random by nature, are searched
 * one by one. Only on a hit is the chunk scanned byte for byte.
 *
 * A match is masked with as many bytes as it had (`[redacted]***…`): a body's
 * `Content-Length`, SSE framing and JSON strings stay valid.
 */

const MASK_LABEL = "[redacted]";
/** Bytes a token may be split across chunks with; a Flow token is a few hundred. */
const MAX_HOLD = 16 * 1024;
const utf8 = new TextDecoder();
// One UTF-16 code unit per byte, so a match's index is its byte offset.
const latin1 = new TextDecoder("latin1");
const encoder = new TextEncoder();

/** Whether `c` is a byte of a JWT segment (base64url) or its `.` separator. */
function isTokenByte(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) ||
    (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x5f || c === 0x2e;
}

/** `length` characters: the label, then `*`; all `*` when the label does not fit. */
function mask(length: number): string {
  return length > MASK_LABEL.length
    ? MASK_LABEL + "*".repeat(length - MASK_LABEL.length)
    : "*".repeat(length);
}

/** Sorted, non-overlapping ranges. */
function merge(ranges: [number, number][]): [number, number][] {
  if (ranges.length < 2) return ranges;
  ranges.sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [ranges[0]];
  for (const r of ranges.slice(1)) {
    const last = out[out.length - 1];
    if (r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
    else out.push(r);
  }
  return out;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Finds and masks the Flow tokens it was built with (see the module doc). */
export class TokenRedactor {
  /** Short strings whose absence proves a text holds no token part. */
  readonly #markers: string[];
  /** Needle prefixes that may start at the end of a chunk: markers, headers, signatures. */
  readonly #prefixes: Uint8Array[];
  readonly #maxPrefix: number;
  readonly #signatures: string[];
  readonly #tokens: RegExp;

  /** `tokens`: the JWTs to strip (with or without `Bearer `); their payload markers and signatures. */
  constructor(tokens: Iterable<string>) {
    const markers = new Set<string>();
    const headers = new Set<string>();
    const signatures = new Set<string>();
    for (const raw of tokens) {
      const token = raw.startsWith("Bearer ") ? raw.slice(7) : raw;
      const parts = token.split(".");
      if (parts.length !== 3 || parts[1].length < 16) continue;
      headers.add(parts[0]);
      // 16 base64url characters are exactly 12 bytes: `{"clientId":` for a
      // Flow token, the same for every credential.
      markers.add(parts[1].slice(0, 16));
      if (parts[2].length >= 16) signatures.add(parts[2]);
    }
    this.#signatures = [...signatures];
    this.#markers = [...markers, ...signatures];
    // A whole token cut in its payload is held from its header on, so it is
    // masked whole, as when it arrives in one chunk.
    this.#prefixes = [
      ...[...headers].flatMap((h) =>
        [...markers].map((m) => encoder.encode(`${h}.${m}`))
      ),
      ...[...markers, ...signatures].map((m) => encoder.encode(m)),
    ];
    this.#maxPrefix = Math.max(0, ...this.#prefixes.map((p) => p.length));
    const header = [...headers].map(escapeRegExp).join("|");
    const marker = [...markers].map(escapeRegExp).join("|");
    // The whole token when its header precedes the payload; the payload and
    // a signature after it in any case.
    this.#tokens = new RegExp(
      `(?:(?:${header || "(?!)"})\\.)?(?:${
        marker || "(?!)"
      })[A-Za-z0-9_-]*(?:\\.[A-Za-z0-9_-]*)?`,
      "g",
    );
  }

  /** True when there is nothing to look for. */
  get empty(): boolean {
    return this.#markers.length === 0;
  }

  /** Whether `text` may hold a token part (the cheap test). */
  #mayHold(text: string): boolean {
    for (const marker of this.#markers) if (text.includes(marker)) return true;
    return false;
  }

  /** A header value with every token part masked. */
  header(value: string): string {
    if (!this.#mayHold(value)) return value;
    let out = "";
    let at = 0;
    for (const [start, end] of merge(this.#ranges(value))) {
      out += value.slice(at, start) + mask(end - start);
      at = end;
    }
    return out + value.slice(at);
  }

  /** Where the token parts in `text` are, unsorted and possibly overlapping. */
  #ranges(text: string): [number, number][] {
    const ranges: [number, number][] = [];
    this.#tokens.lastIndex = 0;
    for (let m = this.#tokens.exec(text); m; m = this.#tokens.exec(text)) {
      ranges.push([m.index, m.index + m[0].length]);
    }
    for (const signature of this.#signatures) {
      for (
        let at = text.indexOf(signature);
        at !== -1;
        at = text.indexOf(signature, at + 1)
      ) ranges.push([at, at + signature.length]);
    }
    return ranges;
  }

  /** A whole body with every token part masked (the same array when none). */
  whole(bytes: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> {
    if (this.empty || !this.#mayHold(utf8.decode(bytes))) return bytes;
    return this.#mask(bytes, true).out;
  }

  /** A redactor for one streamed body. */
  stream(): StreamRedactor {
    return new StreamRedactor(this);
  }

  /**
   * Masks the matches in `bytes`. Not `final`: also says from where the end
   * of `bytes` must be held back because a token may continue in the next
   * chunk (`hold` = bytes.length when nothing is held).
   */
  #mask(
    bytes: Uint8Array<ArrayBuffer>,
    final: boolean,
  ): { out: Uint8Array<ArrayBuffer>; hold: number } {
    const ranges = merge(this.#ranges(latin1.decode(bytes)));
    let hold = bytes.length;
    if (!final) {
      const last = ranges.reduce((a, r) => r[1] > a[1] ? r : a, [0, 0]);
      // A match that runs to the end may be a token cut by the chunk.
      if (last[1] === bytes.length && bytes.length - last[0] <= MAX_HOLD) {
        hold = last[0];
      } else hold = this.holdFrom(bytes, last[1]);
    }
    if (ranges.length === 0) return { out: bytes, hold };
    const out = bytes.slice();
    for (const [start, end] of ranges) {
      if (end > hold) continue;
      out.set(encoder.encode(mask(end - start)), start);
    }
    return { out, hold };
  }

  /**
   * Where the end of `bytes` (from `from` on) may begin a token part: the
   * earliest offset of the trailing run of token bytes that is a prefix of a
   * marker, header or signature; `bytes.length` when there is none.
   */
  holdFrom(bytes: Uint8Array, from = 0): number {
    const end = bytes.length;
    let run = end;
    // Only a tail shorter than the longest prefix can begin one.
    const limit = Math.max(from, end - this.#maxPrefix + 1);
    while (run > limit && isTokenByte(bytes[run - 1])) run--;
    for (let p = run; p < end; p++) {
      for (const prefix of this.#prefixes) {
        if (prefix[0] !== bytes[p] || end - p >= prefix.length) continue;
        let k = 1;
        while (p + k < end && bytes[p + k] === prefix[k]) k++;
        if (p + k === end) return p;
      }
    }
    return end;
  }

  /** Masks one chunk of a stream (see {@linkcode StreamRedactor}). */
  chunk(
    bytes: Uint8Array<ArrayBuffer>,
    final: boolean,
  ): { out: Uint8Array<ArrayBuffer>; hold: number } {
    if (!this.#mayHold(utf8.decode(bytes))) {
      return { out: bytes, hold: final ? bytes.length : this.holdFrom(bytes) };
    }
    return this.#mask(bytes, final);
  }
}

/**
 * One body, chunk by chunk: the end of a chunk that may begin a token is held
 * back and scanned with the next chunk, so a token split across chunks is
 * still found. A chunk that ends in anything else (an SSE event's blank
 * line, a JSON brace) is passed on whole and at once.
 */
export class StreamRedactor {
  #redactor: TokenRedactor;
  #held: Uint8Array<ArrayBuffer> | null = null;

  constructor(redactor: TokenRedactor) {
    this.#redactor = redactor;
  }

  /** The bytes to send for `chunk` (possibly empty: all held back). */
  push(chunk: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> {
    let data = chunk;
    if (this.#held !== null) {
      data = new Uint8Array(this.#held.length + chunk.length);
      data.set(this.#held);
      data.set(chunk, this.#held.length);
      this.#held = null;
    }
    const { out, hold } = this.#redactor.chunk(data, false);
    if (hold === data.length) return out;
    this.#held = data.slice(hold);
    return out.subarray(0, hold);
  }

  /** What is still held back, masked, at the end of the body (null when nothing). */
  flush(): Uint8Array<ArrayBuffer> | null {
    const held = this.#held;
    this.#held = null;
    if (held === null) return null;
    return this.#redactor.chunk(held, true).out;
  }
}
