import type { StoredEvent, TaskEvent } from '@tasksync/contracts';
import type { ReadModelDb } from '@tasksync/platform/read-model';
import { unhandledEvent } from './exhaustive';

/** `comments`: one row per comment. The task's comment count is the task row's (tasks.ts). */
export const createCommentsProjection = (db: ReadModelDb) => {
  const insert = db.prepare(`
    INSERT INTO comments (id, task_id, author_id, text, created_at, position)
    VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`);

  return {
    /** Applies a task event the task has just taken (not a repeat). */
    fold: (event: StoredEvent<TaskEvent>, position: string) => {
      switch (event.type) {
        case 'CommentAdded': {
          const { data } = event;
          insert.run(data.commentId, event.agg, data.authorId, data.text, event.at, position);
          return;
        }
        case 'TaskCreated':
        case 'TaskDetailsChanged':
        case 'TaskStatusChanged':
        case 'TaskAssigned':
        case 'TaskDeleted':
        case 'TaskMoved':
          return;
        default:
          return unhandledEvent(event);
      }
    },
  };
};
