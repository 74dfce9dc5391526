import { afterAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../../scripts/redis-server';
import { createRedis } from '../redis/client';
import { isRedisUnavailable } from './problem';

/**
 * One plain connection to the test Redis (its first node on the cluster run):
 * what is classified here is the error a client gets, and a cluster client
 * would retry CLUSTERDOWN and TRYAGAIN itself before giving up with its own.
 */
const nodeUrl = () => {
  const url = inject('redisUrl');
  return url.startsWith('redis://') ? url : `redis://${url.split(',')[0]}`;
};
const connectNode = () => createRedis({ REDIS_URL: nodeUrl(), REDIS_CLUSTER: false });
const redis = connectNode();
afterAll(() => redis.quit());

/** The error a real client raises, or a failure if it raised none. */
const errorOf = async (promise: Promise<unknown>) => {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the command to fail');
};

// Each error below is raised by a real ioredis client against a real (or absent)
// redis-server, so the classification follows what ioredis really throws.
describe('isRedisUnavailable (503 storage-unavailable, not 500)', () => {
  it('is true when Redis cannot be reached and ioredis gives up', async () => {
    const dead = createRedis({
      REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
      REDIS_CLUSTER: false,
    });
    dead.on('error', () => undefined);
    const error = await errorOf(dead.get('k'));
    dead.disconnect();
    expect(isRedisUnavailable(error)).toBe(true);
  });

  it('is true for a command on a closed connection', async () => {
    const closed = connectNode();
    await closed.quit();
    expect(isRedisUnavailable(await errorOf(closed.get('k')))).toBe(true);
  });

  it('is true for replies that mean "not now" (LOADING, CLUSTERDOWN, MASTERDOWN, TRYAGAIN)', async () => {
    for (const reply of [
      'LOADING Redis is loading',
      'CLUSTERDOWN The cluster is down',
      'MASTERDOWN Link down',
      'TRYAGAIN Multiple keys',
    ]) {
      const error = await errorOf(
        redis.eval(`return redis.error_reply(ARGV[1])`, 0, reply) as Promise<unknown>,
      );
      expect(isRedisUnavailable(error), reply).toBe(true);
    }
  });

  it('is false for a reply that says the request was wrong, and for any other error', async () => {
    const wrongType = await errorOf(
      redis.eval(
        `return redis.error_reply(ARGV[1])`,
        0,
        'WRONGTYPE Operation against a key',
      ) as Promise<unknown>,
    );
    expect(isRedisUnavailable(wrongType)).toBe(false);
    // A message that merely mentions a refused connection is not one.
    expect(isRedisUnavailable(new Error('upstream said ECONNREFUSED'))).toBe(false);
    expect(isRedisUnavailable('Connection is closed.')).toBe(false);
  });
});
