import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { createKeyLayout, createLogger, createRedis, type RedisClient } from '@tasksync/contracts';
import { inject } from 'vitest';

/** A fresh key prefix per test, so tests share one redis-server and still run in parallel. */
export const uniquePrefix = () => `test-${randomBytes(6).toString('hex')}`;

export const connectTestRedis = (): RedisClient =>
  createRedis({ REDIS_URL: inject('redisUrl'), REDIS_CLUSTER: false });

export const testKeys = (partitions = 1) => createKeyLayout(uniquePrefix(), partitions);

/** A logger whose every line is kept, to assert what reaches the logs. */
export const capturingLogger = (level = 'debug') => {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      callback();
    },
  });
  return { logger: createLogger({ name: 'test', level, destination }), lines };
};

/** Polls until `check` returns a value other than undefined, or fails after `timeoutMs`. */
export const waitFor = async <T>(
  check: () => T | undefined | Promise<T | undefined>,
  { timeoutMs = 10_000, intervalMs = 20, message = 'condition' } = {},
): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${message}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
};
