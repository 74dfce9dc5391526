import { hostname } from 'node:os';
import type { RedisClient } from './client';

const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
const HAND_OVER = `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1 end return 0`;

/**
 * A lease holder's id, unique per process and start: `<role>-<host>-<pid>-<random>`.
 * The projector's also names its consumer in its group.
 */
export const newLeaseOwner = (role: string) =>
  `${role}-${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

/**
 * A lease in Redis: one holder at a time (SET NX PX), kept by renewing it
 * within `ttlMs`, lost when that lapses. The projector holds one per group
 * (design §5), the archiver one per log (design §11).
 */
export const createLease = (redis: RedisClient, key: string, owner: string, ttlMs: number) => ({
  key,
  owner,
  tryTake: async () => (await redis.set(key, owner, 'PX', ttlMs, 'NX')) === 'OK',
  holder: () => redis.get(key),
  /** Extends the lease; false once another owner has it. */
  renew: async () => (await redis.eval(RENEW, 1, key, owner, ttlMs)) !== 0,
  release: async () => {
    await redis.eval(RELEASE, 1, key, owner);
  },
  /** Passes the lease to `to` (with a fresh `ttlMs`); false when this owner no longer has it. */
  handOver: async (to: string) => (await redis.eval(HAND_OVER, 1, key, owner, to, ttlMs)) !== 0,
});

export type Lease = ReturnType<typeof createLease>;
