import type { StoredEvent, TaskEvent } from '@tasksync/contracts';
import type { ReadModelDb } from '@tasksync/platform/read-model';
import { unhandledEvent } from './exhaustive';
import type { TaskInBatch } from './tasks';

/**
 * `tasks_fts`: FTS5 over each task's title and description, written in bulk
 * once per batch, after the task rows (a new task's rowid comes from its
 * insert). A per-row trigger made FTS5 flush a new segment for every task.
 */
export const createSearchProjection = (db: ReadModelDb) => {
  // One statement each per batch: FTS5 writes its pending terms as a new
  // segment at the start of every statement that writes it.
  const remove = db.prepare(
    `INSERT INTO tasks_fts (tasks_fts, rowid, title, description)
     SELECT 'delete', value ->> 0, value ->> 1, value ->> 2 FROM json_each(?)`,
  );
  const insert = db.prepare(
    `INSERT INTO tasks_fts (rowid, title, description)
     SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?)`,
  );
  /** The tasks whose searchable text an event of the batch may have changed. */
  const touched = new Set<TaskInBatch>();

  return {
    /** Notes a task event the task has just taken (not a repeat). */
    fold: (event: StoredEvent<TaskEvent>, task: TaskInBatch) => {
      switch (event.type) {
        case 'TaskCreated':
          touched.add(task);
          return;
        case 'TaskDetailsChanged':
          if (event.data.title !== undefined || event.data.description !== undefined) {
            touched.add(task);
          }
          return;
        case 'TaskStatusChanged':
        case 'TaskAssigned':
        case 'CommentAdded':
        case 'TaskDeleted':
        case 'TaskMoved':
          return;
        default:
          return unhandledEvent(event);
      }
    },

    /** Replaces the index entry of each task whose text the batch changed (call after the task rows). */
    flush: () => {
      const removals: unknown[] = [];
      const inserts: unknown[] = [];
      for (const { row, rowid, stored } of touched) {
        if (stored) {
          if (row.title === stored.title && row.description === stored.description) continue;
          removals.push([rowid, stored.title, stored.description]);
        }
        inserts.push([rowid, row.title, row.description]);
      }
      if (removals.length) remove.run(JSON.stringify(removals));
      if (inserts.length) insert.run(JSON.stringify(inserts));
    },

    clear: () => touched.clear(),
  };
};
