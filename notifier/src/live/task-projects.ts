import {
  compareEntryIds,
  decodeEvent,
  fieldsToRecord,
  type KeyLayout,
  type StoredEvent,
} from '@tasksync/contracts';
import {
  type ArchivedEntries,
  type RawEntry,
  type RedisClient,
  readAggregateEntries,
} from '@tasksync/platform';

/**
 * Where a task was over time: the entry ids of its TaskCreated and TaskMoved
 * events and the project each put it in. Only those two events say a task's
 * project; the others of the task are judged by the project it was in then.
 */
export interface ProjectHistory {
  entryIds: string[];
  projectIds: string[];
}

/** The task's project at an entry of its own; undefined before its creation. */
export const projectAt = (history: ProjectHistory, entryId: string): string | undefined => {
  for (let i = history.entryIds.length - 1; i >= 0; i--) {
    if (compareEntryIds(history.entryIds[i]!, entryId) <= 0) return history.projectIds[i];
  }
  return undefined;
};

/** Adds a creation or a move, once: it may already be there from the task's events. */
export const recordProject = (history: ProjectHistory, entryId: string, projectId: string) => {
  const last = history.entryIds[history.entryIds.length - 1];
  if (last !== undefined && compareEntryIds(entryId, last) <= 0) return;
  history.entryIds.push(entryId);
  history.projectIds.push(projectId);
};

/** The project(s) a task event concerns: where the task was, and for a move where it went. */
export const projectsOfTaskEvent = (
  event: StoredEvent,
  history: ProjectHistory | undefined,
): string[] => {
  if (event.type === 'TaskCreated') return [event.data.projectId];
  if (event.type === 'TaskMoved') return [event.data.from, event.data.to];
  const projectId = history && projectAt(history, event.entryId);
  return projectId ? [projectId] : [];
};

/** The history a task's own event starts or extends; others leave it as it is. */
export const followTaskEvent = (event: StoredEvent, history: ProjectHistory | undefined) => {
  if (event.type !== 'TaskCreated' && event.type !== 'TaskMoved') return history;
  const next = history ?? { entryIds: [], projectIds: [] };
  recordProject(
    next,
    event.entryId,
    event.type === 'TaskCreated' ? event.data.projectId : event.data.to,
  );
  return next;
};

const PAGE = 1_000;

/**
 * A bounded LRU of task → project history, for task events whose creation
 * this notifier did not see (created before it started, or forgotten since).
 * A miss reads the task's events and decodes only its TaskCreated and
 * TaskMoved entries.
 */
export const createTaskProjects = (options: {
  redis: RedisClient;
  keys: KeyLayout;
  capacity: number;
  /** Where a task's events no longer in its log are read (design §11). */
  archive?: ArchivedEntries;
}) => {
  const { redis, keys, capacity, archive } = options;
  const histories = new Map<string, ProjectHistory>();

  const get = (taskId: string) => {
    const history = histories.get(taskId);
    if (history) {
      // Most recently used last: Map keeps insertion order.
      histories.delete(taskId);
      histories.set(taskId, history);
    }
    return history;
  };

  const put = (taskId: string, history: ProjectHistory) => {
    histories.delete(taskId);
    histories.set(taskId, history);
    if (histories.size > capacity) histories.delete(histories.keys().next().value!);
  };

  /** The task's history from its events (by its index into its log), and the last entry read. */
  const read = async (taskId: string) => {
    const history: ProjectHistory = { entryIds: [], projectIds: [] };
    const aggregate = {
      streamKey: keys.taskStream(taskId),
      logKey: keys.taskLog(keys.partitionOf(taskId)),
    };
    let readTo = '0';
    for (let revision = 0; ; revision += PAGE) {
      const page: RawEntry[] = await readAggregateEntries(
        redis,
        aggregate,
        revision,
        PAGE,
        archive,
      );
      for (const [entryId, fields] of page) {
        const record = fieldsToRecord(fields);
        if (record.type !== 'TaskCreated' && record.type !== 'TaskMoved') continue;
        let event: StoredEvent;
        try {
          event = decodeEvent(entryId, record);
        } catch {
          // Undecodable: the live feed skipped it too.
          continue;
        }
        followTaskEvent(event, history);
      }
      readTo = page.at(-1)?.[0] ?? readTo;
      if (page.length < PAGE) return { history, readTo };
    }
  };

  return {
    get,
    put,
    read,
    size: () => histories.size,
  };
};

export type TaskProjects = ReturnType<typeof createTaskProjects>;
