import {
  compareEntryIds,
  foldTask,
  isUuid,
  type KeyLayout,
  PositionList,
  Priority,
  parseWith,
  problems,
  type StoredEvent,
  type TaskEvent,
  TaskStatus,
} from '@tasksync/contracts';
import { authOf, type RedisClient, readStream } from '@tasksync/platform';
import { TASK_JSON_SQL } from '@tasksync/platform/read-model';
import { type Request, type Response, Router } from 'express';
import { z } from 'zod';
import {
  type AnswerCache,
  answerCachedRead,
  answerRead,
  refuseUnknownQuery,
  sendRead,
} from '../http';
import { prepared, type ReadModelAccess } from '../read-model';

const SORT_COLUMNS = {
  createdAt: 't.created_at',
  updatedAt: 't.updated_at',
  priority: 't.priority_rank',
  // Tasks without a due date sort after every dated one.
  dueDate: "COALESCE(t.due_date, '9999-12-31')",
} as const;
type SortField = keyof typeof SORT_COLUMNS;
const SORTS = Object.keys(SORT_COLUMNS).flatMap((s) => [s, `-${s}`]) as [string, ...string[]];
/**
 * GET /tasks/:id in one statement: the position, the task and its comments as
 * the JSON text of the answer. One statement reads one snapshot, so the
 * position it selects is the one the task and its comments reflect, without a
 * BEGIN/COMMIT around three statements. It always answers one row: for a task
 * the model does not have, `id` is null and the position says at which model
 * state that was decided.
 */
const taskAnswerSql = (positionSql: string) => `SELECT ${positionSql} AS position,
  t.id, t.revision, t.deleted,
  json_insert(${TASK_JSON_SQL}, '$.comments', json((
    SELECT json_group_array(json_object('id', c.id, 'authorId', c.author_id, 'text', c.text,
      'createdAt', c.created_at) ORDER BY c.created_at, c.id)
    FROM comments c WHERE c.task_id = t.id))) AS json
  FROM (SELECT 1) LEFT JOIN tasks t ON t.id = ?`;

const UserRef = z.union([z.literal('me'), z.uuid()]);

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
const ftsQuery = (text: string) =>
  text
    // FTS5 reads the query as a C string: a NUL would cut it short mid-quote.
    .replace(/\p{Cc}/gu, ' ')
    .split(/\s+/)
    .filter(Boolean)
    .map((word) => `"${word.replaceAll('"', '""')}"`)
    .join(' ');

