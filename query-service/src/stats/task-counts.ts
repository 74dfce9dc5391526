import { TaskStatus } from '@tasksync/contracts';
import type { ReadModelDb } from '@tasksync/platform/read-model';
import { prepared } from '../read-model';

/** GET /stats: live tasks by status (every status named, 0 included) and by assignee. */
export const taskCounts = (db: ReadModelDb) => {
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
  return { byStatus, byAssignee };
};
