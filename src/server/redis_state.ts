/**
 * Whether this instance reaches its Redis, as all its threads see it: one
 * value in the shared control block, set by every Redis link of the
 * instance (the supervisor's, each worker's, the ACME manager's). The link
 * that sees Redis go first logs the one WARNING of the instance, the one
 * that sees it back first the INFO; the others stay quiet. `/metrics` shows
 * it as `flow_proxy_redis_up`. Holds no Redis code: loaded without
 * `--redis-url` too.
 *
 * @module
 */
import { CONTROL } from "../base/shared_state.ts";

const UNKNOWN = 0;
const UP = 1;
const DOWN = 2;

/** Where a Redis link reports; see src/cluster/redis_link.ts `RedisLinkLogger`. */
export interface RedisStateLogger {
  warn(message: string): void;
  info(message: string): void;
}

/** Options of {@linkcode instanceRedisLogger}. */
export interface InstanceRedisLoggerOptions {
  /** What limits do while Redis is away, added to the WARNING (`--redis-limits-fail`). */
  limitsFail: "open" | "closed";
}

/**
 * A link logger that keeps the instance's Redis state in `control` and lets
 * only the first link to see a change log it.
 */
export function instanceRedisLogger(
  control: Int32Array,
  logger: RedisStateLogger,
  options: InstanceRedisLoggerOptions,
): RedisStateLogger {
  const fallback = options.limitsFail === "closed"
    ? "requests of keys with a rate limit or budget are refused with 503 limits_unavailable (--redis-limits-fail closed)"
    : "rate limits, concurrency limits and budgets are counted per instance, and spend is buffered until Redis is back (--redis-limits-fail open)";
  return {
    warn(message) {
      if (Atomics.exchange(control, CONTROL.REDIS_STATE, DOWN) === DOWN) return;
      logger.warn(`${message}; ${fallback}`);
    },
    info(message) {
      if (Atomics.exchange(control, CONTROL.REDIS_STATE, UP) !== DOWN) return;
      logger.info(message);
    },
  };
}

/** A link's `onState`: marks Redis reachable on a first connection, which logs nothing. */
export function redisStateListener(control: Int32Array): (up: boolean) => void {
  return (up) => {
    if (up) Atomics.compareExchange(control, CONTROL.REDIS_STATE, UNKNOWN, UP);
  };
}

/** True unless a link of this instance last saw Redis unreachable. */
export function redisUp(control: Int32Array): boolean {
  return Atomics.load(control, CONTROL.REDIS_STATE) !== DOWN;
}

const GAUGE = "flow_proxy_redis_up";

/** The `flow_proxy_redis_up` gauge (with `--redis-url` only). */
export function renderRedisMetrics(control: Int32Array): string {
  return `# HELP ${GAUGE} 1 while this instance reaches the Redis of --redis-url, 0 while it serves on its own state\n# TYPE ${GAUGE} gauge\n${GAUGE} ${
    redisUp(control) ? 1 : 0
  }\n`;
}
