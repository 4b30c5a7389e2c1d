/**
 * The Lua scripts that make client-key limits exact across instances
 * (docs/architecture.md, "Limits across instances"). Each runs atomically
 * in Redis, on Redis's clock (`TIME`), so instances with skewed clocks
 * still agree. Every key a script touches carries the same hash tag
 * (`{name}`), so each script stays on one slot of a Redis Cluster.
 *
 * - `fpRate`: GCRA, the same algorithm as the per-instance limiter
 *   (src/access/rate_limit.ts): one value per key, the theoretical arrival
 *   time, in µs.
 * - `fpAdmit` / `fpSettle` / `fpRelease` / `fpRenew` / `fpSeed`: a budget's
 *   counters (a hash), its leases in flight (a sorted set by expiry, so the
 *   leases of an instance that died expire on their own; a hash of what each
 *   reserved) and the charges already counted (a sorted set by time: a
 *   charge sent twice, say once before a timeout and once from the spend
 *   buffer, is counted once).
 *
 * @module
 */
import type { Redis } from "ioredis";

/** The commands the scripts add to an ioredis client ({@linkcode defineLimitScripts}). */
export interface LimitCommands {
  /** KEYS rate; ARGV interval µs, capacity µs → [allowed 0/1, µs until full, µs until allowed]. */
  fpRate(key: string, interval: number, capacity: number): Promise<number[]>;
  /**
   * KEYS counters, leases, reserved, charged; ARGV period, lease id, tokens,
   * nanos, max parallel, token limit, spend limit (-1: none), lease ms →
   * [1] or [0, measure, used, limit, reserved 0/1].
   */
  fpAdmit(
    ...args: [string, string, string, string, ...(string | number)[]]
  ): Promise<(number | string)[]>;
  /**
   * KEYS as fpAdmit; ARGV lease id, period, tokens, nanos (-1: no price),
   * token limit, spend limit, keep ms → [-1] already charged, [0] period
   * over, or [1, tokens, nanos, thresholds crossed now (bits)].
   */
  fpSettle(
    ...args: [string, string, string, string, ...(string | number)[]]
  ): Promise<number[]>;
  /** KEYS as fpAdmit; ARGV lease id → 1 when the lease was held. */
  fpRelease(
    ...args: [string, string, string, string, string]
  ): Promise<number>;
  /** KEYS leases; ARGV lease ms, ids… → leases still held. */
  fpRenew(...args: (string | number)[]): Promise<number>;
  /** KEYS counters; ARGV period, tokens, nanos → 1 when seeded, 0 when Redis already counts the period. */
  fpSeed(
    key: string,
    period: number,
    tokens: number,
    nanos: number,
  ): Promise<number>;
}

/** A client with the limit scripts defined. */
export type LimitClient = Redis & LimitCommands;

/** How long a budget's counters are kept after their last change: past the longest period (a month). */
export const COUNTERS_KEEP_MS = 40 * 24 * 3600 * 1000;

const NOW_MS = `local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)`;

// Removes lease `id`, giving back what it reserved if it was reserved in
// the counters' current period.
const DROP = `local function drop(id, period)
  local held = redis.call('HGET', KEYS[3], id)
  if held then
    local p, t, n = string.match(held, '^(%d+) (%d+) (%d+)$')
    if tonumber(p) == period then
      if t ~= '0' then redis.call('HINCRBY', KEYS[1], 'rt', 0 - tonumber(t)) end
      if n ~= '0' then redis.call('HINCRBY', KEYS[1], 'rn', 0 - tonumber(n)) end
    end
    redis.call('HDEL', KEYS[3], id)
  end
  return redis.call('ZREM', KEYS[2], id)
end
local function period_of()
  return tonumber(redis.call('HGET', KEYS[1], 'period') or '0')
end
local function start(at)
  redis.call('HSET', KEYS[1], 'period', string.format('%.0f', at), 'tokens', 0, 'nanos', 0, 'rt', 0, 'rn', 0, 'flags', 0)
  redis.call('PEXPIRE', KEYS[1], ${COUNTERS_KEEP_MS})
end
-- Each script renews the TTL of the keys it adds to (a lease, a charge).
local function keep(first, last)
  for i = first, last do redis.call('PEXPIRE', KEYS[i], ${COUNTERS_KEEP_MS}) end
end`;

const RATE = `local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local interval = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local next = tat + interval
if next - now > capacity then
  return {0, tat - now, next - now - capacity}
end
redis.call('SET', KEYS[1], string.format('%.0f', next), 'PX', math.floor((next - now) / 1000) + 1000)
return {1, next - now, 0}`;

