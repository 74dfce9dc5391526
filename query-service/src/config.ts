import {
  commonEnv,
  jwtEnv,
  parseConfig,
  ports,
  readModelEnv,
  withReadModelPath,
} from '@tasksync/platform';
import { z } from 'zod';

export const loadQueryConfig = (env: NodeJS.ProcessEnv = process.env) =>
  withReadModelPath(
    parseConfig(
      {
        ...commonEnv,
        ...jwtEnv,
        ...readModelEnv,
        QUERY_PORT: ports.QUERY_PORT,
        CACHE_TTL_SECONDS: z.coerce.number().int().min(0).max(86_400).default(60),
      },
      env,
    ),
  );
