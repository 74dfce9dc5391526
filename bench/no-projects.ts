/**
 * The bench's tenancy for the code before projects (design §10), run with
 * BENCH_BEFORE_PROJECTS=1 in a worktree of that commit: POST /tasks has no
 * project, every reader sees every task, and the read side seeds the same
 * 100,000 tasks with no project (TaskCreated v1). Uses only what that code has.
 */
import { appendTasks, seededTask } from './seed';
import type { Tenancy } from './tenancy';

export const noProjects: Tenancy = {
  setUpWrites: async ({ token }) => ({ projectId: undefined, socketTokens: [token] }),
  seedReads: async (redis, keys, { userId }) => {
    const ids = await appendTasks(redis, keys, 100_000, (i) => seededTask(i, userId));
    return {
      // The tasks a member of 20 of 1,000 projects sees with projects (bench/projects.ts):
      // the same rows of the seed, so the reads touch the same pages of the file.
      visibleTaskIds: ids.filter((_, i) => i % 1_000 < 20),
      description: '100,000 tasks, no projects: the reader sees every one',
    };
  },
};
