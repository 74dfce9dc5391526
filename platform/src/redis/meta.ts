import type { KeyLayout } from '@tasksync/contracts';
import { ConfigError } from '../config';
import { masters, type RedisClient } from './client';

/**
 * The key layout this build reads and writes (design §11): 2, each event
 * stored once in its log with an index per aggregate. A store of layout 1
 * (a stream per aggregate) is converted by `npm run migrate-layout`.
 */
export const LAYOUT_VERSION = '2';

/** A configuration that does not fit the data already in Redis. */
export class LayoutMismatchError extends ConfigError {}

/**
 * Writes the layout version and the partition count on first use and refuses
 * others later: a task's partition is derived from the count, so changing it
 * would lose tasks (design §2), and a store of another layout would be read
 * wrong (design §11).
 */
export const ensureLayout = async (redis: RedisClient, keys: KeyLayout) => {
  await redis.hsetnx(keys.meta, 'layoutVersion', LAYOUT_VERSION);
  await redis.hsetnx(keys.meta, 'partitions', String(keys.partitions));
  const [version, partitions] = await redis.hmget(keys.meta, 'layoutVersion', 'partitions');
  if (version !== LAYOUT_VERSION) {
    throw new LayoutMismatchError(
      version === '1'
        ? `Redis holds key layout v1 (a stream per aggregate); this build reads and writes v${LAYOUT_VERSION}. ` +
            'Convert it with `npm run migrate-layout` (see the README, "Upgrading the event store").'
        : `Redis holds key layout v${version}, this build reads and writes v${LAYOUT_VERSION}.`,
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
  for (const node of masters(redis)) {
    const info = await node.info('persistence');
    if (/^aof_enabled:1\r?$/m.test(info)) continue;
    throw new ConfigError(
      'Redis runs without its append-only file (appendonly no): acknowledged commands would be ' +
        'lost on a Redis restart. Start Redis with --appendonly yes, or set ' +
        'REDIS_ALLOW_NO_PERSISTENCE=1 to accept that.',
    );
  }
};
