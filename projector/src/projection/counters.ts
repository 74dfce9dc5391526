import type { StoredEvent, TaskEvent } from '@tasksync/contracts';
import type { ReadModelDb } from '@tasksync/platform/read-model';
import { unhandledEvent } from './exhaustive';
import type { TaskColumns } from './tasks';

type CounterKind = 'status' | 'assignee';

/**
 * `task_counts`: live tasks of each project by status and by assignee
 * ('' = unassigned), for /stats and the project list. Deltas are summed in
 * memory and written once per batch. Every counter an event touches gets its
 * row, even when the deltas cancel out: which rows exist must not depend on
 * where batches split.
 */
export const createCountersProjection = (db: ReadModelDb) => {
  const add = db.prepare(
    `INSERT INTO task_counts (project_id, kind, key, count) VALUES (?, ?, ?, ?)
     ON CONFLICT (project_id, kind, key) DO UPDATE SET count = count + excluded.count`,
  );
  const pending = new Map<
    string,
    { projectId: string; kind: CounterKind; key: string; delta: number }
  >();

  const count = (projectId: string, kind: CounterKind, key: string | null, delta: number) => {
    const name = `${projectId}\n${kind}\n${key ?? ''}`;
    const entry = pending.get(name);
    if (entry) entry.delta += delta;
    else pending.set(name, { projectId, kind, key: key ?? '', delta });
  };

  return {
    /**
     * Counts a task event the task has just taken (not a repeat); `task` is
     * its row after the event, which for a deletion still holds the status,
     * assignee and project it is counted under.
     */
    fold: (event: StoredEvent<TaskEvent>, task: TaskColumns) => {
      const projectId = task.project_id as string;
      switch (event.type) {
        case 'TaskCreated':
          count(projectId, 'status', event.data.status, 1);
          count(projectId, 'assignee', event.data.assigneeId, 1);
          return;
        case 'TaskStatusChanged':
          count(projectId, 'status', event.data.from, -1);
          count(projectId, 'status', event.data.to, 1);
          return;
        case 'TaskAssigned':
          count(projectId, 'assignee', event.data.previous, -1);
          count(projectId, 'assignee', event.data.assigneeId, 1);
          return;
        case 'TaskDeleted':
          count(projectId, 'status', task.status as string, -1);
          count(projectId, 'assignee', task.assignee_id as string | null, -1);
          return;
        case 'TaskMoved': {
          // A deleted task is counted nowhere, so it has nothing to take along.
          if (task.deleted) return;
          const { from, to } = event.data;
          const status = task.status as string;
          const assignee = task.assignee_id as string | null;
          count(from, 'status', status, -1);
          count(from, 'assignee', assignee, -1);
          count(to, 'status', status, 1);
          count(to, 'assignee', assignee, 1);
          return;
        }
        case 'TaskDetailsChanged':
        case 'CommentAdded':
          return;
        default:
          return unhandledEvent(event);
      }
    },

    flush: () => {
      for (const { projectId, kind, key, delta } of pending.values())
        add.run(projectId, kind, key, delta);
    },

    clear: () => pending.clear(),
  };
};
