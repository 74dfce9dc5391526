import { Priority, problems, TaskStatus } from '@tasksync/contracts';
import { type ReadModelDb, TASK_JSON_SQL } from '@tasksync/platform/read-model';
import { z } from 'zod';
import { prepared } from '../read-model';

const SORT_COLUMNS = {
  createdAt: 't.created_at',
  updatedAt: 't.updated_at',
  priority: 't.priority_rank',
  // Tasks without a due date sort after every dated one.
  dueDate: "COALESCE(t.due_date, '9999-12-31')",
} as const;
type SortField = keyof typeof SORT_COLUMNS;
const SORTS = Object.keys(SORT_COLUMNS).flatMap((s) => [s, `-${s}`]) as [string, ...string[]];

const UserRef = z.union([z.literal('me'), z.uuid()]);

/** GET /tasks: filters, sort and cursor (design §6). */
export const ListTasksQuery = z.strictObject({
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
  /** The query says `me`: the answer is the caller's own, not the URL's alone. */
  mine: boolean;
}

/**
 * The SQL for a filtered, sorted page of tasks, with keyset paging on
 * (sort key, id). A cursor given for another sort, or not by this API, is 400.
 */
export const taskListStatement = (query: ListTasksQuery, me: string): TaskListStatement => {
  const descending = query.sort.startsWith('-');
  const key = SORT_COLUMNS[query.sort.replace(/^-/, '') as SortField];
  const where = ['t.deleted = 0'];
  const params: Record<string, unknown> = { limit: query.limit + 1 };
  if (query.status) {
    where.push('t.status = @status');
    params.status = query.status;
  }
  if (query.assigneeId) {
    where.push('t.assignee_id = @assigneeId');
    params.assigneeId = query.assigneeId === 'me' ? me : query.assigneeId;
  }
  if (query.createdBy) {
    where.push('t.created_by = @createdBy');
    params.createdBy = query.createdBy === 'me' ? me : query.createdBy;
  }
  if (query.label) {
    where.push('EXISTS (SELECT 1 FROM task_labels l WHERE l.label = @label AND l.task_id = t.id)');
    params.label = query.label;
  }
  if (query.priority) {
    where.push('t.priority = @priority');
    params.priority = query.priority;
  }
  if (query.q) {
    const match = ftsQuery(query.q);
    // Text with no word in it matches nothing; an empty MATCH would be a syntax error.
    if (match) {
      where.push('t.rowid IN (SELECT rowid FROM tasks_fts WHERE tasks_fts MATCH @q)');
      params.q = match;
    } else {
      where.push('0');
    }
  }
  if (query.dueBefore) {
    where.push('t.due_date < @dueBefore');
    params.dueBefore = query.dueBefore;
  }
  if (query.dueAfter) {
    where.push('t.due_date > @dueAfter');
    params.dueAfter = query.dueAfter;
  }
  if (query.cursor) {
    const cursor = decodeCursor(query.cursor, query.sort);
    // Keyset paging on (sort key, id): stable while tasks are being created.
    where.push(`(${key}, t.id) ${descending ? '<' : '>'} (@cursorKey, @cursorId)`);
    params.cursorKey = cursor.k;
    params.cursorId = cursor.id;
  }
  const direction = descending ? 'DESC' : 'ASC';
  return {
    sql: `SELECT t.id, ${key} AS sort_key, ${TASK_JSON_SQL} AS json FROM tasks t
      WHERE ${where.join(' AND ')} ORDER BY ${key} ${direction}, t.id ${direction} LIMIT @limit`,
    params,
    sort: query.sort,
    limit: query.limit,
    mine: query.assigneeId === 'me' || query.createdBy === 'me',
  };
};

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
