import type { StoredEvent } from '@tasksync/contracts';
import type { ReadModelDb } from '@tasksync/platform/read-model';
import { unhandledEvent } from './exhaustive';
import type { TaskColumns } from './tasks';

/**
 * `task_counts`: live tasks by status and by assignee ('' = unassigned), for
 * /stats. Deltas are summed in memory and written once per batch. Every
 * counter an event touches gets its row, even when the deltas cancel out:
 * which rows exist must not depend on where batches split.
 */
export const createCountersProjection = (db: ReadModelDb) => {
  const add = db.prepare(
    'INSERT INTO task_counts (kind, key, count) VALUES (?, ?, ?) ON CONFLICT (kind, key) DO UPDATE SET count = count + excluded.count',
  );
  const pending = new Map<string, { kind: string; key: string; delta: number }>();

  const count = (kind: 'status' | 'assignee', key: string | null, delta: number) => {
    const name = `${kind}\n${key ?? ''}`;
    const entry = pending.get(name);
    if (entry) entry.delta += delta;
    else pending.set(name, { kind, key: key ?? '', delta });
  };

  return {
    /**
     * Counts a task event the task has just taken (not a repeat); `task` is
     * its row after the event, which for a deletion still holds the status
     * and assignee it is counted under.
     */
    fold: (event: StoredEvent, task: TaskColumns) => {
      switch (event.type) {
        case 'TaskCreated':
          count('status', event.data.status, 1);
          count('assignee', event.data.assigneeId, 1);
          return;
        case 'TaskStatusChanged':
          count('status', event.data.from, -1);
          count('status', event.data.to, 1);
          return;
        case 'TaskAssigned':
          count('assignee', event.data.previous, -1);
          count('assignee', event.data.assigneeId, 1);
          return;
        case 'TaskDeleted':
          count('status', task.status as string, -1);
          count('assignee', task.assignee_id as string | null, -1);
          return;
        case 'TaskDetailsChanged':
        case 'CommentAdded':
        case 'UserRegistered':
        case 'UserRoleChanged':
        case 'TaskMoved':
        case 'ProjectCreated':
        case 'ProjectDetailsChanged':
        case 'ProjectVisibilityChanged':
        case 'ProjectArchived':
        case 'ProjectRestored':
        case 'MemberAdded':
        case 'MemberRoleChanged':
        case 'MemberRemoved':
          return;
        default:
          return unhandledEvent(event);
      }
    },

    flush: () => {
      for (const { kind, key, delta } of pending.values()) add.run(kind, key, delta);
    },

    clear: () => pending.clear(),
  };
};
