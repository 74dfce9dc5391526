import {
  compareEntryIds,
  formatPosition,
  type Priority,
  type StoredEvent,
} from '@tasksync/contracts';
import type { ReadModelDb } from '@tasksync/contracts/read-model';

const PRIORITY_RANK: Record<Priority, number> = { low: 0, medium: 1, high: 2, urgent: 3 };

export interface BatchResult {
  /** Events applied (those above the checkpoint). */
  applied: number;
  /** The log's checkpoint after the batch, if it has one. */
  checkpoint: string | undefined;
}

/**
 * The projection: events in, read-model rows out. One module for the live
 * projector and the replay CLI (design §5). Every handler is idempotent on its
 * own (a task row changes only for a higher revision, inserts ignore repeats),
 * and batches skip what the log's checkpoint already covers.
 */
export const createProjection = (db: ReadModelDb) => {
  const statements = {
    checkpoint: db.prepare<[string], { entry_id: string }>(
      'SELECT entry_id FROM checkpoints WHERE log = ?',
    ),
    setCheckpoint: db.prepare(
      'INSERT INTO checkpoints (log, entry_id) VALUES (?, ?) ON CONFLICT (log) DO UPDATE SET entry_id = excluded.entry_id',
    ),
    insertTask: db.prepare(`
      INSERT INTO tasks (id, title, description, status, assignee_id, priority, priority_rank, due_date, labels,
        created_by, created_at, updated_at, revision, comment_count, deleted, position)
      VALUES (@id, @title, @description, @status, @assigneeId, @priority, @priorityRank, @dueDate, @labels,
        @createdBy, @at, @at, @rev, 0, 0, @position)
      ON CONFLICT (id) DO NOTHING`),
    changeDetails: db.prepare(`
      UPDATE tasks SET
        title = CASE WHEN @hasTitle THEN @title ELSE title END,
        description = CASE WHEN @hasDescription THEN @description ELSE description END,
        priority = CASE WHEN @hasPriority THEN @priority ELSE priority END,
        priority_rank = CASE WHEN @hasPriority THEN @priorityRank ELSE priority_rank END,
        due_date = CASE WHEN @hasDueDate THEN @dueDate ELSE due_date END,
        labels = CASE WHEN @hasLabels THEN @labels ELSE labels END,
        updated_at = @at, revision = @rev, position = @position
      WHERE id = @id AND revision < @rev`),
    changeStatus: db.prepare(
      'UPDATE tasks SET status = @to, updated_at = @at, revision = @rev, position = @position WHERE id = @id AND revision < @rev',
    ),
    assign: db.prepare(
      'UPDATE tasks SET assignee_id = @assigneeId, updated_at = @at, revision = @rev, position = @position WHERE id = @id AND revision < @rev',
    ),
    countComment: db.prepare(
      'UPDATE tasks SET comment_count = comment_count + 1, updated_at = @at, revision = @rev, position = @position WHERE id = @id AND revision < @rev',
    ),
    insertComment: db.prepare(`
      INSERT INTO comments (id, task_id, author_id, text, created_at, position)
      VALUES (@commentId, @id, @authorId, @text, @at, @position) ON CONFLICT (id) DO NOTHING`),
    markDeleted: db.prepare<
      Record<string, unknown>,
      { status: string; assignee_id: string | null }
    >(
      'UPDATE tasks SET deleted = 1, updated_at = @at, revision = @rev, position = @position WHERE id = @id AND revision < @rev RETURNING status, assignee_id',
    ),
    count: db.prepare(
      'INSERT INTO task_counts (kind, key, count) VALUES (?, ?, ?) ON CONFLICT (kind, key) DO UPDATE SET count = count + excluded.count',
    ),
    clearLabels: db.prepare('DELETE FROM task_labels WHERE task_id = ?'),
    addLabel: db.prepare('INSERT OR IGNORE INTO task_labels (task_id, label) VALUES (?, ?)'),
    activity: db.prepare(`
      INSERT INTO activity (task_id, revision, position, type, actor, at, data)
      VALUES (@id, @rev, @position, @type, @actor, @at, @data) ON CONFLICT DO NOTHING`),
    insertUser: db.prepare(`
      INSERT INTO users (id, email, name, role, created_at, revision)
      VALUES (@id, @email, @name, @role, @at, @rev) ON CONFLICT (id) DO NOTHING`),
    changeRole: db.prepare(
      'UPDATE users SET role = @to, revision = @rev WHERE id = @id AND revision < @rev',
    ),
  };

  const count = (kind: 'status' | 'assignee', key: string | null, delta: number) =>
    statements.count.run(kind, key ?? '', delta);

  const setLabels = (taskId: string, labels: string[]) => {
    statements.clearLabels.run(taskId);
    for (const label of labels) statements.addLabel.run(taskId, label);
  };

  /** Applies one event; returns whether it changed anything. */
  const applyEvent = (log: string, event: StoredEvent): boolean => {
    const base = {
      id: event.agg,
      at: event.at,
      rev: event.rev,
      position: formatPosition(log, event.entryId),
    };
    if (event.type === 'UserRegistered') {
      return statements.insertUser.run({ ...base, ...event.data }).changes > 0;
    }
    if (event.type === 'UserRoleChanged')
      return statements.changeRole.run({ ...base, to: event.data.to }).changes > 0;

    let changed: boolean;
    switch (event.type) {
      case 'TaskCreated': {
        const { data } = event;
        changed =
          statements.insertTask.run({
            ...base,
            ...data,
            priorityRank: PRIORITY_RANK[data.priority],
            labels: JSON.stringify(data.labels),
          }).changes > 0;
        if (changed) {
          setLabels(event.agg, data.labels);
          count('status', data.status, 1);
          count('assignee', data.assigneeId, 1);
        }
        break;
      }
      case 'TaskDetailsChanged': {
        const { data } = event;
        changed =
          statements.changeDetails.run({
            ...base,
            hasTitle: data.title !== undefined ? 1 : 0,
            title: data.title ?? null,
            hasDescription: data.description !== undefined ? 1 : 0,
            description: data.description ?? null,
            hasPriority: data.priority !== undefined ? 1 : 0,
            priority: data.priority ?? null,
            priorityRank: data.priority ? PRIORITY_RANK[data.priority] : null,
            hasDueDate: data.dueDate !== undefined ? 1 : 0,
            dueDate: data.dueDate ?? null,
            hasLabels: data.labels !== undefined ? 1 : 0,
            labels: data.labels ? JSON.stringify(data.labels) : null,
          }).changes > 0;
        if (changed && data.labels) setLabels(event.agg, data.labels);
        break;
      }
      case 'TaskStatusChanged':
        changed = statements.changeStatus.run({ ...base, to: event.data.to }).changes > 0;
        if (changed) {
          count('status', event.data.from, -1);
          count('status', event.data.to, 1);
        }
        break;
      case 'TaskAssigned':
        changed = statements.assign.run({ ...base, assigneeId: event.data.assigneeId }).changes > 0;
        if (changed) {
          count('assignee', event.data.previous, -1);
          count('assignee', event.data.assigneeId, 1);
        }
        break;
      case 'CommentAdded':
        changed = statements.countComment.run(base).changes > 0;
        if (changed) statements.insertComment.run({ ...base, ...event.data });
        break;
      case 'TaskDeleted': {
        const removed = statements.markDeleted.get(base);
        changed = removed !== undefined;
        if (removed) {
          count('status', removed.status, -1);
          count('assignee', removed.assignee_id, -1);
        }
        break;
      }
    }
    if (changed) {
      statements.activity.run({
        ...base,
        type: event.type,
        actor: event.actor,
        data: JSON.stringify(event.data),
      });
    }
    return changed;
  };

  /** One transaction: the events above the log's checkpoint, and the new checkpoint. */
  const applyBatch = db.transaction((log: string, events: StoredEvent[]): BatchResult => {
    let checkpoint = statements.checkpoint.get(log)?.entry_id;
    let applied = 0;
    for (const event of events) {
      if (checkpoint !== undefined && compareEntryIds(event.entryId, checkpoint) <= 0) continue;
      applyEvent(log, event);
      checkpoint = event.entryId;
      applied++;
    }
    if (applied) statements.setCheckpoint.run(log, checkpoint);
    return { applied, checkpoint };
  });

  return {
    applyBatch: (log: string, events: StoredEvent[]) => applyBatch(log, events),
    applyEvent,
    checkpoint: (log: string) => statements.checkpoint.get(log)?.entry_id,
  };
};

export type Projection = ReturnType<typeof createProjection>;
