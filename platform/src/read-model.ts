import Database from 'better-sqlite3';

export type ReadModelDb = Database.Database;

/**
 * The read model's schema version (design §10, "Read-model upgrades"). A model
 * recording an older one (or none: version 1, from before projects) is never
 * altered in place: the projector rebuilds a new one beside it from the events
 * and swaps readers over once it has caught up.
 */
export const READ_MODEL_VERSION = 2;

/** The read model's tables (design §5, §10). Column names are snake_case; answers are camelCase. */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS tasks (
  id TEXT PRIMARY KEY,
  project_id TEXT NOT NULL,
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
-- A project's board: its live tasks, most recently changed first.
CREATE INDEX IF NOT EXISTS tasks_project ON tasks (project_id, deleted, updated_at, id);
-- The same by creation: created_at never changes, so this index costs a write per task, not per event.
CREATE INDEX IF NOT EXISTS tasks_project_created ON tasks (project_id, deleted, created_at, id);

CREATE TABLE IF NOT EXISTS projects (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  description TEXT NOT NULL,
  visibility TEXT NOT NULL,
  owner_id TEXT NOT NULL,
  archived INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  revision INTEGER NOT NULL,
  position TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS projects_open ON projects (visibility, id);

CREATE TABLE IF NOT EXISTS project_members (
  project_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  role TEXT NOT NULL,
  added_at TEXT NOT NULL,
  PRIMARY KEY (project_id, user_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS project_members_user ON project_members (user_id, project_id);

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

-- Live tasks of each project counted by status and by assignee ('' = unassigned),
-- kept by the projection so /stats reads a few rows instead of scanning every task.
CREATE TABLE IF NOT EXISTS task_counts (
  project_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  key TEXT NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (project_id, kind, key)
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

/**
 * The schema version a model records: undefined for a file with no model in
 * it yet, 1 for a model from before versions were recorded.
 */
export const readModelVersion = (db: ReadModelDb): number | undefined => {
  const has = (table: string) =>
    db.prepare('SELECT 1 FROM sqlite_master WHERE type = ? AND name = ?').get('table', table) !==
    undefined;
  if (!has('checkpoints')) return undefined;
  if (!has('meta')) return 1;
  const row = db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get() as
    | { value: string }
    | undefined;
  return row ? Number(row.value) : 1;
};

/** A model of an older schema: rebuild it beside (never alter it in place). */
export class OutdatedReadModelError extends Error {
  override readonly name = 'OutdatedReadModelError';
  constructor(
    readonly path: string,
    readonly version: number,
  ) {
    super(
      `${path} holds a version ${version} read model; this code reads version ${READ_MODEL_VERSION}`,
    );
  }
}

/**
 * Opens (and creates) a read model for writing: WAL, so readers never wait
 * for the projector. A model of an older schema version is left untouched:
 * OutdatedReadModelError.
 */
export const openReadModel = (path: string): ReadModelDb => {
  const db = new Database(path);
  db.pragma('busy_timeout = 5000');
  const version = readModelVersion(db);
  if (version !== undefined && version < READ_MODEL_VERSION) {
    db.close();
    throw new OutdatedReadModelError(path, version);
  }
  if (version !== undefined && version > READ_MODEL_VERSION) {
    // Older code (a rollback) must not write rows a newer schema reads differently.
    db.close();
    throw new Error(
      `${path} holds a version ${version} read model, newer than this code's ${READ_MODEL_VERSION}: run the newer projector, or point READ_MODEL_PATH at a new file to rebuild it (npm run replay)`,
    );
  }
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  // The default 2 MB page cache thrashes once the model outgrows it.
  db.pragma('cache_size = -65536');
  db.pragma('mmap_size = 268435456');
  db.exec(SCHEMA);
  db.prepare(
    "INSERT INTO meta (key, value) VALUES ('schema_version', ?) ON CONFLICT (key) DO NOTHING",
  ).run(String(READ_MODEL_VERSION));
  return db;
};

/** Opens a read model read-only, as the query-service does. */
export const openReadModelReadOnly = (path: string): ReadModelDb => {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  db.pragma('busy_timeout = 5000');
  db.pragma('cache_size = -65536');
  db.pragma('mmap_size = 268435456');
  return db;
};

/** A row of `tasks` as the query-service answers it (design §6). */
export interface TaskRow {
  id: string;
  project_id: string;
  title: string;
  description: string;
  status: string;
  assignee_id: string | null;
  priority: string;
  due_date: string | null;
  labels: string;
  created_by: string;
  created_at: string;
  updated_at: string;
  revision: number;
  comment_count: number;
  deleted: number;
}

export const taskFromRow = (row: TaskRow) => ({
  id: row.id,
  projectId: row.project_id,
  title: row.title,
  description: row.description,
  status: row.status,
  assigneeId: row.assignee_id,
  priority: row.priority,
  dueDate: row.due_date,
  labels: JSON.parse(row.labels) as string[],
  createdBy: row.created_by,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  revision: row.revision,
  commentCount: row.comment_count,
});

/**
 * The same task answer as `JSON.stringify(taskFromRow(row))`, built by SQLite from
 * the row aliased `t`: a read then hands JavaScript one string instead of a
 * sixteen-column row object, whose property-by-property creation through the
 * native API cost more than the query itself.
 */
export const TASK_JSON_SQL = `json_object(
  'id', t.id, 'projectId', t.project_id, 'title', t.title, 'description', t.description, 'status', t.status,
  'assigneeId', t.assignee_id, 'priority', t.priority, 'dueDate', t.due_date,
  'labels', json(t.labels), 'createdBy', t.created_by, 'createdAt', t.created_at,
  'updatedAt', t.updated_at, 'revision', t.revision, 'commentCount', t.comment_count)`;

/**
 * `X-Read-Position` as a scalar subquery, for one-statement reads: one position
 * per log of the layout, by log name, `0-0` for a log the model has applied
 * nothing of yet (design §2).
 */
export const readPositionSql = (logNames: readonly string[]) => {
  const logs = [...logNames].sort().map((name) => {
    if (!/^[a-z0-9]+$/.test(name)) throw new Error(`not a log name: ${name}`);
    return `SELECT '${name}' AS log`;
  });
  return `(SELECT group_concat(l.log || ':' || coalesce(c.entry_id, '0-0'), ',' ORDER BY l.log)
    FROM (${logs.join(' UNION ALL ')}) l LEFT JOIN checkpoints c ON c.log = l.log)`;
};

const checkpointStatements = new WeakMap<
  Database.Database,
  Database.Statement<[], { log: string; entry_id: string }>
>();

/** The checkpoint of every log the model has applied (statement prepared once per handle). */
export const readCheckpoints = (db: Database.Database) => {
  let statement = checkpointStatements.get(db);
  if (!statement) {
    statement = db.prepare<[], { log: string; entry_id: string }>(
      'SELECT log, entry_id FROM checkpoints ORDER BY log',
    );
    checkpointStatements.set(db, statement);
  }
  return statement.all();
};
