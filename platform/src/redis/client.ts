import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { defineAppendCommand, SCRIPT_COMMANDS } from './append';

export type RedisClient = Redis | Cluster;

export interface RedisConnectionConfig {
  REDIS_URL: string;
  REDIS_CLUSTER: boolean;
}

const commonOptions: RedisOptions = {
  // Writes fail fast when Redis is away instead of queueing without bound: a
  // command waits for at most two reconnect attempts, and attempts come at most
  // 500 ms apart (ioredis' default backs off to 5 s, so a command could hang
  // for 10 s and a restarted Redis went unnoticed for as long).
  maxRetriesPerRequest: 2,
  retryStrategy: (times) => Math.min(50 * times, 500),
  connectTimeout: 5_000,
  // A Redis restarting reports how long its AOF load will take, often far more
  // than it does; ioredis waits that long (up to 10 s per check) before using
  // the connection. Checking again every 250 ms resumes as soon as it is loaded.
  maxLoadingRetryTime: 250,
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
  if (!config.REDIS_CLUSTER) {
    return defineAppendCommand(new Redis(config.REDIS_URL, { ...commonOptions, ...options }));
  }
  const seeds = config.REDIS_URL.split(',').map((seed) => {
    const url = new URL(seed.includes('://') ? seed : `redis://${seed.trim()}`);
    return { host: url.hostname, port: Number(url.port || 6379) };
  });
  const cluster = new Cluster(seeds, {
    enableAutoPipelining: true,
    // ioredis groups auto-pipelined commands by the node of their first
    // argument, which for a script is its key count or its source, not a key:
    // scripts for different masters then shared a pipeline, and every command
    // in it failed ("All keys in the pipeline should belong to the same slots
    // allocation group", ioredis#2109). Scripts are sent on their own.
    autoPipeliningIgnoredCommands: ['eval', 'evalsha', ...SCRIPT_COMMANDS],
    redisOptions: { ...commonOptions, ...options },
  });
  return defineAppendCommand(cluster);
};

/** A second connection for blocking reads, so they never delay other commands. */
export const duplicateRedis = (
  client: RedisClient,
  options: Partial<RedisOptions> = {},
): RedisClient =>
  defineAppendCommand(
    client instanceof Cluster
      ? client.duplicate(undefined, {
          redisOptions: { ...client.options.redisOptions, ...options },
        })
      : client.duplicate(options),
  );

/** The nodes that hold keys: the cluster's masters, or the one node. */
export const masters = (client: RedisClient): RedisClient[] =>
  'nodes' in client ? (client.nodes('master') as RedisClient[]) : [client];

export const isRedisReady = async (client: RedisClient): Promise<boolean> => {
  try {
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  }
};
