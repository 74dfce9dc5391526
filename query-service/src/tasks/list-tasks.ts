import { Priority, ProjectId, problems, TaskStatus } from '@tasksync/contracts';
import { type ReadModelDb, TASK_JSON_SQL } from '@tasksync/platform/read-model';
import { z } from 'zod';
import { VISIBLE_PROJECTS_SQL } from '../access';
import { prepared } from '../read-model';

/** Sort keys by field, on a task row aliased `a`. */
const SORT_KEYS = {
  createdAt: (a: string) => `${a}.created_at`,
  updatedAt: (a: string) => `${a}.updated_at`,
  priority: (a: string) => `${a}.priority_rank`,
  // Tasks without a due date sort after every dated one.
  dueDate: (a: string) => `COALESCE(${a}.due_date, '9999-12-31')`,
} as const;
type SortField = keyof typeof SORT_KEYS;
const SORTS = Object.keys(SORT_KEYS).flatMap((s) => [s, `-${s}`]) as [string, ...string[]];

const UserRef = z.union([z.literal('me'), z.uuid()]);

/** GET /tasks: filters, sort and cursor (design §6). */
export const ListTasksQuery = z.strictObject({
  /** Only this project's tasks; 404 for a project the caller cannot see (design §10). */
  projectId: ProjectId.optional(),
  status: TaskStatus.optional(),
  assigneeId: UserRef.optional(),
  createdBy: UserRef.optional(),
  label: z.string().trim().min(1).max(40).optional(),
  priority: Priority.optional(),
  q: z.string().trim().min(1).max(200).optional(),
  dueBefore: z.iso.date().optional(),
  dueAfter: z.iso.date().optional(),
  sort: z.enum(SORTS).default('-updatedAt'),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(600).optional(),
});
export type ListTasksQuery = z.output<typeof ListTasksQuery>;

const Cursor = z.object({ s: z.string(), k: z.union([z.string(), z.number()]), id: z.string() });
const encodeCursor = (value: z.infer<typeof Cursor>) =>
  Buffer.from(JSON.stringify(value)).toString('base64url');
