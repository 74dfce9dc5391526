import { commonEnv, jwtEnv, parseConfig, ports } from '@tasksync/platform';
import { z } from 'zod';

export const loadNotifierConfig = (env: NodeJS.ProcessEnv = process.env) =>
  parseConfig(
    {
      ...commonEnv,
      ...jwtEnv,
      ...ports,
      NOTIFIER_MAX_REPLAY: z.coerce.number().int().min(0).max(1_000_000).default(10_000),
      // Tasks whose project the live feed holds; others cost a read of the task's stream.
      NOTIFIER_TASK_CACHE: z.coerce.number().int().min(1).max(10_000_000).default(100_000),
    },
    env,
  );
