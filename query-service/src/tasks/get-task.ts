import type { AuthContext } from '@tasksync/contracts';
import { type ReadModelDb, TASK_JSON_SQL } from '@tasksync/platform/read-model';
import { seesParams, seesProjectSql } from '../access';
import { prepared } from '../read-model';

/** A task as GET /tasks/:id answers it, or why not, at the model state that decided it. */
export type TaskRead =
  | { found: 'task'; position: string; revision: number; json: string }
  | { found: 'none' | 'deleted'; position: string };

/**
 * GET /tasks/:id in one statement: the position, the task and its comments as
 * the JSON text of the answer. One statement reads one snapshot, so the
 * position it selects is the one the task and its comments reflect, without a
 * BEGIN/COMMIT around three statements. It always answers one row: for a task
 * the model does not have, `id` is null and the position says at which model
 * state that was decided. A task of a project the caller cannot see is
 * answered as one the model does not have (design §10: 404, never 403).
 *
 * `positionSql` is the read model's X-Read-Position subquery; the statement
 * text is built once here, and prepared once per handle.
 */
export const taskReader = (positionSql: string) => {
  const sql = `SELECT ${positionSql} AS position,
  t.id, t.revision, t.deleted, ${seesProjectSql('t.project_id')} AS visible,
  json_insert(${TASK_JSON_SQL}, '$.comments', json((
    SELECT json_group_array(json_object('id', c.id, 'authorId', c.author_id, 'text', c.text,
      'createdAt', c.created_at) ORDER BY c.created_at, c.id)
    FROM comments c WHERE c.task_id = t.id))) AS json
  FROM (SELECT 1) LEFT JOIN tasks t ON t.id = @id`;
  return (db: ReadModelDb, id: string, caller: AuthContext): TaskRead => {
    const row = prepared(db, sql).get({ id, ...seesParams(caller) }) as {
      position: string;
      id: string | null;
      revision: number;
      deleted: number;
      visible: number | null;
      json: string;
    };
    if (row.id === null || !row.visible) return { found: 'none', position: row.position };
    if (row.deleted) return { found: 'deleted', position: row.position };
    return { found: 'task', position: row.position, revision: row.revision, json: row.json };
  };
};
