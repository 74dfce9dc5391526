import { commonEnv, jwtEnv, parseConfig, ports } from '@tasksync/platform';
import { z } from 'zod';

/** The process manager (design §10): how many tasks it unassigns at once, and when it takes over a dead one's events. */
const processManagerEnv = {
  PROCESS_MANAGER_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(8),
  PROCESS_MANAGER_CLAIM_IDLE_MS: z.coerce.number().int().min(100).max(3_600_000).default(30_000),
};

export const loadCommandConfig = (env: NodeJS.ProcessEnv = process.env) =>
  parseConfig(
    { ...commonEnv, ...jwtEnv, ...processManagerEnv, COMMAND_PORT: ports.COMMAND_PORT },
    env,
  );
