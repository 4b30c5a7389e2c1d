import assert from "node:assert/strict";
import { createSharedState } from "../../src/base/shared_state.ts";
import {
  instanceRedisLogger,
  redisStateListener,
  redisUp,
  renderRedisMetrics,
} from "../../src/server/redis_state.ts";

Deno.test("instanceRedisLogger(): the links of one instance log Redis going and coming back once", () => {
  const { control } = createSharedState();
  const lines: string[] = [];
  const sink = {
    warn: (m: string) => void lines.push(`WARN ${m}`),
    info: (m: string) => void lines.push(`INFO ${m}`),
  };
  const links = [1, 2, 3].map(() =>
    instanceRedisLogger(control, sink, { limitsFail: "open" })
  );
  redisStateListener(control)(true);
  assert.ok(redisUp(control));
  assert.match(renderRedisMetrics(control), /^flow_proxy_redis_up 1$/m);
  for (const link of links) link.warn("Redis at redis://h:6379 is unreachable");
  assert.deepEqual(lines, [
    "WARN Redis at redis://h:6379 is unreachable; rate limits, concurrency limits and budgets are counted per instance, and spend is buffered until Redis is back (--redis-limits-fail open)",
  ]);
  assert.equal(redisUp(control), false);
  assert.match(renderRedisMetrics(control), /^flow_proxy_redis_up 0$/m);
  for (const link of links) {
    link.info("Redis at redis://h:6379 is reachable again");
  }
  assert.equal(lines.length, 2);
  assert.equal(lines[1], "INFO Redis at redis://h:6379 is reachable again");
  assert.ok(redisUp(control));
});

Deno.test("instanceRedisLogger() with fail closed names the 503 in its WARNING", () => {
  const { control } = createSharedState();
  const lines: string[] = [];
  const link = instanceRedisLogger(control, {
    warn: (m) => void lines.push(m),
    info: () => {},
  }, { limitsFail: "closed" });
  link.warn("Redis at redis://h:6379 is unreachable");
  assert.match(
    lines[0],
    /503 limits_unavailable \(--redis-limits-fail closed\)/,
  );
});
