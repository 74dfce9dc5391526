import { ProjectId, TaskStatus } from '@tasksync/contracts';
import type { ReadModelDb } from '@tasksync/platform/read-model';
import { z } from 'zod';
import { VISIBLE_PROJECTS_SQL } from '../access';
import { prepared } from '../read-model';

/** GET /stats: one project's counts, or those of every project the caller sees. */
export const StatsQuery = z.strictObject({
  /** 404 for a project the caller cannot see (design §10). */
  projectId: ProjectId.optional(),
});
export type StatsQuery = z.output<typeof StatsQuery>;

/** Which projects' counters to add up: all (a site admin), one, or those a member sees. */
export type CountsReach = { all: true } | { projectId: string } | { visibleTo: string };

const sum = (where: string) =>
  `SELECT kind, key, SUM(count) AS count FROM task_counts ${where}
   GROUP BY kind, key HAVING SUM(count) > 0 ORDER BY count DESC, key`;
const SQL = {
  all: sum(''),
  project: sum('WHERE project_id = @projectId'),
  // The visible projects drive the read (the counters' key starts with project_id).
  visible: sum(`WHERE project_id IN (${VISIBLE_PROJECTS_SQL})`),
};

/** Live tasks by status (every status named, 0 included) and by assignee, from the projection's counters. */
export const taskCounts = (db: ReadModelDb, reach: CountsReach) => {
  const byStatus = Object.fromEntries(TaskStatus.options.map((s) => [s, 0]));
  const counts = (
    'all' in reach
      ? prepared(db, SQL.all).all()
      : 'projectId' in reach
        ? prepared(db, SQL.project).all({ projectId: reach.projectId })
        : prepared(db, SQL.visible).all({ me: reach.visibleTo })
  ) as { kind: string; key: string; count: number }[];
  const byAssignee: { assigneeId: string | null; count: number }[] = [];
  for (const row of counts) {
    if (row.kind === 'status') byStatus[row.key] = row.count;
    else byAssignee.push({ assigneeId: row.key || null, count: row.count });
  }
  return { byStatus, byAssignee };
};
