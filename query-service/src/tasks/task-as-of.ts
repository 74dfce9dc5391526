import {
  compareEntryIds,
  foldTask,
  type KeyLayout,
  PositionList,
  problems,
  type StoredEvent,
  type TaskEvent,
} from '@tasksync/contracts';
import { type ArchivedEntries, type RedisClient, readAggregate } from '@tasksync/platform';

/**
 * The task as it was at `asOf` (an ISO time or a position on the task's own
 * log), folded from its events with the event at that time or position
 * included. 400 for anything else, 404 when the task did not exist then.
 *
 * `sees` decides whether the caller may see the project the task is in now
 * (all its events folded: the read model may not have the task yet), as
 * GET /tasks/:id and its history do; a task they may not see is answered as
 * one that does not exist (design §10). It is also asked, with undefined,
 * when there is no task at all, so every answer says which model state decided it.
 */
export const taskAsOf = async (
  {
    redis,
    keys,
    logReader,
  }: { redis: RedisClient; keys: KeyLayout; logReader?: ArchivedEntries | undefined },
  id: string,
  asOf: string,
  sees: (projectId: string | undefined) => boolean,
) => {
  const position = PositionList.safeParse(asOf);
  const time = Date.parse(asOf);
  if (!(position.success && position.data.length === 1) && Number.isNaN(time)) {
    throw problems.badRequest('asOf must be an ISO time or a position like t0:1732460000000-0.');
  }
  const taskLog = `t${keys.partitionOf(id)}`;
  if (position.success && position.data[0]!.log !== taskLog) {
    throw problems.badRequest(
      `This task's positions are on log ${taskLog}; positions compare only within one log.`,
    );
  }
  const events = (await readAggregate(
    redis,
    { streamKey: keys.taskStream(id), logKey: keys.taskLog(keys.partitionOf(id)) },
    undefined,
    logReader,
  )) as StoredEvent<TaskEvent>[];
  if (!sees(foldTask(events)?.projectId)) throw problems.notFound('No task with this id.');
  const bound = position.success ? position.data[0]!.entryId : undefined;
  const upTo = events.filter((e) =>
    bound !== undefined ? compareEntryIds(e.entryId, bound) <= 0 : Date.parse(e.at) <= time,
  );
  const state = foldTask(upTo);
  if (!state) throw problems.notFound('The task did not exist then.');
  return state;
};
