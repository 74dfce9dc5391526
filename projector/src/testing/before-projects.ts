import { type KeyLayout, newId, TaskCreatedV1 } from '@tasksync/contracts';
import type { RedisClient } from '@tasksync/platform';
import type { ReadModelDb } from '@tasksync/platform/read-model';
import Database from 'better-sqlite3';

/**
 * Fixtures of TaskSync before projects: its event log and its read model
 * (schema version 1), for the tests of the upcaster and the read-model upgrade.
 */

/**
 * The read model's tables before projects, as \`git show df69c19^:platform/src/read-model.ts\`
 * has them: no version recorded, no project anywhere, counters over all tasks.
 */
export const READ_MODEL_V1_SCHEMA = `
CREATE TABLE IF NOT EXISTS tasks (
  id TEXT PRIMARY KEY,
  title TEXT NOT NULL,
  description TEXT NOT NULL,
  status TEXT NOT NULL,
  assignee_id TEXT,
  priority TEXT NOT NULL,
  priority_rank INTEGER NOT NULL,
  due_date TEXT,
  labels TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  revision INTEGER NOT NULL,
  comment_count INTEGER NOT NULL DEFAULT 0,
  deleted INTEGER NOT NULL DEFAULT 0,
  position TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS tasks_updated ON tasks (deleted, updated_at, id);
CREATE INDEX IF NOT EXISTS tasks_created ON tasks (deleted, created_at, id);
-- Filter indexes leave updated_at out: every event moves updated_at, and each index
-- holding it would be rewritten per event. A filtered page sorts its matches instead.
CREATE INDEX IF NOT EXISTS tasks_status ON tasks (status);
CREATE INDEX IF NOT EXISTS tasks_assignee ON tasks (assignee_id);
CREATE INDEX IF NOT EXISTS tasks_creator ON tasks (created_by);

CREATE TABLE IF NOT EXISTS task_labels (
  task_id TEXT NOT NULL,
  label TEXT NOT NULL,
  PRIMARY KEY (task_id, label)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS task_labels_label ON task_labels (label, task_id);

CREATE TABLE IF NOT EXISTS comments (
  id TEXT PRIMARY KEY,
  task_id TEXT NOT NULL,
  author_id TEXT NOT NULL,
  text TEXT NOT NULL,
  created_at TEXT NOT NULL,
  position TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS comments_task ON comments (task_id, created_at, id);

CREATE TABLE IF NOT EXISTS activity (
  task_id TEXT NOT NULL,
  revision INTEGER NOT NULL,
  position TEXT NOT NULL,
  type TEXT NOT NULL,
  actor TEXT NOT NULL,
  at TEXT NOT NULL,
  data TEXT NOT NULL,
  PRIMARY KEY (task_id, revision)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS users (
  id TEXT PRIMARY KEY,
  email TEXT NOT NULL,
  name TEXT NOT NULL,
  role TEXT NOT NULL,
  created_at TEXT NOT NULL,
  revision INTEGER NOT NULL
);

-- Live tasks counted by status and by assignee ('' = unassigned), kept by the
-- projection so /stats reads a few rows instead of scanning every task.
CREATE TABLE IF NOT EXISTS task_counts (
  kind TEXT NOT NULL,
  key TEXT NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (kind, key)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS checkpoints (
  log TEXT PRIMARY KEY,
  entry_id TEXT NOT NULL
) WITHOUT ROWID;

CREATE VIRTUAL TABLE IF NOT EXISTS tasks_fts USING fts5(
  title, description, content='tasks', content_rowid='rowid'
);
-- The projection writes tasks_fts itself, in bulk once per batch: a per-row trigger
-- made FTS5 flush a new segment for every task written. Models made with the
-- triggers lose them here.
DROP TRIGGER IF EXISTS tasks_fts_insert;
DROP TRIGGER IF EXISTS tasks_fts_update;
`;

/** The append of that time: each event to its log, then under the same entry id to its task's stream. */
const APPEND_V1 = `
local id = redis.call('XADD', KEYS[2], '*', unpack(ARGV))
redis.call('XADD', KEYS[1], id, unpack(ARGV))
return id`;

/** Appends one task event as the code before projects wrote it, with its schema version `v`. */
const appendV1 = (
  redis: RedisClient,
  keys: KeyLayout,
  event: { taskId: string; rev: number; type: string; v: number; data: unknown; actor: string },
) =>
  redis.eval(
    APPEND_V1,
    2,
    keys.taskStream(event.taskId),
    keys.taskLog(keys.partitionOf(event.taskId)),
    'id',
    newId(),
    'type',
    event.type,
    'v',
    String(event.v),
    'agg',
    event.taskId,
    'rev',
    String(event.rev),
    'at',
    new Date().toISOString(),
    'actor',
    event.actor,
    'corr',
    'before-projects',
    'data',
    JSON.stringify(event.data),
  ) as Promise<string>;

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
      await appendV1(redis, keys, { taskId, rev, actor: userId, ...event });
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
