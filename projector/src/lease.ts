import { hostname } from 'node:os';
import type { RedisClient } from '@tasksync/platform';

export const LEASE_MS = 15_000;
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
const HAND_OVER = `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1 end return 0`;

/**
 * A lease holder's id, unique per process and start: `<role>-<host>-<pid>-<random>`.
 * It also names the projector's consumer in its group.
 */
export const newLeaseOwner = (role: 'projector' | 'replay') =>
  `${role}-${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

/**
 * A group's lease (design §5: one writer per read model). Two projectors would
 * split the log between them, and the one behind would find its events under
 * the other's checkpoint and skip them, so a second one waits. `replay --swap`
 * takes the same lease to pause the projector while it switches the file.
 */
export const createLease = (redis: RedisClient, key: string, owner: string) => ({
  owner,
  tryTake: async () => (await redis.set(key, owner, 'PX', LEASE_MS, 'NX')) === 'OK',
  holder: () => redis.get(key),
  /** Extends the lease; false once another owner has it. */
  renew: async () => (await redis.eval(RENEW, 1, key, owner, LEASE_MS)) !== 0,
  release: async () => {
    await redis.eval(RELEASE, 1, key, owner);
  },
  handOver: async (to: string) => (await redis.eval(HAND_OVER, 1, key, owner, to, LEASE_MS)) !== 0,
});
