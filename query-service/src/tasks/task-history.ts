import { type AuthContext, problems } from '@tasksync/contracts';
import type { ReadModelDb } from '@tasksync/platform/read-model';
import { z } from 'zod';
import { seesParams, seesProjectSql } from '../access';
import { prepared } from '../read-model';

/** GET /tasks/:id/history: the cursor is the last revision of the page before. */
export const TaskHistoryQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z
    .string()
    .regex(/^\d{1,9}$/)
    .optional(),
});
export type TaskHistoryQuery = z.output<typeof TaskHistoryQuery>;

/**
 * A page of a task's events, oldest first, from the activity table; 404 for an
 * unknown task, or one of a project the caller cannot see (design §10).
 */
export const taskHistory = (
  db: ReadModelDb,
  id: string,
  caller: AuthContext,
  { limit, cursor }: TaskHistoryQuery,
) => {
  if (
    !prepared(
      db,
      `SELECT 1 FROM tasks t WHERE t.id = @id AND ${seesProjectSql('t.project_id')}`,
    ).get({ id, ...seesParams(caller) })
  )
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
    items: page.map((row) => ({ ...row, data: JSON.parse(row.data) as unknown })),
    nextCursor: rows.length > limit ? String(page[page.length - 1]!.revision) : null,
  };
};
