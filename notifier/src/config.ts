import { commonEnv, jwtEnv, parseConfig, ports } from '@tasksync/platform';
import { z } from 'zod';

export const loadNotifierConfig = (env: NodeJS.ProcessEnv = process.env) => {
  const config = parseConfig(
    {
      ...commonEnv,
      ...jwtEnv,
      ...ports,
      IDENTITY_URL: z.url().optional(),
      COMMAND_URL: z.url().optional(),
      QUERY_URL: z.url().optional(),
      NOTIFIER_MAX_REPLAY: z.coerce.number().int().min(0).max(1_000_000).default(10_000),
      // Tasks whose project the live feed holds; others cost a read of the task's stream.
      NOTIFIER_TASK_CACHE: z.coerce.number().int().min(1).max(10_000_000).default(100_000),
    },
    env,
  );
  // The board reaches the other services through these; by default on this host.
  const local = (port: number) => `http://127.0.0.1:${port}`;
  return {
    ...config,
    IDENTITY_URL: config.IDENTITY_URL ?? local(config.IDENTITY_PORT),
    COMMAND_URL: config.COMMAND_URL ?? local(config.COMMAND_PORT),
    QUERY_URL: config.QUERY_URL ?? local(config.QUERY_PORT),
  };
};
