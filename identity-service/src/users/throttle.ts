import type { KeyLayout } from '@tasksync/contracts';
import type { RedisClient } from '@tasksync/platform';

export interface LoginThrottle {
  /** Counts a login attempt; answers the seconds to wait when over the limit, else 0. */
  countAttempt(email: string): Promise<number>;
  /** Forgets the attempts after a successful login. */
  reset(email: string): Promise<void>;
}

/**
 * Login attempts per e-mail are counted in Redis, so every identity-service
 * process sees the same count, and counted atomically before the password is
 * checked. The window starts at the first attempt; a success clears it.
 */
export const createLoginThrottle = (
  redis: RedisClient,
  keys: KeyLayout,
  options: { maxFailures: number; windowSeconds: number },
): LoginThrottle => ({
  async countAttempt(email) {
    const key = keys.loginFailures(email);
    const replies = await redis
      .multi()
      .incr(key)
      .expire(key, options.windowSeconds, 'NX')
      .ttl(key)
      .exec();
    const attempts = Number(replies?.[0]?.[1] ?? 0);
    const ttl = Number(replies?.[2]?.[1] ?? -1);
    if (attempts <= options.maxFailures) return 0;
    return ttl > 0 ? ttl : options.windowSeconds;
  },
  async reset(email) {
    await redis.del(keys.loginFailures(email));
  },
});