export const taskRoutes = (deps: {
  readModel: ReadModelAccess;
  redis: RedisClient;
  keys: KeyLayout;
  cache?: AnswerCache | undefined;
}) => {
  const router = Router();
  const taskAnswer = taskAnswerSql(deps.readModel.positionSql);

  router.get('/tasks', async (req, res) => {
    const query = parseWith(ListTasksQuery, req.query, '(query)');
    const me = authOf(req).userId;
    const descending = query.sort.startsWith('-');
    const field = query.sort.replace(/^-/, '') as SortField;
    const key = SORT_COLUMNS[field];
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
      where.push(
        'EXISTS (SELECT 1 FROM task_labels l WHERE l.label = @label AND l.task_id = t.id)',
      );
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
    const sql = `SELECT t.id, ${key} AS sort_key, ${TASK_JSON_SQL} AS json FROM tasks t
      WHERE ${where.join(' AND ')} ORDER BY ${key} ${direction}, t.id ${direction} LIMIT @limit`;
    // `me` makes the answer the caller's own; everything else is in the URL.
    const mine = query.assigneeId === 'me' || query.createdBy === 'me';
    const scope = `${req.originalUrl}\n${mine ? me : ''}`;
    await answerCachedRead(req, res, deps.readModel, deps.cache, scope, (db) => {
      const rows = prepared(db, sql).all(params) as {
        id: string;
        sort_key: string | number;
        json: string;
      }[];
      const page = rows.slice(0, query.limit);
      const last = page[page.length - 1];
      const nextCursor =
        rows.length > query.limit && last
          ? encodeCursor({ s: query.sort, k: last.sort_key, id: last.id })
          : null;
      // The items are JSON already (TASK_JSON_SQL): joined, not parsed and stringified again.
      return {
        json: `{"items":[${page.map((row) => row.json).join(',')}],"nextCursor":${JSON.stringify(nextCursor)}}`,
      };
    });
  });

  const taskIdOf = (req: Request) => {
    const id = String(req.params.id);
    if (!isUuid(id)) throw problems.notFound('No task with this id.');
    return id;
  };

  router.get('/tasks/:id', async (req, res) => {
    const id = taskIdOf(req);
    refuseUnknownQuery(req, 'asOf');
    const asOf = req.query.asOf;
    if (asOf !== undefined) return answerAsOf(res, id, String(asOf));
    const answer = prepared(deps.readModel.db(), taskAnswer).get(id) as {
      position: string;
      id: string | null;
      revision: number;
      deleted: number;
      json: string;
    };
    if (answer.id === null || answer.deleted) {
      // Decided at this position: a client may wait for more with X-Min-Position.
      res.setHeader('X-Read-Position', answer.position);
      throw answer.id === null
        ? problems.notFound('No task with this id.')
        : problems.gone('The task was deleted.');
    }
    sendRead(req, res, answer.position, `"${answer.revision}"`, answer.json);
  });

  /** The task as it was at a time or position, folded from its own stream. */
  const answerAsOf = async (res: Response, id: string, asOf: string) => {
    const position = PositionList.safeParse(asOf);
    const time = Date.parse(asOf);
    if (!(position.success && position.data.length === 1) && Number.isNaN(time)) {
      throw problems.badRequest('asOf must be an ISO time or a position like t0:1732460000000-0.');
    }
    const taskLog = `t${deps.keys.partitionOf(id)}`;
    if (position.success && position.data[0]!.log !== taskLog) {
      throw problems.badRequest(
        `This task's positions are on log ${taskLog}; positions compare only within one log.`,
      );
    }
    const events = (await readStream(
      deps.redis,
      deps.keys.taskStream(id),
    )) as StoredEvent<TaskEvent>[];
    const bound = position.success ? position.data[0]!.entryId : undefined;
    const upTo = events.filter((e) =>
      bound !== undefined ? compareEntryIds(e.entryId, bound) <= 0 : Date.parse(e.at) <= time,
    );
    const state = foldTask(upTo);
    if (!state) throw problems.notFound('The task did not exist then.');
    const { deleted, ...task } = state;
    res.setHeader('ETag', `"${task.revision}"`);
    res.setHeader('X-Read-Position', deps.readModel.readPosition(deps.readModel.db()));
    res.json({ ...task, deleted, asOf });
  };

  router.get('/tasks/:id/history', (req, res) => {
    const id = taskIdOf(req);
    const { limit, cursor } = parseWith(
      z.strictObject({
        limit: z.coerce.number().int().min(1).max(200).default(50),
        cursor: z
          .string()
          .regex(/^\d{1,9}$/)
          .optional(),
      }),
      req.query,
      '(query)',
    );
    answerRead(req, res, deps.readModel, (db) => {
      if (!prepared(db, 'SELECT 1 FROM tasks WHERE id = ?').get(id))
        throw problems.notFound('No task with this id.');
      const rows = prepared(
        db,
        `SELECT position, type, revision, actor, at, data FROM activity
         WHERE task_id = @id AND revision > @after ORDER BY revision LIMIT @limit`,
      ).all({ id, after: cursor === undefined ? -1 : Number(cursor), limit: limit + 1 }) as {
        revision: number;
        data: string;
      }[];
      const page = rows.slice(0, limit);
      return {
        body: {
          items: page.map((row) => ({ ...row, data: JSON.parse(row.data) })),
          nextCursor: rows.length > limit ? String(page[page.length - 1]!.revision) : null,
        },
      };
    });
  });

  // Not cached: the counters are a few rows, and the bench measured the Redis
  // round trip slower (3,286/s) than reading them (4,109/s).
  router.get('/stats', (req, res) => {
    refuseUnknownQuery(req);
    answerRead(req, res, deps.readModel, (db) => {
      const byStatus = Object.fromEntries(TaskStatus.options.map((s) => [s, 0]));
      const counts = prepared(
        db,
        'SELECT kind, key, count FROM task_counts WHERE count > 0 ORDER BY count DESC, key',
      ).all() as { kind: string; key: string; count: number }[];
      const byAssignee: { assigneeId: string | null; count: number }[] = [];
      for (const row of counts) {
        if (row.kind === 'status') byStatus[row.key] = row.count;
        else byAssignee.push({ assigneeId: row.key || null, count: row.count });
      }
      return { body: { byStatus, byAssignee } };
    });
  });

  return router;
};
