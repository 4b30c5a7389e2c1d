/**
 * Per-client-key metrics: requests, errors and tokens by key name.
 *
 * Key names are known only after the access check, so these counters are
 * kept by the supervisor, which sees every request's record (in batches from
 * the workers) and is the only writer; every worker renders them from the
 * shared region. Layout of the region:
 *
 * ```
 * Int32     [0]                  names in the table
 * Int32     [1 + i]              byte length of name i
 * BigInt64  [i × COUNTERS + c]   counters of name i (requests, errors, tokens in, tokens out)
 * Uint8     [i][NAME_BYTES]      name i, UTF-8
 * ```
 * Slot MAX_CLIENTS collects every name beyond the table (`client="other"`).
 */
import type { Region } from "../base/shared_state.ts";
import { PrometheusTextWriter } from "./prometheus_text.ts";
import type { RequestRecord } from "../request_log/record.ts";

/** Most client names kept as labels; later ones count as `client="other"`. */
export const MAX_CLIENTS = 64;
const NAME_BYTES = 64;
const COUNTERS = 4;
const REQUESTS = 0;
const ERRORS = 1;
const TOKENS_IN = 2;
const TOKENS_OUT = 3;
const SLOTS = MAX_CLIENTS + 1;
const INT_BYTES = (1 + MAX_CLIENTS) * 4;
const COUNTERS_OFFSET = Math.ceil(INT_BYTES / 8) * 8;
const NAMES_OFFSET = COUNTERS_OFFSET + SLOTS * COUNTERS * 8;

/** Bytes the region must have. */
export const CLIENT_METRICS_BYTE_LENGTH = NAMES_OFFSET +
  MAX_CLIENTS * NAME_BYTES;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Counters by client key name, in shared memory. */
export class ClientMetrics {
  #int: Int32Array;
  #counters: BigInt64Array;
  #names: Uint8Array;
  #slots = new Map<string, number>();

  constructor(region: Region) {
    if (region.byteLength < CLIENT_METRICS_BYTE_LENGTH) {
      throw new RangeError(
        `Client metrics need ${CLIENT_METRICS_BYTE_LENGTH} bytes, the region has ${region.byteLength}`,
      );
    }
    const { buffer, byteOffset } = region;
    this.#int = new Int32Array(buffer, byteOffset, 1 + MAX_CLIENTS);
    this.#counters = new BigInt64Array(
      buffer,
      byteOffset + COUNTERS_OFFSET,
      SLOTS * COUNTERS,
    );
    this.#names = new Uint8Array(
      buffer,
      byteOffset + NAMES_OFFSET,
      MAX_CLIENTS * NAME_BYTES,
    );
  }

  /** Counts finished requests (supervisor only: the single writer). */
  observe(records: readonly RequestRecord[]): void {
    for (const record of records) {
      if (record.client === null) continue;
      const base = this.#slot(record.client) * COUNTERS;
      Atomics.add(this.#counters, base + REQUESTS, 1n);
      if (record.status >= 400 || record.status === 0) {
        Atomics.add(this.#counters, base + ERRORS, 1n);
      }
      if (record.tokensIn) {
        Atomics.add(this.#counters, base + TOKENS_IN, BigInt(record.tokensIn));
      }
      if (record.tokensOut) {
        Atomics.add(
          this.#counters,
          base + TOKENS_OUT,
          BigInt(record.tokensOut),
        );
      }
    }
  }

  /** The client families of a scrape, in Prometheus text format. */
  render(): string {
    const out = new PrometheusTextWriter();
    const count = Atomics.load(this.#int, 0);
    const rows: [string, number][] = [];
    for (let i = 0; i < count; i++) {
      const size = Atomics.load(this.#int, 1 + i);
      const start = i * NAME_BYTES;
      rows.push([decoder.decode(this.#names.subarray(start, start + size)), i]);
    }
    if (this.#value(MAX_CLIENTS, REQUESTS) > 0n) {
      rows.push(["other", MAX_CLIENTS]);
    }
    out.family(
      "flow_proxy_client_requests_total",
      "counter",
      "Requests by client key name (counted when their record reaches the supervisor)",
    );
    for (const [client, slot] of rows) {
      out.sample(
        "flow_proxy_client_requests_total",
        { client },
        this.#value(slot, REQUESTS),
      );
    }
    out.family(
      "flow_proxy_client_errors_total",
      "counter",
      "Requests by client key name answered with 4xx/5xx or not answered",
    );
    for (const [client, slot] of rows) {
      out.sample(
        "flow_proxy_client_errors_total",
        { client },
        this.#value(slot, ERRORS),
      );
    }
    out.family(
      "flow_proxy_client_tokens_total",
      "counter",
      "Tokens reported by the upstream, by client key name and direction",
    );
    for (const [client, slot] of rows) {
      out.sample(
        "flow_proxy_client_tokens_total",
        { client, direction: "in" },
        this.#value(slot, TOKENS_IN),
      );
      out.sample(
        "flow_proxy_client_tokens_total",
        { client, direction: "out" },
        this.#value(slot, TOKENS_OUT),
      );
    }
    return out.toString();
  }

  #value(slot: number, counter: number): bigint {
    return Atomics.load(this.#counters, slot * COUNTERS + counter);
  }

  #slot(name: string): number {
    const known = this.#slots.get(name);
    if (known !== undefined) return known;
    const count = Atomics.load(this.#int, 0);
    if (count >= MAX_CLIENTS) return MAX_CLIENTS;
    const bytes = encoder.encode(name).subarray(0, NAME_BYTES);
    this.#names.set(bytes, count * NAME_BYTES);
    Atomics.store(this.#int, 1 + count, bytes.byteLength);
    // Published last: a reader sees the name complete or not at all.
    Atomics.store(this.#int, 0, count + 1);
    this.#slots.set(name, count);
    return count;
  }
}
