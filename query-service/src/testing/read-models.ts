import {
  GENERAL_PROJECT_ID,
  type Priority,
  type ProjectRole,
  type Visibility,
} from '@tasksync/contracts';
import { openReadModel, type ReadModelDb } from '@tasksync/platform/read-model';
import Database from 'better-sqlite3';
import { READ_MODEL_V1_SCHEMA } from '../../../test/fixtures/read-model-v1';

// Read models written row by row, for tests of the query-service's SQL that
// need no projector: the current schema (platform's openReadModel), or the
// schema as version 1 wrote it, before projects (the query-service must keep
// answering from such a file until it is rebuilt).

/** A version 1 read model (no meta, no projects, no project_id) at `path`, open for writing. */
export const createVersion1Model = (path: string): ReadModelDb => {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.exec(READ_MODEL_V1_SCHEMA);
  return db;
};

/** A read model of the current schema at `path`, open for writing. */
export const createCurrentModel = (path: string): ReadModelDb => openReadModel(path);

const PRIORITY_RANK: Record<Priority, number> = { low: 0, medium: 1, high: 2, urgent: 3 };

export interface TaskSeed {
  id: string;
  projectId?: string;
  title: string;
  description?: string;
  status?: 'pending' | 'in-progress' | 'completed';
  assigneeId?: string | null;
  priority?: Priority;
  dueDate?: string | null;
  labels?: string[];
  createdBy: string;
  createdAt: string;
  updatedAt?: string;
  deleted?: boolean;
}

/** Writes rows as the projection would, into a model of either schema. */
export const modelWriter = (db: ReadModelDb) => {
  const version1 =
    db.prepare("SELECT 1 FROM pragma_table_info('tasks') WHERE name = 'project_id'").get() ===
    undefined;
  return {
    version1,
    user: (user: { id: string; name: string; role?: 'admin' | 'member'; email?: string }) =>
      db
        .prepare(
          'INSERT INTO users (id, email, name, role, created_at, revision) VALUES (?, ?, ?, ?, ?, 0)',
        )
        .run(
          user.id,
          user.email ?? `${user.id}@example.com`,
          user.name,
          user.role ?? 'member',
          '2026-01-01T00:00:00.000Z',
        ),
    project: (project: {
      id: string;
      name: string;
      visibility: Visibility;
      ownerId?: string;
      archived?: boolean;
      description?: string;
    }) =>
      db
        .prepare(
          `INSERT INTO projects (id, name, description, visibility, owner_id, archived, created_at, updated_at, revision, position)
           VALUES (?, ?, ?, ?, ?, ?, '2026-01-01T00:00:00.000Z', '2026-01-02T00:00:00.000Z', 3, 'p:1-0')`,
        )
        .run(
          project.id,
          project.name,
          project.description ?? '',
          project.visibility,
          project.ownerId ?? 'system',
          project.archived ? 1 : 0,
        ),
    member: (projectId: string, userId: string, role: ProjectRole) =>
      db
        .prepare(
          "INSERT INTO project_members (project_id, user_id, role, added_at) VALUES (?, ?, ?, '2026-01-03T00:00:00.000Z')",
        )
        .run(projectId, userId, role),
    task: (task: TaskSeed) => {
      const columns: Record<string, unknown> = {
        id: task.id,
        title: task.title,
        description: task.description ?? '',
        status: task.status ?? 'pending',
        assignee_id: task.assigneeId ?? null,
        priority: task.priority ?? 'medium',
        priority_rank: PRIORITY_RANK[task.priority ?? 'medium'],
        due_date: task.dueDate ?? null,
        labels: JSON.stringify(task.labels ?? []),
        created_by: task.createdBy,
        created_at: task.createdAt,
        updated_at: task.updatedAt ?? task.createdAt,
        revision: 0,
        comment_count: 0,
        deleted: task.deleted ? 1 : 0,
        position: 't0:1-0',
      };
      if (!version1) columns.project_id = task.projectId ?? GENERAL_PROJECT_ID;
      const names = Object.keys(columns);
      const { lastInsertRowid } = db
        .prepare(
          `INSERT INTO tasks (${names.join(', ')}) VALUES (${names.map(() => '?').join(', ')})`,
        )
        .run(...Object.values(columns));
      db.prepare('INSERT INTO tasks_fts (rowid, title, description) VALUES (?, ?, ?)').run(
        lastInsertRowid,
        columns.title,
        columns.description,
      );
      for (const label of task.labels ?? [])
        db.prepare('INSERT INTO task_labels (task_id, label) VALUES (?, ?)').run(task.id, label);
    },
    /** The counters, from the live tasks (what the projection keeps up to date). */
    countTasks: () => {
      db.exec('DELETE FROM task_counts');
      const project = version1 ? '' : 'project_id, ';
      for (const [kind, column] of [
        ['status', 'status'],
        ['assignee', "coalesce(assignee_id, '')"],
      ])
        db.exec(
          `INSERT INTO task_counts (${project}kind, key, count)
           SELECT ${project}'${kind}', ${column}, count(*) FROM tasks WHERE deleted = 0
           GROUP BY ${project}${column}`,
        );
    },
    checkpoint: (log: string, entryId: string) =>
      db
        .prepare(
          'INSERT INTO checkpoints (log, entry_id) VALUES (?, ?) ON CONFLICT (log) DO UPDATE SET entry_id = excluded.entry_id',
        )
        .run(log, entryId),
  };
};
