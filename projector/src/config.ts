import { commonEnv, parseConfig, ports, readModelEnv, withReadModelPath } from '@tasksync/platform';
import { z } from 'zod';

/** The projector checks no token, so it takes no JWT settings. */
export const loadProjectorConfig = (env: NodeJS.ProcessEnv = process.env) =>
  withReadModelPath(
    parseConfig(
      {
        ...commonEnv,
        ...readModelEnv,
        PROJECTOR_PORT: ports.PROJECTOR_PORT,
        PROJECTOR_BATCH_SIZE: z.coerce.number().int().min(1).max(10_000).default(500),
      },
      env,
    ),
  );
