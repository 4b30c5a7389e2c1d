/**
 * Per-client-key metrics: requests, errors and tokens by key name.
 *
 * Key names are known only after the access check, so these counters are
 * kept by the supervisor, which sees every request's record (in batches from
 * the workers) and is the only writer; every worker renders them from the
 * shared region. Layout of the `clients` region (its size, `CLIENTS_BYTES`,
 * is set in src/base/shared_state.ts; {@linkcode CLIENT_METRICS_BYTE_LENGTH}
 * is what this layout uses of it):
 *
 * ```
 * BigInt64  [slot × COUNTERS + c]   counters of slot (requests, errors, tokens in, tokens out)
 * names     the key-name table: a NameTable of MAX_CLIENTS × NAME_BYTES
 *           (layout in src/observe/name_table.ts)
 * ```
 * Slot MAX_CLIENTS collects every name beyond the table (`client="other"`).
 */
import type { Region } from "../base/shared_state.ts";
import { NameTable, nameTableBytes } from "./name_table.ts";
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
const NAMES_OFFSET = SLOTS * COUNTERS * 8;

/** Bytes the region must have. */
export const CLIENT_METRICS_BYTE_LENGTH = NAMES_OFFSET +
  nameTableBytes(MAX_CLIENTS, NAME_BYTES);

/** Counters by client key name, in shared memory. */
export class ClientMetrics {
  #counters: BigInt64Array;
  #names: NameTable;

  constructor(region: Region) {
    if (region.byteLength < CLIENT_METRICS_BYTE_LENGTH) {
      throw new RangeError(
        `Client metrics need ${CLIENT_METRICS_BYTE_LENGTH} bytes, the region has ${region.byteLength}`,
      );
    }
    const { buffer, byteOffset } = region;
    this.#counters = new BigInt64Array(buffer, byteOffset, SLOTS * COUNTERS);
    this.#names = new NameTable({
      buffer,
      byteOffset: byteOffset + NAMES_OFFSET,
      byteLength: CLIENT_METRICS_BYTE_LENGTH - NAMES_OFFSET,
    }, { capacity: MAX_CLIENTS, nameBytes: NAME_BYTES });
  }

  /** Counts finished requests (supervisor only: the single writer). */
  observe(records: readonly RequestRecord[]): void {
    for (const record of records) {
      if (record.client === null) continue;
      // The supervisor is the only writer: a name always gets the next free slot.
      const base = this.#names.slot(record.client, true) * COUNTERS;
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
    const rows: [string, number][] = [];
    this.#names.names().forEach((name, slot) => {
      if (name !== null) rows.push([name, slot]);
    });
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
}