const ADMIT = `${NOW_MS}
${DROP}
local period = period_of()
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)) do drop(id, period) end
local at = tonumber(ARGV[1])
if period < at then start(at); period = at end
local in_flight = redis.call('ZCARD', KEYS[2])
local parallel = tonumber(ARGV[5])
if parallel >= 0 and in_flight >= parallel then
  return {0, 'parallel', in_flight, parallel, 0}
end
local current = period == at
local token_limit, spend_limit = tonumber(ARGV[6]), tonumber(ARGV[7])
local refused = nil
if current and (token_limit >= 0 or spend_limit >= 0) then
  local c = redis.call('HMGET', KEYS[1], 'tokens', 'rt', 'nanos', 'rn')
  local function over(measure, used, held, limit)
    if limit < 0 then return nil end
    used, held = tonumber(used or '0'), tonumber(held or '0')
    if used + held >= limit then
      local reserved = 0
      if used < limit then reserved = 1 end
      return {0, measure, used, limit, reserved}
    end
    return nil
  end
  refused = over('tokens', c[1], c[2], token_limit) or over('spend', c[3], c[4], spend_limit)
end
if refused then return refused end
local tokens, nanos = tonumber(ARGV[3]), tonumber(ARGV[4])
if not current then tokens, nanos = 0, 0 end
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[8]), ARGV[2])
redis.call('HSET', KEYS[3], ARGV[2], string.format('%.0f %.0f %.0f', at, tokens, nanos))
if tokens ~= 0 then redis.call('HINCRBY', KEYS[1], 'rt', tokens) end
if nanos ~= 0 then redis.call('HINCRBY', KEYS[1], 'rn', nanos) end
keep(2, 3)
return {1}`;

const SETTLE = `${NOW_MS}
${DROP}
if redis.call('ZADD', KEYS[4], 'NX', now, ARGV[1]) == 0 then return {-1} end
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now - tonumber(ARGV[7]))
local period = period_of()
drop(ARGV[1], period)
local at = tonumber(ARGV[2])
if period < at then start(at); period = at end
keep(4, 4)
if period ~= at then return {0} end
local tokens = redis.call('HINCRBY', KEYS[1], 'tokens', tonumber(ARGV[3]))
local c = redis.call('HMGET', KEYS[1], 'nanos', 'flags')
local nanos = tonumber(c[1] or '0')
if tonumber(ARGV[4]) > 0 then nanos = redis.call('HINCRBY', KEYS[1], 'nanos', tonumber(ARGV[4])) end
local flags = tonumber(c[2] or '0')
local crossed = 0
local function cross(used, limit, bit80, bit100)
  if limit < 0 then return end
  if used * 100 >= limit * 80 and flags % (bit80 * 2) < bit80 then crossed = crossed + bit80; flags = flags + bit80 end
  if used >= limit and flags % (bit100 * 2) < bit100 then crossed = crossed + bit100; flags = flags + bit100 end
end
cross(tokens, tonumber(ARGV[5]), 1, 2)
if tonumber(ARGV[4]) >= 0 then cross(nanos, tonumber(ARGV[6]), 4, 8) end
if crossed > 0 then redis.call('HSET', KEYS[1], 'flags', flags) end
return {1, tokens, nanos, crossed}`;

const RELEASE = `${DROP}
return drop(ARGV[1], period_of())`;

const RENEW = `${NOW_MS}
local held = 0
for i = 2, #ARGV do
  held = held + redis.call('ZADD', KEYS[1], 'XX', 'CH', now + tonumber(ARGV[1]), ARGV[i])
end
return held`;

const SEED =
  `local period = tonumber(redis.call('HGET', KEYS[1], 'period') or '0')
local at = tonumber(ARGV[1])
if period >= at then return 0 end
redis.call('HSET', KEYS[1], 'period', ARGV[1], 'tokens', ARGV[2], 'nanos', ARGV[3], 'rt', 0, 'rn', 0, 'flags', 0)
redis.call('PEXPIRE', KEYS[1], ${COUNTERS_KEEP_MS})
return 1`;

/** Adds the limit scripts to `client` (sent by SHA, loaded on first use); returns it typed. */
export function defineLimitScripts(client: Redis): LimitClient {
  const scripts: [keyof LimitCommands, number, string][] = [
    ["fpRate", 1, RATE],
    ["fpAdmit", 4, ADMIT],
    ["fpSettle", 4, SETTLE],
    ["fpRelease", 4, RELEASE],
    ["fpRenew", 1, RENEW],
    ["fpSeed", 1, SEED],
  ];
  for (const [name, numberOfKeys, lua] of scripts) {
    if (!(name in client)) client.defineCommand(name, { numberOfKeys, lua });
  }
  return client as LimitClient;
}

/**
 * The Redis keys of a budget counter `slot` (a key's name, `user:…`,
 * `team:…`): one hash tag, so one Cluster slot.
 */
export function budgetKeys(slot: string): [string, string, string, string] {
  const tag = `{${slot}}`;
  return [`bg:${tag}`, `bl:${tag}`, `bv:${tag}`, `bd:${tag}`];
}

/** The Redis key of a client key's rate limit. */
export function rateKey(name: string): string {
  return `rl:{${name}}`;
}
