import { hostname } from 'node:os';
import {
  type Consumer,
  decodeEvent,
  formatPosition,
  type KeyLayout,
  type Logger,
  type RedisClient,
  startConsumer,
} from '@tasksync/contracts';
import type { ReadModelDb } from '@tasksync/contracts/read-model';
import { createProjection } from './projection/project';

export interface ProjectorOptions {
  redis: RedisClient;
  keys: KeyLayout;
  db: ReadModelDb;
  group: string;
  logger: Logger;
  batchSize?: number;
  /** Called after each committed batch that moved a checkpoint. */
  onApplied?: (log: string, applied: number, checkpoint: string) => void;
  consumerOptions?: {
    claimIdleMs?: number;
    maxDeliveries?: number;
    retryDelayMs?: number;
    blockMs?: number;
  };
}

/**
 * Runs the projection over every log with one consumer group (design §5). The
 * SQLite checkpoint, not the group, says what was applied: on start the group
 * is moved back to it, so nothing acked but lost with an unsynced write is
 * skipped, and anything re-read is skipped by the checkpoint again.
 */
const LEASE_MS = 15_000;
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/**
 * One projector writes a group's file at a time: two would split the log
 * between them, and the one behind would find its events under the other's
 * checkpoint and skip them. A lease in Redis makes a second one wait.
 */
const holdLease = async (
  redis: RedisClient,
  key: string,
  owner: string,
  logger: Logger,
  onLost: () => void,
) => {
  let told = false;
  while ((await redis.set(key, owner, 'PX', LEASE_MS, 'NX')) !== 'OK') {
    if (!told) logger.warn({ key }, 'another projector holds this group; waiting for its lease');
    told = true;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
  const timer = setInterval(async () => {
    const renewed = await redis.eval(RENEW, 1, key, owner, LEASE_MS).catch(() => 1);
    if (renewed === 0) {
      logger.error({ key }, 'lost the projector lease; stopping');
      clearInterval(timer);
      onLost();
    }
  }, LEASE_MS / 3);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await redis.eval(RELEASE, 1, key, owner).catch(() => undefined);
  };
};

export const startProjector = async (options: ProjectorOptions) => {
  const { redis, keys, db, group, logger } = options;
  const projection = createProjection(db);
  const consumer = `${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const consumers: Consumer[] = [];
  const stopConsumers = () => Promise.all(consumers.map((c) => c.stop()));
  const releaseLease = await holdLease(
    redis,
    `${keys.prefix}:lock:projector:${group}`,
    consumer,
    logger,
    () => {
      void stopConsumers();
    },
  );
  for (const log of keys.logs()) {
    try {
      await redis.xgroup('CREATE', log.key, group, '0', 'MKSTREAM');
    } catch (error) {
      if (!String(error).includes('BUSYGROUP')) throw error;
    }
    await redis.xgroup('SETID', log.key, group, projection.checkpoint(log.name) ?? '0');
    consumers.push(
      startConsumer({
        redis,
        streamKey: log.key,
        group,
        consumer,
        deadLetterKey: keys.deadLetters(log.key, group),
        batchSize: options.batchSize ?? 500,
        logger: logger.child({ log: log.name }),
        ...options.consumerOptions,
        handle: async (entries) => {
          const events = entries.map((entry) => decodeEvent(entry.id, entry.fields));
          const { applied, checkpoint } = projection.applyBatch(log.name, events);
          if (!applied || !checkpoint) return;
          options.onApplied?.(log.name, applied, checkpoint);
          // After the commit: tell waiting readers how far the model has come.
          await redis.publish(keys.checkpointChannel(group), formatPosition(log.name, checkpoint));
        },
      }),
    );
  }
  await Promise.all(consumers.map((c) => c.started));
  return {
    projection,
    stop: async () => {
      await stopConsumers();
      await releaseLease();
    },
  };
};
