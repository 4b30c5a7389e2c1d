/**
 * `--allow-ip`: which client addresses may use the proxy.
 *
 * Every address, IPv4 or IPv6, is handled as a 128-bit number, IPv4 as its
 * IPv4-mapped IPv6 form (`::ffff:a.b.c.d`), so that `10.0.0.0/8` also matches
 * a client that a dual-stack socket reports as `::ffff:10.1.2.3`.
 */

const V4_MAPPED = 0xffffn << 32n;
const ALL_ONES = (1n << 128n) - 1n;

interface Range {
  base: bigint;
  mask: bigint;
}

/** A parsed list of CIDR ranges. */
export class IpFilter {
  #ranges: readonly Range[];

  /** Use {@linkcode parseCidrs}. */
  constructor(ranges: readonly Range[]) {
    this.#ranges = ranges;
  }

  /** Whether `address` (as `Deno.NetAddr.hostname` gives it) is in one of the ranges; an empty list allows everyone. */
  allows(address: string): boolean {
    if (this.#ranges.length === 0) return true;
    const value = parseIpAddress(address);
    if (value === null) return false;
    for (const range of this.#ranges) {
      if ((value & range.mask) === range.base) return true;
    }
    return false;
  }
}

/**
 * Parses CIDR ranges such as `10.0.0.0/8`, `192.168.1.7`, `fd00::/8`,
 * `::ffff:10.0.0.0/104`; throws a `TypeError` naming the first bad entry.
 * Host bits below the prefix are ignored (`10.1.2.3/8` = `10.0.0.0/8`).
 */
export function parseCidrs(list: readonly string[]): IpFilter {
  const ranges: Range[] = [];
  for (const entry of list) {
    const text = entry.trim();
    const slash = text.indexOf("/");
    const addressText = slash < 0 ? text : text.slice(0, slash);
    const address = parseIpAddress(addressText);
    if (
      address === null || addressText.includes("%") ||
      addressText.startsWith("[")
    ) {
      throw new TypeError(
        `Invalid IP range "${entry}": not an IPv4 or IPv6 address`,
      );
    }
    const isV4 = !addressText.includes(":");
    const width = isV4 ? 32 : 128;
    let bits = width;
    if (slash >= 0) {
      const lengthText = text.slice(slash + 1);
      if (!/^\d{1,3}$/.test(lengthText) || Number(lengthText) > width) {
        throw new TypeError(
          `Invalid IP range "${entry}": prefix length must be 0 to ${width}`,
        );
      }
      bits = Number(lengthText);
    }
    const prefix = isV4 ? 96 + bits : bits;
    const mask = prefix === 0
      ? 0n
      : (ALL_ONES << BigInt(128 - prefix)) & ALL_ONES;
    ranges.push({ base: address & mask, mask });
  }
  return new IpFilter(ranges);
}

/** Whether `host` is a loopback address (`127.0.0.0/8`, `::1`, their mapped forms) or `localhost`. */
export function isLoopbackHost(host: string): boolean {
  if (host.toLowerCase() === "localhost") return true;
  const value = parseIpAddress(host);
  if (value === null) return false;
  return value === 1n || (value >> 24n) === ((V4_MAPPED >> 24n) | 127n);
}

/**
 * An IPv4 or IPv6 address as a 128-bit number (IPv4 mapped into IPv6), or
 * null when it is not one. Brackets and a zone (`fe80::1%eth0`) are accepted.
 */
export function parseIpAddress(text: string): bigint | null {
  let s = text;
  if (s.startsWith("[") && s.endsWith("]")) s = s.slice(1, -1);
  const zone = s.indexOf("%");
  if (zone >= 0) s = s.slice(0, zone);
  if (!s.includes(":")) {
    const v4 = parseIpv4(s);
    return v4 === null ? null : V4_MAPPED | v4;
  }
  return parseIpv6(s);
}

function parseIpv4(s: string): bigint | null {
  const parts = s.split(".");
  if (parts.length !== 4) return null;
  let value = 0n;
  for (const part of parts) {
    // Leading zeros are refused: some parsers read them as octal.
    if (!/^(0|[1-9]\d{0,2})$/.test(part)) return null;
    const n = Number(part);
    if (n > 255) return null;
    value = (value << 8n) | BigInt(n);
  }
  return value;
}

function parseIpv6(s: string): bigint | null {
  let tail4: bigint | null = null;
  let body = s;
  const lastColon = s.lastIndexOf(":");
  if (s.slice(lastColon + 1).includes(".")) {
    tail4 = parseIpv4(s.slice(lastColon + 1));
    if (tail4 === null) return null;
    // Keep a "::" right before the IPv4 part ("::1.2.3.4"); drop a single colon.
    body = s[lastColon - 1] === ":"
      ? s.slice(0, lastColon + 1)
      : s.slice(0, lastColon);
  }
  const groupsWanted = tail4 === null ? 8 : 6;
  const halves = body.split("::");
  if (halves.length > 2) return null;
  const parse = (part: string) => part === "" ? [] : part.split(":");
  const head = parse(halves[0]);
  const tail = halves.length === 2 ? parse(halves[1]) : [];
  const present = head.length + tail.length;
  if (
    halves.length === 1 ? present !== groupsWanted : present >= groupsWanted
  ) return null;
  const groups = [...head, ...Array(groupsWanted - present).fill("0"), ...tail];
  let value = 0n;
  for (const group of groups) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return null;
    value = (value << 16n) | BigInt(parseInt(group, 16));
  }
  if (tail4 !== null) value = (value << 32n) | tail4;
  return value;
}
