import type { KeyLayout } from '@tasksync/contracts';
import type { RedisClient } from '../redis/client';
import { createLease } from '../redis/lease';

export const ARCHIVER_LEASE_MS = 30_000;
/** The trim, fenced: only while this archiver still holds the log's lease. */
const FENCED_TRIM = `if redis.call('GET', KEYS[2]) ~= ARGV[2] then return redis.error_reply('ARCHIVER_LEASE_LOST the archiver lease of this log is held by another') end return redis.call('XTRIM', KEYS[1], 'MINID', ARGV[1])`;

/**
 * A lease per log (design §11: one archiver runs per log), renewed between
 * segments, at `keys.archiverLease(logKey)`: beside the log, so its trim
 * checks the lease in the same script on Redis Cluster too.
 */
export const createArchiverLease = (
  redis: RedisClient,
  keys: KeyLayout,
  logKey: string,
  owner: string,
) => {
  const lease = createLease(redis, keys.archiverLease(logKey), owner, ARCHIVER_LEASE_MS);
  return {
    ...lease,
    /** XTRIM MINID `minId`, failing if the lease has passed to another archiver meanwhile. */
    trim: (minId: string) => redis.eval(FENCED_TRIM, 2, logKey, lease.key, minId, owner),
  };
};
