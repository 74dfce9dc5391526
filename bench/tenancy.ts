/**
 * What the bench does differently with projects (design §10) and without
 * them: bench/projects.ts for this code, bench/no-projects.ts for the code
 * before projects (BENCH_BEFORE_PROJECTS=1, in a worktree of that commit with
 * this bench copied in), so the same rows and yardsticks run on both and
 * their ratios compare. bench/tenancies.ts picks the one a run uses.
 */
import type { KeyLayout } from '@tasksync/contracts';
import type { RedisClient } from '@tasksync/platform';

export interface WriteSetUp {
  /** The project POST /tasks writes to (undefined: the code has no projects). */
  projectId: string | undefined;
  /** Tokens of users who see that project, for the whole-system row's socket clients. */
  socketTokens: string[];
}

export interface Tenancy {
  /** Before the write rows: the project they write to, and who sees it. */
  setUpWrites(options: {
    identityUrl: string;
    commandsUrl: string;
    token: string;
  }): Promise<WriteSetUp>;
  /**
   * The read side's seed of 100,000 tasks. Returns the ids of tasks the user
   * sees (GET /tasks/:id reads those) and what the seed is, for the notes.
   */
  seedReads(
    redis: RedisClient,
    keys: KeyLayout,
    options: { userId: string; writeProjectId: string | undefined },
  ): Promise<{ visibleTaskIds: string[]; description: string }>;
}
