import {
  accessFrom,
  type ProjectAccess,
  ProjectId,
  type ProjectRole,
  problems,
  TaskStatus,
  type Visibility,
} from '@tasksync/contracts';
import type { ReadModelDb } from '@tasksync/platform/read-model';
import { z } from 'zod';
import { type Caller, VISIBLE_PROJECTS_SQL } from '../access';
import { prepared } from '../read-model';

/** GET /projects: by name (then id), the cursor is the last of the page before. */
export const ListProjectsQuery = z.strictObject({
  /** `true` lists the archived projects instead of the others. */
  archived: z
    .enum(['true', 'false'])
    .default('false')
    .transform((value) => value === 'true'),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(400).optional(),
});
export type ListProjectsQuery = z.output<typeof ListProjectsQuery>;

const Cursor = z.object({ n: z.string(), id: ProjectId });
const encodeCursor = (value: z.infer<typeof Cursor>) =>
  Buffer.from(JSON.stringify(value)).toString('base64url');
const decodeCursor = (raw: string) => {
  try {
    return Cursor.parse(JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')));
  } catch {
    throw problems.badRequest('cursor is not one this API gave.');
  }
};

interface ProjectRow {
  id: string;
  name: string;
  description: string;
  visibility: Visibility;
  archived: number;
  owner_id: string;
  created_at: string;
  updated_at: string;
  revision: number;
  member_role: ProjectRole | null;
  member_count: number;
  task_counts: string;
}

/** A project's columns with the caller's role in it, its member count and its live tasks by status. */
const PROJECT_COLUMNS = `p.id, p.name, p.description, p.visibility, p.archived, p.owner_id,
  p.created_at, p.updated_at, p.revision, m.role AS member_role,
  (SELECT count(*) FROM project_members c WHERE c.project_id = p.id) AS member_count,
  (SELECT json_group_object(k.key, k.count) FROM task_counts k
    WHERE k.project_id = p.id AND k.kind = 'status') AS task_counts`;
const MEMBERSHIP = 'LEFT JOIN project_members m ON m.project_id = p.id AND m.user_id = @me';
// Names sort as people read them: case does not split the list.
const BY_NAME = 'p.name COLLATE NOCASE, p.id';
const PAST_CURSOR = '(p.name COLLATE NOCASE, p.id) > (@cursorName, @cursorId)';

const listSql = (visibleOnly: boolean, cursor: boolean) =>
  `SELECT ${PROJECT_COLUMNS}
   FROM ${visibleOnly ? `(${VISIBLE_PROJECTS_SQL}) v CROSS JOIN projects p ON p.id = v.project_id` : 'projects p'}
   ${MEMBERSHIP}
   WHERE p.archived = @archived ${cursor ? `AND ${PAST_CURSOR}` : ''}
   ORDER BY ${BY_NAME} LIMIT @limit`;

/** A project as GET /projects and GET /projects/:id answer it (contracts' ProjectAnswer). */
const answerOf = (row: ProjectRow, access: Exclude<ProjectAccess, 'none'>) => {
  const counts = JSON.parse(row.task_counts) as Record<string, number>;
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    visibility: row.visibility,
    archived: row.archived === 1,
    ownerId: row.owner_id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    revision: row.revision,
    access,
    memberCount: row.member_count,
    taskCounts: Object.fromEntries(TaskStatus.options.map((s) => [s, counts[s] ?? 0])) as Record<
      TaskStatus,
      number
    >,
  };
};

const accessOf = (caller: Caller, row: ProjectRow) =>
  accessFrom(caller.admin ? 'admin' : 'member', {
    visibility: row.visibility,
    memberRole: row.member_role ?? undefined,
  });

/**
 * The projects the caller sees (design §10), archived ones or the others, by
 * name. A member's list is driven by the projects they see; a site admin's
 * reads them all.
 */
export const listProjects = (
  db: ReadModelDb,
  caller: Caller,
  { archived, limit, cursor }: ListProjectsQuery,
) => {
  const after = cursor ? decodeCursor(cursor) : undefined;
  const rows = prepared(db, listSql(!caller.admin, after !== undefined)).all({
    me: caller.userId,
    archived: archived ? 1 : 0,
    limit: limit + 1,
    ...(after ? { cursorName: after.n, cursorId: after.id } : {}),
  }) as ProjectRow[];
  const page = rows.slice(0, limit);
  const items = page.flatMap((row) => {
    const access = accessOf(caller, row);
    // The statement reads only visible projects; this keeps §10's table the one rule.
    return access === 'none' ? [] : [answerOf(row, access)];
  });
  const last = page[page.length - 1];
  return {
    items,
    nextCursor: rows.length > limit && last ? encodeCursor({ n: last.name, id: last.id }) : null,
  };
};

/** One project, or undefined for one the caller cannot see (or that does not exist). */
export const findProject = (db: ReadModelDb, caller: Caller, id: string) => {
  const row = prepared(
    db,
    `SELECT ${PROJECT_COLUMNS} FROM projects p ${MEMBERSHIP} WHERE p.id = @id`,
  ).get({ me: caller.userId, id }) as ProjectRow | undefined;
  if (!row) return undefined;
  const access = accessOf(caller, row);
  return access === 'none' ? undefined : answerOf(row, access);
};

const ROLE_ORDER = "CASE m.role WHEN 'owner' THEN 0 WHEN 'editor' THEN 1 ELSE 2 END";

/**
 * A project's members (at most 1,000, design §10): owners first, then editors,
 * then viewers, each by name. The name is the user's public one.
 */
export const listMembers = (db: ReadModelDb, projectId: string) =>
  prepared(
    db,
    `SELECT m.user_id AS userId, coalesce(u.name, '') AS name, m.role, m.added_at AS addedAt
     FROM project_members m LEFT JOIN users u ON u.id = m.user_id
     WHERE m.project_id = @projectId
     ORDER BY ${ROLE_ORDER}, coalesce(u.name, '') COLLATE NOCASE, m.user_id`,
  ).all({ projectId }) as { userId: string; name: string; role: ProjectRole; addedAt: string }[];
