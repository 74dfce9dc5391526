import type { TestProject } from 'vitest/node';
import { startRedisCluster } from '../scripts/redis-cluster';
import { findRedisServer } from '../scripts/redis-server';

/**
 * The cluster run's Redis (issue 5): a local three-master Redis Cluster the
 * setup starts from `redis-server --cluster-enabled yes` and joins with
 * `redis-cli --cluster create`. Every test then connects in cluster mode and
 * lays its keys out over 4 partitions, so task logs land on different masters.
 */
export default async function setup(project: TestProject) {
  const binary = findRedisServer();
  if (!binary) {
    throw new Error(
      'The cluster tests need redis-server and redis-cli (apt-get install -y redis-server).',
    );
  }
  const cluster = await startRedisCluster({ binary, masters: 3 });
  project.provide('redisUrl', cluster.seeds);
  project.provide('redisCluster', true);
  return () => cluster.stop();
}
