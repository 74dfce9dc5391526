import {
  evolveTask,
  type KeyLayout,
  type StoredEvent,
  type TaskEvent,
  type TaskState,
} from '@tasksync/contracts';
import { type RedisClient, readStream } from '@tasksync/platform';

export interface LoadedTask {
  state: TaskState;
  /** Entry id of the last event folded in; '' for a task with no events. */
  lastEntryId: string;
}

/**
 * Loads tasks by folding their streams. Folded states are kept in a bounded
 * in-process cache; a load then reads only the events after the cached one, so
 * a long-lived task costs one short XRANGE instead of its whole history. The
 * cache is only a starting point: the append still checks the revision.
 */
export const createTaskStore = (redis: RedisClient, keys: KeyLayout, capacity = 10_000) => {
  const cache = new Map<string, LoadedTask>();

  const remember = (taskId: string, loaded: LoadedTask) => {
    cache.delete(taskId);
    cache.set(taskId, loaded);
    if (cache.size > capacity) cache.delete(cache.keys().next().value!);
  };

  return {
    async load(taskId: string): Promise<LoadedTask> {
      const cached = cache.get(taskId);
      const events = (await readStream(
        redis,
        keys.taskStream(taskId),
        cached?.lastEntryId || undefined,
      )) as StoredEvent<TaskEvent>[];
      if (!events.length) return cached ?? { state: null, lastEntryId: '' };
      let state = cached?.state ?? null;
      for (const event of events) state = evolveTask(state, event);
      const loaded = { state, lastEntryId: events[events.length - 1]!.entryId };
      remember(taskId, loaded);
      return loaded;
    },
    forget(taskId: string) {
      cache.delete(taskId);
    },
  };
};

export type TaskStore = ReturnType<typeof createTaskStore>;
