import type { StoredEvent, TaskEvent } from '@tasksync/contracts';
import type { ReadModelDb } from '@tasksync/platform/read-model';
import { unhandledEvent } from './exhaustive';

/** `activity`: a task's history, one row per event it took, keyed by its revision. */
export const createActivityProjection = (db: ReadModelDb) => {
  const insert = db.prepare(`
    INSERT INTO activity (task_id, revision, position, type, actor, at, data)
    VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`);

  return {
    /** Applies a task event the task has just taken (not a repeat). */
    fold: (event: StoredEvent<TaskEvent>, position: string) => {
      switch (event.type) {
        case 'TaskCreated':
        case 'TaskDetailsChanged':
        case 'TaskStatusChanged':
        case 'TaskAssigned':
        case 'CommentAdded':
        case 'TaskDeleted':
        case 'TaskMoved':
          insert.run(
            event.agg,
            event.rev,
            position,
            event.type,
            event.actor,
            event.at,
            JSON.stringify(event.data),
          );
          return;
        default:
          return unhandledEvent(event);
      }
    },
  };
};
