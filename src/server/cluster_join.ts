/**
 * Joins the instances sharing a Redis when `--redis-url` is set, loading
 * src/cluster/ (and ioredis) with `import()` only then: an instance alone
 * pays nothing for the feature (tests/server/module_graph_test.ts).
 *
 * @module
 */
import type { Cluster, ClusterOptions } from "../cluster/cluster.ts";

export type { Cluster };

/** The cluster of `options.settings.redisUrl`, or null when none is configured. */
export async function joinCluster(
  options: ClusterOptions,
): Promise<Cluster | null> {
  if (options.settings.redisUrl === null) return null;
  const { openCluster } = await import("../cluster/cluster.ts");
  return await openCluster(options);
}
