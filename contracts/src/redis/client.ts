import { Cluster, Redis, type RedisOptions } from 'ioredis';

export type RedisClient = Redis | Cluster;

export interface RedisConnectionConfig {
  REDIS_URL: string;
  REDIS_CLUSTER: boolean;
}

const commonOptions: RedisOptions = {
  // Writes fail fast when Redis is away instead of queueing without bound.
  maxRetriesPerRequest: 2,
  connectTimeout: 5_000,
  enableAutoPipelining: true,
};

/**
 * A single node from `redis://…`, or Redis Cluster from comma-separated
 * `host:port` seeds when REDIS_CLUSTER=1 (design §8).
 */
export const createRedis = (
  config: RedisConnectionConfig,
  options: Partial<RedisOptions> = {},
): RedisClient => {
  if (!config.REDIS_CLUSTER) return new Redis(config.REDIS_URL, { ...commonOptions, ...options });
  const seeds = config.REDIS_URL.split(',').map((seed) => {
    const url = new URL(seed.includes('://') ? seed : `redis://${seed.trim()}`);
    return { host: url.hostname, port: Number(url.port || 6379) };
  });
  return new Cluster(seeds, {
    enableAutoPipelining: true,
    redisOptions: { ...commonOptions, ...options },
  });
};

/** A second connection for blocking reads, so they never delay other commands. */
export const duplicateRedis = (client: RedisClient): RedisClient =>
  client instanceof Cluster ? client.duplicate() : client.duplicate();

export const isRedisReady = async (client: RedisClient): Promise<boolean> => {
  try {
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  }
};
