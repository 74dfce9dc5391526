import { join } from 'node:path';
import { commonEnv, jwtEnv, parseConfig, ports } from '@tasksync/contracts';
import { z } from 'zod';

export const loadQueryConfig = (env: NodeJS.ProcessEnv = process.env) => {
  const config = parseConfig(
    {
      ...commonEnv,
      ...jwtEnv,
      QUERY_PORT: ports.QUERY_PORT,
      READ_MODEL_PATH: z.string().min(1).optional(),
      PROJECTOR_GROUP: z
        .string()
        .regex(/^[\w.-]{1,64}$/)
        .default('projector'),
      CACHE_TTL_SECONDS: z.coerce.number().int().min(0).max(86_400).default(60),
    },
    env,
  );
  return {
    ...config,
    READ_MODEL_PATH: config.READ_MODEL_PATH ?? join(config.DATA_DIR, 'read-model.sqlite'),
  };
};
