import { formatPosition, type Priority, type StoredEvent } from '@tasksync/contracts';
import type { ReadModelDb } from '@tasksync/platform/read-model';

const PRIORITY_RANK: Record<Priority, number> = { low: 0, medium: 1, high: 2, urgent: 3 };

export interface BatchResult {
  /** Events applied (those above the checkpoint). */
  applied: number;
  /** The log's checkpoint after the batch, if it has one. */
  checkpoint: string | undefined;
}

/** The columns of `tasks` an event can change; the others are set once, by TaskCreated. */
const MUTABLE_COLUMNS = [
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

type TaskColumns = Record<MutableColumn, string | number | null> & {
  id: string;
  created_by: string;
  created_at: string;
};

/** A task as the batch has folded it so far, and as it was stored before the batch. */
interface PendingTask {
  row: TaskColumns;
  /** The stored row (rowid and columns) before this batch; none for a task created in it. */
  stored: { rowid: number | bigint; row: TaskColumns } | undefined;
  /** The labels to write to task_labels, when an event of this batch set them. */
  labels: string[] | undefined;
}

/** Decimal digit strings without leading zeros, compared by length first: no parsing. */
const compareDigits = (a: string, b: string) =>
  a.length !== b.length ? a.length - b.length : a < b ? -1 : a > b ? 1 : 0;

/** Compares two stream entry ids (`ms-seq`); cheaper than BigInt, run for every event. */
const compareIds = (a: string, b: string) => {
  const ad = a.indexOf('-');
  const bd = b.indexOf('-');
  return (
    compareDigits(a.slice(0, ad), b.slice(0, bd)) || compareDigits(a.slice(ad + 1), b.slice(bd + 1))
  );
};

/**
 * The projection: events in, read-model rows out. One module for the live
 * projector and the replay CLI (design §5). Every handler is idempotent on its
 * own (a task changes only for a higher revision, inserts ignore repeats), and
 * batches skip what the log's checkpoint already covers.
 *
 * Within a batch, tasks are folded in memory and each touched task's row,
 * labels, FTS entry and counters are written once when the batch ends, in the
 * same transaction: a task with ten events in a batch costs one row write, and
 * the FTS index gets one bulk insert per batch (a per-row trigger flushed a
 * new FTS segment on every statement). The result is the same for any split
 * into batches, so the live projector and a replay build the same rows.
 */
export const createProjection = (db: ReadModelDb) => {
  const statements = {
    checkpoint: db.prepare<[string], { entry_id: string }>(
      'SELECT entry_id FROM checkpoints WHERE log = ?',
    ),
    setCheckpoint: db.prepare(
      'INSERT INTO checkpoints (log, entry_id) VALUES (?, ?) ON CONFLICT (log) DO UPDATE SET entry_id = excluded.entry_id',
    ),
    loadTask: db.prepare<[string], TaskColumns & { rowid: number }>(
      `SELECT rowid, id, ${MUTABLE_COLUMNS.join(', ')}, created_by, created_at FROM tasks WHERE id = ?`,
    ),
    insertTask: db.prepare(`
      INSERT INTO tasks (id, title, description, status, assignee_id, priority, priority_rank, due_date, labels,
        created_by, created_at, updated_at, revision, comment_count, deleted, position)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    insertComment: db.prepare(`
      INSERT INTO comments (id, task_id, author_id, text, created_at, position)
      VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`),
    count: db.prepare(
      'INSERT INTO task_counts (kind, key, count) VALUES (?, ?, ?) ON CONFLICT (kind, key) DO UPDATE SET count = count + excluded.count',
    ),
    clearLabels: db.prepare('DELETE FROM task_labels WHERE task_id = ?'),
    addLabel: db.prepare('INSERT OR IGNORE INTO task_labels (task_id, label) VALUES (?, ?)'),
    activity: db.prepare(`
      INSERT INTO activity (task_id, revision, position, type, actor, at, data)
      VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`),
    // One statement per batch: FTS5 writes its pending terms as a new segment
    // at the start of every statement that writes it.
    ftsDelete: db.prepare(
      `INSERT INTO tasks_fts (tasks_fts, rowid, title, description)
       SELECT 'delete', value ->> 0, value ->> 1, value ->> 2 FROM json_each(?)`,
    ),
    ftsInsert: db.prepare(
      `INSERT INTO tasks_fts (rowid, title, description)
       SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?)`,
    ),
    insertUser: db.prepare(`
      INSERT INTO users (id, email, name, role, created_at, revision)
      VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`),
    changeRole: db.prepare(
      'UPDATE users SET role = ? , revision = ? WHERE id = ? AND revision < ?',
    ),
  };

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

  /** What the batch in hand has changed but not yet written. */
  const pending = {
    tasks: new Map<string, PendingTask | null>(),
    counts: new Map<string, { kind: string; key: string; delta: number }>(),
  };

  const taskOf = (id: string): PendingTask | null => {
    let task = pending.tasks.get(id);
    if (task === undefined) {
      const stored = statements.loadTask.get(id);
      if (stored) {
        const { rowid, ...row } = stored;
        task = { row: { ...row }, stored: { rowid, row }, labels: undefined };
      } else {
        task = null;
      }
      pending.tasks.set(id, task);
    }
    return task;
  };

  // Every counter an event touches gets its row, even when the deltas cancel
  // out: which rows exist must not depend on where batches split.
  const count = (kind: 'status' | 'assignee', key: string | null, delta: number) => {
    const name = `${kind}\n${key ?? ''}`;
    const entry = pending.counts.get(name);
    if (entry) entry.delta += delta;
    else pending.counts.set(name, { kind, key: key ?? '', delta });
  };

  /** Folds one task event into the pending task; returns whether it changed anything. */
  const applyTaskEvent = (event: StoredEvent, position: string): boolean => {
    if (event.type === 'TaskCreated') {
      if (taskOf(event.agg)) return false;
      const { data } = event;
      pending.tasks.set(event.agg, {
        row: {
          id: event.agg,
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
        stored: undefined,
        labels: data.labels,
      });
      count('status', data.status, 1);
      count('assignee', data.assigneeId, 1);
      return true;
    }
    const task = taskOf(event.agg);
    if (!task || (task.row.revision as number) >= event.rev) return false;
    const { row } = task;
    switch (event.type) {
      case 'TaskDetailsChanged': {
        const { data } = event;
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
        break;
      }
      case 'TaskStatusChanged':
        row.status = event.data.to;
        count('status', event.data.from, -1);
        count('status', event.data.to, 1);
        break;
      case 'TaskAssigned':
        row.assignee_id = event.data.assigneeId;
        count('assignee', event.data.previous, -1);
        count('assignee', event.data.assigneeId, 1);
        break;
      case 'CommentAdded':
        row.comment_count = (row.comment_count as number) + 1;
        statements.insertComment.run(
          event.data.commentId,
          event.agg,
          event.data.authorId,
          event.data.text,
          event.at,
          position,
        );
        break;
      case 'TaskDeleted':
        row.deleted = 1;
        count('status', row.status as string, -1);
        count('assignee', row.assignee_id as string | null, -1);
        break;
    }
    row.updated_at = event.at;
    row.revision = event.rev;
    row.position = position;
    return true;
  };

  /** Applies one event to the batch in hand; returns whether it changed anything. */
  const fold = (log: string, event: StoredEvent): boolean => {
    const position = formatPosition(log, event.entryId);
    if (event.type === 'UserRegistered') {
      const { data } = event;
      return (
        statements.insertUser.run(event.agg, data.email, data.name, data.role, event.at, event.rev)
          .changes > 0
      );
    }
    if (event.type === 'UserRoleChanged') {
      return statements.changeRole.run(event.data.to, event.rev, event.agg, event.rev).changes > 0;
    }
    const changed = applyTaskEvent(event, position);
    if (changed) {
      statements.activity.run(
        event.agg,
        event.rev,
        position,
        event.type,
        event.actor,
        event.at,
        JSON.stringify(event.data),
      );
    }
    return changed;
  };

  /** Writes what the batch has folded: each touched task once, its labels, FTS entry and counters. */
  const flush = () => {
    const ftsDeletes: unknown[] = [];
    const ftsInserts: unknown[] = [];
    for (const task of pending.tasks.values()) {
      if (!task) continue;
      const { row, stored } = task;
      if (!stored) {
        const { lastInsertRowid } = statements.insertTask.run(
          row.id,
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
        );
        ftsInserts.push([lastInsertRowid, row.title, row.description]);
      } else {
        const changed = MUTABLE_COLUMNS.filter((column) => row[column] !== stored.row[column]);
        if (!changed.length) continue;
        updateStatement(changed).run(...changed.map((column) => row[column]), stored.rowid);
        if (row.title !== stored.row.title || row.description !== stored.row.description) {
          ftsDeletes.push([stored.rowid, stored.row.title, stored.row.description]);
          ftsInserts.push([stored.rowid, row.title, row.description]);
        }
      }
      if (task.labels) {
        if (stored) statements.clearLabels.run(row.id);
        for (const label of task.labels) statements.addLabel.run(row.id, label);
      }
    }
    if (ftsDeletes.length) statements.ftsDelete.run(JSON.stringify(ftsDeletes));
    if (ftsInserts.length) statements.ftsInsert.run(JSON.stringify(ftsInserts));
    for (const { kind, key, delta } of pending.counts.values()) {
      statements.count.run(kind, key, delta);
    }
    pending.tasks.clear();
    pending.counts.clear();
  };

  /** One transaction: the events above the log's checkpoint, and the new checkpoint. */
  const applyBatch = db.transaction((log: string, events: StoredEvent[]): BatchResult => {
    let checkpoint = statements.checkpoint.get(log)?.entry_id;
    let applied = 0;
    try {
      for (const event of events) {
        if (checkpoint !== undefined && compareIds(event.entryId, checkpoint) <= 0) continue;
        fold(log, event);
        checkpoint = event.entryId;
        applied++;
      }
      flush();
    } finally {
      // A failed batch rolls back; what it folded must not leak into the next one.
      pending.tasks.clear();
      pending.counts.clear();
    }
    if (applied) statements.setCheckpoint.run(log, checkpoint);
    return { applied, checkpoint };
  });

  /** Applies one event on its own, checkpoint aside (its own transaction). */
  const applyEvent = db.transaction((log: string, event: StoredEvent): boolean => {
    try {
      const changed = fold(log, event);
      flush();
      return changed;
    } finally {
      pending.tasks.clear();
      pending.counts.clear();
    }
  });

  return {
    applyBatch: (log: string, events: StoredEvent[]) => applyBatch(log, events),
    applyEvent: (log: string, event: StoredEvent) => applyEvent(log, event),
    checkpoint: (log: string) => statements.checkpoint.get(log)?.entry_id,
  };
};

export type Projection = ReturnType<typeof createProjection>;
