import { join } from 'node:path';
import { commonEnv, jwtEnv, parseConfig, ports } from '@tasksync/contracts';
import { z } from 'zod';

export const loadProjectorConfig = (env: NodeJS.ProcessEnv = process.env) => {
  const config = parseConfig(
    {
      ...commonEnv,
      ...jwtEnv,
      PROJECTOR_PORT: ports.PROJECTOR_PORT,
      READ_MODEL_PATH: z.string().min(1).optional(),
      PROJECTOR_GROUP: z
        .string()
        .regex(/^[\w.-]{1,64}$/, 'letters, digits, ".", "-" or "_" only')
        .default('projector'),
      PROJECTOR_BATCH_SIZE: z.coerce.number().int().min(1).max(10_000).default(500),
    },
    env,
  );
  return {
    ...config,
    READ_MODEL_PATH: config.READ_MODEL_PATH ?? join(config.DATA_DIR, 'read-model.sqlite'),
  };
};
