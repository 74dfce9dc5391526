import type { Priority, StoredEvent, TaskEvent } from '@tasksync/contracts';
import type { ReadModelDb } from '@tasksync/platform/read-model';
import { unhandledEvent } from './exhaustive';

const PRIORITY_RANK: Record<Priority, number> = { low: 0, medium: 1, high: 2, urgent: 3 };

/** The columns of `tasks` an event can change; the others are set once, by TaskCreated. */
const MUTABLE_COLUMNS = [
  'project_id',
  'title',
  'description',
  'status',
  'assignee_id',
  'priority',
  'priority_rank',
  'due_date',
  'labels',
  'updated_at',
  'revision',
  'comment_count',
  'deleted',
  'position',
] as const;
type MutableColumn = (typeof MUTABLE_COLUMNS)[number];

export type TaskColumns = Record<MutableColumn, string | number | null> & {
  id: string;
  created_by: string;
  created_at: string;
};

/** A task as the batch has folded it so far, and as it was stored before the batch. */
export interface TaskInBatch {
  row: TaskColumns;
  /** The row's rowid: the stored one, or, for a task created in this batch, its insert's. */
  rowid: number | bigint | undefined;
  /** The stored columns before this batch; none for a task created in it. */
  stored: TaskColumns | undefined;
  /** The labels to write to task_labels, when an event of this batch set them. */
  labels: string[] | undefined;
}

/**
 * `tasks` and `task_labels`, and the gate for every other task projection: a
 * task takes an event only for a higher revision (or, for TaskCreated, if it
 * does not exist yet), so a repeat changes nothing anywhere.
 *
 * Tasks are folded in memory and each touched task is written once when the
 * batch ends: a task with ten events in a batch costs one row write.
 */
