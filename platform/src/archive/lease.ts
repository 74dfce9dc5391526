import { hostname } from 'node:os';
import type { KeyLayout } from '@tasksync/contracts';
import type { RedisClient } from '../redis/client';

export const ARCHIVER_LEASE_MS = 30_000;
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
/** The trim, fenced: only while this archiver still holds the log's lease. */
const FENCED_TRIM = `if redis.call('GET', KEYS[2]) ~= ARGV[2] then return redis.error_reply('ARCHIVER_LEASE_LOST the archiver lease of this log is held by another') end return redis.call('XTRIM', KEYS[1], 'MINID', ARGV[1])`;

export const newArchiverOwner = () =>
  `archiver-${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

/**
 * A lease per log (design §11: one archiver runs per log), SET NX PX and
 * renewed between segments, at `keys.archiverLease(logKey)`: beside the log,
 * so a trim can check it in the same script on Redis Cluster too.
 */
export const createArchiverLease = (
  redis: RedisClient,
  keys: KeyLayout,
  logKey: string,
  owner: string,
) => {
  const key = keys.archiverLease(logKey);
  return {
    key,
    owner,
    tryTake: async () => (await redis.set(key, owner, 'PX', ARCHIVER_LEASE_MS, 'NX')) === 'OK',
    /** Extends the lease; false once it is lost. */
    renew: async () => (await redis.eval(RENEW, 1, key, owner, ARCHIVER_LEASE_MS)) !== 0,
    release: async () => {
      await redis.eval(RELEASE, 1, key, owner);
    },
    /** XTRIM MINID `minId`, failing if the lease has passed to another archiver meanwhile. */
    trim: (minId: string) => redis.eval(FENCED_TRIM, 2, logKey, key, minId, owner),
  };
};

export type ArchiverLease = ReturnType<typeof createArchiverLease>;
