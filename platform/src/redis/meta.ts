import type { KeyLayout } from '@tasksync/contracts';
import { ConfigError } from '../config';
import type { RedisClient } from './client';

export const LAYOUT_VERSION = '1';

/** A configuration that does not fit the data already in Redis. */
export class LayoutMismatchError extends ConfigError {}

/**
 * Writes the partition count on first use and refuses a different one later:
 * a task's partition is derived from it, so changing it would lose tasks (design §2).
 */
export const ensureLayout = async (redis: RedisClient, keys: KeyLayout) => {
  await redis.hsetnx(keys.meta, 'layoutVersion', LAYOUT_VERSION);
  await redis.hsetnx(keys.meta, 'partitions', String(keys.partitions));
  const [version, partitions] = await redis.hmget(keys.meta, 'layoutVersion', 'partitions');
  if (version !== LAYOUT_VERSION) {
    throw new LayoutMismatchError(
      `Redis holds key layout v${version}, this build writes v${LAYOUT_VERSION}.`,
    );
  }
  if (Number(partitions) !== keys.partitions) {
    throw new LayoutMismatchError(
      `EVENT_PARTITIONS is ${keys.partitions} but the data in Redis was written with ${partitions}; ` +
        `start with EVENT_PARTITIONS=${partitions}.`,
    );
  }
};

/**
 * In production an acknowledged command must survive a Redis restart (design
 * §3: acknowledged only after Redis confirmed the append), which takes the
 * append-only file: RDB snapshots alone lose whatever came after the last one.
 * A Redis without AOF is refused unless the operator says they accept that.
 */
export const ensureDurableRedis = async (redis: RedisClient) => {
  const nodes = 'nodes' in redis ? redis.nodes('master') : [redis];
  for (const node of nodes) {
    const info = await node.info('persistence');
    if (/^aof_enabled:1\r?$/m.test(info)) continue;
    throw new ConfigError(
      'Redis runs without its append-only file (appendonly no): acknowledged commands would be ' +
        'lost on a Redis restart. Start Redis with --appendonly yes, or set ' +
        'REDIS_ALLOW_NO_PERSISTENCE=1 to accept that.',
    );
  }
};
