/**
 * Seeding for the read side (`npm run bench`): tasks appended through the
 * append script as the command-service appends them, 256 at a time, shared by
 * bench/projects.ts and bench/no-projects.ts. Only what the code before
 * projects has too is used here.
 */
import { type KeyLayout, type NewEvent, newId } from '@tasksync/contracts';
import { appendToStream, type RedisClient } from '@tasksync/platform';

/** A seeded task's TaskCreated payload, without a project: `extra` adds what a version needs. */
export const seededTask = (i: number, createdBy: string, extra: Record<string, unknown> = {}) => ({
  title: `Seeded task ${i}`,
  description: 'seeded for the read-side bench',
  status: 'pending' as const,
  assigneeId: null,
  priority: (['low', 'medium', 'high', 'urgent'] as const)[i % 4]!,
  dueDate: null,
  labels: i % 10 === 0 ? ['ten'] : [],
  createdBy,
  ...extra,
});

/**
 * Appends `count` tasks, each one TaskCreated with `dataOf(i)` as its payload
 * (its `createdBy` is the actor), 256 appends at a time. Returns the ids in order.
 */
export const appendTasks = async (
  redis: RedisClient,
  keys: KeyLayout,
  count: number,
  dataOf: (i: number) => { createdBy: string },
) => {
  const ids: string[] = [];
  for (let start = 0; start < count; start += 256) {
    const batch = Array.from({ length: Math.min(256, count - start) }, (_, i) => start + i);
    await Promise.all(
      batch.map(async (i) => {
        const taskId = newId();
        ids[i] = taskId;
        const data = dataOf(i);
        const event = {
          id: newId(),
          type: 'TaskCreated',
          data,
          at: new Date().toISOString(),
          actor: data.createdBy,
          corr: 'bench',
        } as unknown as NewEvent;
        const appended = await appendToStream(redis, {
          streamKey: keys.taskStream(taskId),
          logKey: keys.taskLog(keys.partitionOf(taskId)),
          aggregateId: taskId,
          expectedRevision: 'none',
          events: [event],
        });
        if (appended.outcome !== 'appended') throw new Error(`seeding: ${appended.outcome}`);
      }),
    );
  }
  return ids;
};
