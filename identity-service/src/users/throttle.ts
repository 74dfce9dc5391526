import type { KeyLayout, RedisClient } from '@tasksync/contracts';

export interface LoginThrottle {
  /** Seconds to wait before another attempt is allowed, or 0. */
  retryAfter(email: string): Promise<number>;
  recordFailure(email: string): Promise<void>;
  reset(email: string): Promise<void>;
}

/**
 * Failed logins per e-mail are counted in Redis, so every identity-service
 * process sees the same count. The window starts at the first failure.
 */
export const createLoginThrottle = (
  redis: RedisClient,
  keys: KeyLayout,
  options: { maxFailures: number; windowSeconds: number },
): LoginThrottle => ({
  async retryAfter(email) {
    const key = keys.loginFailures(email);
    const [count, ttl] = await Promise.all([redis.get(key), redis.ttl(key)]);
    if (Number(count ?? 0) < options.maxFailures) return 0;
    return ttl > 0 ? ttl : options.windowSeconds;
  },
  async recordFailure(email) {
    const key = keys.loginFailures(email);
    await redis.multi().incr(key).expire(key, options.windowSeconds, 'NX').exec();
  },
  async reset(email) {
    await redis.del(keys.loginFailures(email));
  },
});
