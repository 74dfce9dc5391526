import { type KeyLayout, newId, TaskCreatedV1 } from '@tasksync/contracts';
import type { RedisClient } from '@tasksync/platform';
import type { ReadModelDb } from '@tasksync/platform/read-model';
import Database from 'better-sqlite3';
import { appendBeforeProjects } from '../../../test/fixtures/raw-append';
import { READ_MODEL_V1_SCHEMA } from '../../../test/fixtures/read-model-v1';

/**
 * Fixtures of TaskSync before projects: its event log and its read model
 * (schema version 1), for the tests of the upcaster and the read-model upgrade.
 */

/**
 * Writes the log of a TaskSync from before projects: `tasks` tasks by
 * `userId`, each created (TaskCreated v1: no projectId), commented on and
 * started, every tenth then deleted. Returns the ids of the tasks, and of
 * those deleted.
 */
export const writeV1Log = async (
  redis: RedisClient,
  keys: KeyLayout,
  { userId, tasks }: { userId: string; tasks: number },
) => {
  const taskIds = Array.from({ length: tasks }, () => newId());
  const isDeleted = (n: number) => n % 10 === 9;
  const writeTask = async (taskId: string, n: number) => {
    const created = TaskCreatedV1.parse({
      type: 'TaskCreated',
      data: {
        title: `Before projects ${n}`,
        description: `task ${n} of the old days`,
        status: 'pending',
        assigneeId: n % 3 === 0 ? userId : null,
        priority: 'medium',
        dueDate: null,
        labels: ['old'],
        createdBy: userId,
      },
    });
    const events = [
      { ...created, v: 1 },
      {
        type: 'CommentAdded',
        v: 1,
        data: { commentId: newId(), text: `comment on ${n}`, authorId: userId },
      },
      { type: 'TaskStatusChanged', v: 1, data: { from: 'pending', to: 'in-progress' } },
      ...(isDeleted(n) ? [{ type: 'TaskDeleted', v: 1, data: {} }] : []),
    ];
    for (const [rev, event] of events.entries())
      await appendBeforeProjects(redis, keys, { taskId, rev, actor: userId, ...event });
  };
  // Tasks side by side, each task's events in order.
  for (let i = 0; i < taskIds.length; i += 100)
    await Promise.all(taskIds.slice(i, i + 100).map((id, j) => writeTask(id, i + j)));
  return { taskIds, deletedIds: taskIds.filter((_, n) => isDeleted(n)) };
};

/**
 * Writes at `path` the version-1 model a projector from before projects built
 * from a log of that time: the rows a current model of the same log holds
 * (`current`, projected from it), less what version 1 did not have (projects,
 * members, the schema version, TaskCreated's projectId), with the counters
 * summed over projects. WAL, as that projector left it.
 */
export const writeV1ReadModel = (path: string, current: ReadModelDb) => {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.exec(READ_MODEL_V1_SCHEMA);
  db.prepare('ATTACH DATABASE ? AS current').run(current.name);
  db.transaction(() => {
    db.exec(`
      INSERT INTO tasks (rowid, id, title, description, status, assignee_id, priority, priority_rank,
        due_date, labels, created_by, created_at, updated_at, revision, comment_count, deleted, position)
      SELECT rowid, id, title, description, status, assignee_id, priority, priority_rank,
        due_date, labels, created_by, created_at, updated_at, revision, comment_count, deleted, position
      FROM current.tasks ORDER BY rowid;
      INSERT INTO task_labels SELECT * FROM current.task_labels;
      INSERT INTO comments SELECT * FROM current.comments;
      INSERT INTO activity SELECT task_id, revision, position, type, actor, at,
        CASE type WHEN 'TaskCreated' THEN json_remove(data, '$.projectId') ELSE data END
      FROM current.activity;
      INSERT INTO users SELECT * FROM current.users;
      INSERT INTO task_counts SELECT kind, key, sum(count) FROM current.task_counts GROUP BY kind, key;
      INSERT INTO checkpoints SELECT * FROM current.checkpoints WHERE log <> 'p';
      INSERT INTO tasks_fts (tasks_fts) VALUES ('rebuild');
    `);
  })();
  db.exec('DETACH DATABASE current');
  db.close();
};
