import { decodeEvent, fieldsToRecord, type KeyLayout } from '@tasksync/contracts';
import type { Logger, LogReader, RedisClient } from '@tasksync/platform';

/** The `ts:meta` field that says the assigned-tasks index holds every task appended before it existed. */
export const ASSIGNED_INDEX_FIELD = 'assignedIndex';
const BATCH = 1_000;

interface Placement {
  projectId: string;
  assigneeId: string | null;
  deleted: boolean;
}

/**
 * Builds the assigned-tasks index for the tasks appended before it was kept
 * (logs from before projects: every task in General), once, at start.
 * Partition by partition, each task log is folded to every task's project and
 * assignee, and each assigned live task is written with HSETNX: an entry a
 * live command wrote meanwhile is newer and stays, and one this scan writes
 * for a task unassigned meanwhile is an extra the process manager skips
 * (it decides on the task itself). No entry can be missing, so any number of
 * command-services may run it at once; `assignedIndex` = 1 in `ts:meta` ends it.
 */
export const backfillAssignedIndex = async (deps: {
  redis: RedisClient;
  keys: KeyLayout;
  logger: Logger;
  /** The logs as they were written: archived entries first (design §11). */
  logReader: LogReader;
}) => {
  const { redis, keys, logger, logReader } = deps;
  if ((await redis.hget(keys.meta, ASSIGNED_INDEX_FIELD)) === '1') return false;
  const started = Date.now();
  let events = 0;
  let indexed = 0;
  for (let partition = 0; partition < keys.partitions; partition++) {
    const tasks = new Map<string, Placement>();
    let after = '0';
    for (;;) {
      const entries = await logReader.readLogRange(keys.taskLog(partition), after, BATCH);
      for (const [entryId, fields] of entries) {
        const event = decodeEvent(entryId, fieldsToRecord(fields));
        const task = tasks.get(event.agg);
        switch (event.type) {
          case 'TaskCreated':
            tasks.set(event.agg, {
              projectId: event.data.projectId,
              assigneeId: event.data.assigneeId,
              deleted: false,
            });
            break;
          case 'TaskAssigned':
            if (task) task.assigneeId = event.data.assigneeId;
            break;
          case 'TaskMoved':
            if (task) task.projectId = event.data.to;
            break;
          case 'TaskDeleted':
            if (task) task.deleted = true;
            break;
        }
      }
      events += entries.length;
      if (entries.length < BATCH) break;
      after = entries[entries.length - 1]![0];
    }
    const assigned = [...tasks].filter(([, task]) => task.assigneeId !== null && !task.deleted);
    for (let i = 0; i < assigned.length; i += BATCH) {
      await Promise.all(
        assigned
          .slice(i, i + BATCH)
          .map(([taskId, task]) =>
            redis.hsetnx(keys.assignedTasks(partition, task.projectId), taskId, task.assigneeId!),
          ),
      );
    }
    indexed += assigned.length;
  }
  await redis.hset(keys.meta, ASSIGNED_INDEX_FIELD, '1');
  logger.info(
    { events, indexed, ms: Date.now() - started },
    'built the assigned-tasks index of the tasks appended before it',
  );
  return true;
};
