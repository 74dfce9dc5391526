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
export const startProjector = async (options: ProjectorOptions) => {
  const { redis, keys, db, group, logger } = options;
  const projection = createProjection(db);
  const consumer = `${hostname()}-${process.pid}`;
  const consumers: Consumer[] = [];
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
      await Promise.all(consumers.map((c) => c.stop()));
    },
  };
};