export const createTasksProjection = (db: ReadModelDb) => {
  const load = db.prepare<[string], TaskColumns & { rowid: number }>(
    `SELECT rowid, id, ${MUTABLE_COLUMNS.join(', ')}, created_by, created_at FROM tasks WHERE id = ?`,
  );
  const insert = db.prepare(`
    INSERT INTO tasks (id, project_id, title, description, status, assignee_id, priority, priority_rank,
      due_date, labels, created_by, created_at, updated_at, revision, comment_count, deleted, position)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const clearLabels = db.prepare('DELETE FROM task_labels WHERE task_id = ?');
  const addLabel = db.prepare('INSERT OR IGNORE INTO task_labels (task_id, label) VALUES (?, ?)');

  /** UPDATE statements by the set of columns they write, made on first use. */
  const updates = new Map<string, ReturnType<typeof db.prepare<unknown[]>>>();
  const updateStatement = (columns: MutableColumn[]) => {
    const key = columns.join(',');
    let statement = updates.get(key);
    if (!statement) {
      statement = db.prepare<unknown[]>(
        `UPDATE tasks SET ${columns.map((c) => `${c} = ?`).join(', ')} WHERE rowid = ?`,
      );
      updates.set(key, statement);
    }
    return statement;
  };

  /** The tasks the batch in hand has read or folded; null for an id with no task. */
  const pending = new Map<string, TaskInBatch | null>();

  const taskOf = (id: string): TaskInBatch | null => {
    let task = pending.get(id);
    if (task === undefined) {
      const found = load.get(id);
      if (found) {
        const { rowid, ...stored } = found;
        task = { row: { ...stored }, rowid, stored, labels: undefined };
      } else {
        task = null;
      }
      pending.set(id, task);
    }
    return task;
  };

  /** The task, if it has not yet taken this revision. */
  const behind = (event: StoredEvent<TaskEvent>) => {
    const task = taskOf(event.agg);
    return task && (task.row.revision as number) < event.rev ? task : undefined;
  };

  /** Every change moves the task's revision, time and position. */
  const took = (task: TaskInBatch, event: StoredEvent, position: string) => {
    task.row.updated_at = event.at;
    task.row.revision = event.rev;
    task.row.position = position;
    return task;
  };

  return {
    /** Folds a task event into its task; returns the task if it took the event, undefined for a repeat. */
    fold: (event: StoredEvent<TaskEvent>, position: string): TaskInBatch | undefined => {
      switch (event.type) {
        case 'TaskCreated': {
          if (taskOf(event.agg)) return undefined;
          const { data } = event;
          const task: TaskInBatch = {
            row: {
              id: event.agg,
              project_id: data.projectId,
              title: data.title,
              description: data.description,
              status: data.status,
              assignee_id: data.assigneeId,
              priority: data.priority,
              priority_rank: PRIORITY_RANK[data.priority],
              due_date: data.dueDate,
              labels: JSON.stringify(data.labels),
              created_by: data.createdBy,
              created_at: event.at,
              updated_at: event.at,
              revision: event.rev,
              comment_count: 0,
              deleted: 0,
              position,
            },
            rowid: undefined,
            stored: undefined,
            labels: data.labels,
          };
          pending.set(event.agg, task);
          return task;
        }
        case 'TaskDetailsChanged': {
          const task = behind(event);
          if (!task) return undefined;
          const { data } = event;
          const { row } = task;
          if (data.title !== undefined) row.title = data.title;
          if (data.description !== undefined) row.description = data.description;
          if (data.priority !== undefined) {
            row.priority = data.priority;
            row.priority_rank = PRIORITY_RANK[data.priority];
          }
          if (data.dueDate !== undefined) row.due_date = data.dueDate;
          if (data.labels !== undefined) {
            row.labels = JSON.stringify(data.labels);
            task.labels = data.labels;
          }
          return took(task, event, position);
        }
        case 'TaskStatusChanged': {
          const task = behind(event);
          if (!task) return undefined;
          task.row.status = event.data.to;
          return took(task, event, position);
        }
        case 'TaskAssigned': {
          const task = behind(event);
          if (!task) return undefined;
          task.row.assignee_id = event.data.assigneeId;
          return took(task, event, position);
        }
        case 'CommentAdded': {
          const task = behind(event);
          if (!task) return undefined;
          task.row.comment_count = (task.row.comment_count as number) + 1;
          return took(task, event, position);
        }
        case 'TaskDeleted': {
          // A deleted task keeps its row (and its last status and assignee) for its history.
          const task = behind(event);
          if (!task) return undefined;
          task.row.deleted = 1;
          return took(task, event, position);
        }
        case 'TaskMoved': {
          // The task keeps everything else: its id, history, comments and search entry.
          const task = behind(event);
          if (!task) return undefined;
          task.row.project_id = event.data.to;
          return took(task, event, position);
        }
        default:
          return unhandledEvent(event);
      }
    },

    /** Writes each task the batch touched, once: its row and, if they changed, its labels. */
    flush: () => {
      for (const task of pending.values()) {
        if (!task) continue;
        const { row, stored } = task;
        if (!stored) {
          task.rowid = insert.run(
            row.id,
            row.project_id,
            row.title,
            row.description,
            row.status,
            row.assignee_id,
            row.priority,
            row.priority_rank,
            row.due_date,
            row.labels,
            row.created_by,
            row.created_at,
            row.updated_at,
            row.revision,
            row.comment_count,
            row.deleted,
            row.position,
          ).lastInsertRowid;
        } else {
          const changed = MUTABLE_COLUMNS.filter((column) => row[column] !== stored[column]);
          if (!changed.length) continue;
          updateStatement(changed).run(...changed.map((column) => row[column]), task.rowid);
        }
        if (task.labels) {
          if (stored) clearLabels.run(row.id);
          for (const label of task.labels) addLabel.run(row.id, label);
        }
      }
    },

    /** Forgets the batch in hand: after its commit, or after a rollback. */
    clear: () => pending.clear(),
  };
};
