/**
 * How fast `npm run migrate-layout` converts a layout-1 store (design §11):
 * on a fresh redis-server, TASKS tasks of 5 events each are appended as the
 * services append them on layout 1 (the append script, a stream per task
 * beside the log), then the migration runs to the end; events/s over the
 * whole run and over its copy, aggregates/s over its switch, and Redis
 * `used_memory` per event before and after.
 *
 *   node --import tsx bench/migrate-layout.ts      (TASKS=40000: 200,000 events)
 */
import { pathToFileURL } from 'node:url';
import { createKeyLayout, GENERAL_PROJECT_ID, type NewEvent, newId } from '@tasksync/contracts';
import { appendToStream, createRedis, type RedisClient } from '@tasksync/platform';
import { type MigrationPhase, migrateLayout } from '@tasksync/platform/migrate-layout';
import { findRedisServer, freePort, startRedisServer } from '../scripts/redis-server';

export interface MigrationMeasurement {
  events: number;
  aggregates: number;
  seconds: number;
  eventsPerSecond: number;
  /** The copy phase alone: entries read, indexed and compared with their aggregate's copy. */
  copyEventsPerSecond: number;
  /** The verification and the switch: aggregates checked, then renamed. */
  switchAggregatesPerSecond: number;
  bytesPerEventBefore: number;
  bytesPerEventAfter: number;
}

const EVENTS_PER_TASK = 5;

const taskLife = (userId: string): NewEvent[] => {
  const at = new Date().toISOString();
  const meta = { at, actor: userId, corr: newId() };
  return [
    {
      id: newId(),
      type: 'TaskCreated',
      data: {
        title: 'A task with a title of ordinary length',
        description: 'A description of a task, a sentence or two long, as people write them.',
        status: 'pending',
        assigneeId: null,
        priority: 'high',
        dueDate: null,
        labels: ['bench', 'ops'],
        createdBy: userId,
        projectId: GENERAL_PROJECT_ID,
      },
      ...meta,
    },
    {
      id: newId(),
      type: 'TaskStatusChanged',
      data: { from: 'pending', to: 'in-progress' },
      ...meta,
    },
    { id: newId(), type: 'TaskDetailsChanged', data: { priority: 'urgent' }, ...meta },
    { id: newId(), type: 'TaskAssigned', data: { assigneeId: userId, previous: null }, ...meta },
    {
      id: newId(),
      type: 'TaskStatusChanged',
      data: { from: 'in-progress', to: 'completed' },
      ...meta,
    },
  ];
};

const usedMemory = async (redis: RedisClient) =>
  Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);

/** Writes `tasks` tasks on layout 1 to a fresh redis-server and migrates them, timed. */
export const measureMigration = async ({
  tasks = 40_000,
  batchSize = 500,
}: {
  tasks?: number;
  batchSize?: number;
} = {}): Promise<MigrationMeasurement> => {
  const binary = findRedisServer();
  if (!binary) throw new Error('redis-server is not installed');
  const server = await startRedisServer({ binary, port: await freePort() });
  const redis = createRedis({ REDIS_URL: server.url, REDIS_CLUSTER: false });
  try {
    const keys = createKeyLayout('ts', 1);
    await redis.hset(keys.meta, 'layoutVersion', '1', 'partitions', '1');
    const empty = await usedMemory(redis);
    const userId = newId();
    for (let start = 0; start < tasks; start += 500) {
      await Promise.all(
        Array.from({ length: Math.min(500, tasks - start) }, () => {
          const taskId = newId();
          return appendToStream(
            redis,
            {
              streamKey: keys.taskStream(taskId),
              logKey: keys.taskLog(0),
              aggregateId: taskId,
              expectedRevision: 'none',
              events: taskLife(userId),
            },
            1,
          );
        }),
      );
    }
    const events = tasks * EVENTS_PER_TASK;
    const bytesPerEventBefore = ((await usedMemory(redis)) - empty) / events;

    const phaseStarted: Partial<Record<MigrationPhase, number>> = {};
    const started = performance.now();
    const result = await migrateLayout({
      redis,
      keys,
      batchSize,
      onPhase: (phase) => {
        phaseStarted[phase] = performance.now();
      },
    });
    const ended = performance.now();
    if (result.outcome !== 'migrated') throw new Error(`the migration answered ${result.outcome}`);
    const copySeconds = (phaseStarted.verify! - phaseStarted.copy!) / 1000;
    const switchSeconds = (ended - phaseStarted.verify!) / 1000;
    return {
      events,
      aggregates: result.aggregates,
      seconds: (ended - started) / 1000,
      eventsPerSecond: Math.round(events / ((ended - started) / 1000)),
      copyEventsPerSecond: Math.round(events / copySeconds),
      switchAggregatesPerSecond: Math.round(result.aggregates / switchSeconds),
      bytesPerEventBefore: Math.round(bytesPerEventBefore),
      bytesPerEventAfter: Math.round(((await usedMemory(redis)) - empty) / events),
    };
  } finally {
    redis.disconnect();
    await server.stop();
  }
};

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const tasks = Number(process.env.TASKS ?? 40_000);
  const measured = await measureMigration({ tasks });
  console.log(
    `migrate-layout, ${measured.events.toLocaleString('en')} events in ${measured.aggregates.toLocaleString('en')} tasks: ` +
      `${measured.seconds.toFixed(1)} s, ${measured.eventsPerSecond.toLocaleString('en')} events/s ` +
      `(copy ${measured.copyEventsPerSecond.toLocaleString('en')} events/s, ` +
      `verify + switch ${measured.switchAggregatesPerSecond.toLocaleString('en')} aggregates/s); ` +
      `used_memory ${measured.bytesPerEventBefore} → ${measured.bytesPerEventAfter} bytes per event`,
  );
}