const decodeCursor = (raw: string, sort: string) => {
  try {
    const cursor = Cursor.parse(JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')));
    if (cursor.s === sort) return cursor;
  } catch {
    // falls through to the 400 below
  }
  throw problems.badRequest('cursor is not one this API gave for this sort.');
};

/** FTS5 query from free text: every word must match, quoted so no character is syntax. */
export const ftsQuery = (text: string) =>
  text
    // FTS5 reads the query as a C string: a NUL would cut it short mid-quote.
    .replace(/\p{Cc}/gu, ' ')
    .split(/\s+/)
    .filter(Boolean)
    .map((word) => `"${word.replaceAll('"', '""')}"`)
    .join(' ');

/** One page of tasks to read: the statement, its parameters, and what shapes the answer. */
export interface TaskListStatement {
  sql: string;
  params: Record<string, unknown>;
  sort: string;
  limit: number;
}

/**
 * Whose tasks a list reads (design §10): every task (a site admin without a
 * projectId), one project the caller sees (its id), or the projects a caller
 * who is no admin sees (VISIBLE_PROJECTS_SQL, with `@me`).
 */
export type ListReach = { all: true } | { projectId: string } | { visibleTo: string };

/**
 * The SQL for a filtered, sorted page of tasks, with keyset paging on
 * (sort key, id). A cursor given for another sort, or not by this API, is 400.
 *
 * A page limited to some projects is driven by those projects, so its cost is
 * bounded by what the caller sees, never by the whole model, and SQLite's
 * planner (without statistics) gets no choice that could scan every task:
 * the driving index is the only one the statement can use (every other
 * column is written `+col`, which no index serves).
 * - Sorted by a key an index keeps in order per project (`projectOrdered`:
 *   (project_id, deleted, key, id)): one project is read in index order and
 *   stops at the page's end; several are merged (a k-way merge, below), so
 *   the first page of 50 reads about 50 entries plus one per project.
 * - Any other sort gathers the projects' matching tasks and sorts them.
 */
export const taskListStatement = (
  query: ListTasksQuery,
  me: string,
  reach: ListReach = { all: true },
  projectOrdered: ReadonlySet<string> = new Set(['updatedAt']),
): TaskListStatement => {
  const descending = query.sort.startsWith('-');
  const field = query.sort.replace(/^-/, '') as SortField;
  const direction = descending ? 'DESC' : 'ASC';
  const params: Record<string, unknown> = { limit: query.limit + 1 };
  const cursor = query.cursor ? decodeCursor(query.cursor, query.sort) : undefined;
  if (cursor) {
    params.cursorKey = cursor.k;
    params.cursorId = cursor.id;
  }
  const key = SORT_KEYS[field];
  const order = (a: string) => `${key(a)} ${direction}, ${a}.id ${direction}`;
  // Keyset paging on (sort key, id): stable while tasks are being created.
  const past = (a: string, k: string, id: string) =>
    `(${key(a)}, ${a}.id) ${descending ? '<' : '>'} (${k}, ${id})`;
  const byCursor = (a: string) => (cursor ? [past(a, '@cursorKey', '@cursorId')] : []);
  const filters = (a: string) => filterConditions(query, me, params, a, 'all' in reach);
  const page = (from: string, where: string[] = [], limit = '') =>
    `SELECT t.id, ${key('t')} AS sort_key, ${TASK_JSON_SQL} AS json FROM ${from}
    ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY ${order('t')} ${limit}`;
  const answer = (sql: string) => ({ sql, params, sort: query.sort, limit: query.limit });

  if ('all' in reach) {
    return answer(
      page('tasks t', ['t.deleted = 0', ...filters('t'), ...byCursor('t')], 'LIMIT @limit'),
    );
  }
  const ordered = projectOrdered.has(field);
  if ('projectId' in reach) {
    params.projectId = reach.projectId;
    if (!ordered)
      return answer(
        gather('SELECT @projectId AS project_id', filters('y'), byCursor('y'), order, page),
      );
    const where = ['t.project_id = @projectId', 't.deleted = 0', ...filters('t'), ...byCursor('t')];
    return answer(page('tasks t', where, 'LIMIT @limit'));
  }
  params.me = reach.visibleTo;
  if (!ordered)
    return answer(gather(VISIBLE_PROJECTS_SQL, filters('y'), byCursor('y'), order, page));
  // The k-way merge: a queue (a recursive CTE with ORDER BY pops its first row
  // in that order) holds each project's next task; popping one pushes the next
  // of its project, one index seek each, and LIMIT ends it after the page.
  const next = (project: string, bound: string[]) =>
    `(SELECT y.rowid FROM tasks y WHERE ${[
      `y.project_id = ${project}`,
      'y.deleted = 0',
      ...bound,
      ...filters('y'),
    ].join(' AND ')} ORDER BY ${order('y')} LIMIT 1)`;
  const columns = `x.project_id, ${key('x')}, x.id, x.rowid`;
  return answer(`WITH RECURSIVE
  visible(project_id) AS (${VISIBLE_PROJECTS_SQL}),
  queue(project_id, sort_key, id, task) AS (
    SELECT ${columns} FROM visible v JOIN tasks x ON x.rowid = ${next('v.project_id', byCursor('y'))}
    UNION ALL
    SELECT ${columns} FROM queue q JOIN tasks x
      ON x.rowid = ${next('q.project_id', [past('y', 'q.sort_key', 'q.id')])}
    ORDER BY 2 ${direction}, 3 ${direction} LIMIT @limit)
  ${page('queue q JOIN tasks t ON t.rowid = q.task')}`);
};

/**
 * The filters' conditions on the task aliased `a`, their parameters added to
 * `params`. Unless `plain`, indexed columns are written `+a.col`, which no
 * index serves: the statement's driving index is then the only one it can use.
 */
const filterConditions = (
  query: ListTasksQuery,
  me: string,
  params: Record<string, unknown>,
  a: string,
  plain: boolean,
) => {
  const col = (name: string) => `${plain ? '' : '+'}${a}.${name}`;
  const where: string[] = [];
  if (query.status) {
    where.push(`${col('status')} = @status`);
    params.status = query.status;
  }
  if (query.assigneeId) {
    where.push(`${col('assignee_id')} = @assigneeId`);
    params.assigneeId = query.assigneeId === 'me' ? me : query.assigneeId;
  }
  if (query.createdBy) {
    where.push(`${col('created_by')} = @createdBy`);
    params.createdBy = query.createdBy === 'me' ? me : query.createdBy;
  }
  if (query.label) {
    where.push(
      `EXISTS (SELECT 1 FROM task_labels l WHERE l.label = @label AND l.task_id = ${a}.id)`,
    );
    params.label = query.label;
  }
  if (query.priority) {
    where.push(`${col('priority')} = @priority`);
    params.priority = query.priority;
  }
  if (query.q) {
    const match = ftsQuery(query.q);
    // Text with no word in it matches nothing; an empty MATCH would be a syntax error.
    if (match) {
      where.push(`${col('rowid')} IN (SELECT rowid FROM tasks_fts WHERE tasks_fts MATCH @q)`);
      params.q = match;
    } else {
      where.push('0');
    }
  }
  if (query.dueBefore) {
    where.push(`${col('due_date')} < @dueBefore`);
    params.dueBefore = query.dueBefore;
  }
  if (query.dueAfter) {
    where.push(`${col('due_date')} > @dueAfter`);
    params.dueAfter = query.dueAfter;
  }
  return where;
};

/**
 * Every matching task of the projects `projects` selects (`project_id`),
 * sorted: the page's rows first, so the answer's JSON is built for those only.
 * CROSS JOIN keeps the projects the outer loop, read by (project_id, deleted).
 */
const gather = (
  projects: string,
  where: string[],
  cursor: string[],
  order: (alias: string) => string,
  page: (from: string) => string,
) =>
  page(`(SELECT y.rowid AS task FROM (${projects}) v CROSS JOIN tasks y
    ON y.project_id = v.project_id AND y.deleted = 0
    ${[...where, ...cursor].map((condition) => `AND ${condition}`).join(' ')}
    ORDER BY ${order('y')} LIMIT @limit) g JOIN tasks t ON t.rowid = g.task`);

/** The page as the answer's JSON text: {items, nextCursor}. */
export const listTasks = (db: ReadModelDb, statement: TaskListStatement): string => {
  // Prepared once per SQL text: the filters used pick one of few shapes.
  const rows = prepared(db, statement.sql).all(statement.params) as {
    id: string;
    sort_key: string | number;
    json: string;
  }[];
  const page = rows.slice(0, statement.limit);
  const last = page[page.length - 1];
  const nextCursor =
    rows.length > statement.limit && last
      ? encodeCursor({ s: statement.sort, k: last.sort_key, id: last.id })
      : null;
  // The items are JSON already (TASK_JSON_SQL): joined, not parsed and stringified again.
  return `{"items":[${page.map((row) => row.json).join(',')}],"nextCursor":${JSON.stringify(nextCursor)}}`;
};
