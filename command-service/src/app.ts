import type { KeyLayout } from '@tasksync/contracts';
import {
  createBaseApp,
  createCommandCounters,
  finishApp,
  isRedisReady,
  type Logger,
  operationalRoutes,
  type RedisClient,
  requireAuth,
  type ServiceMetrics,
  type TokenService,
} from '@tasksync/platform';
import { commandOpenApi } from './openapi';
import { createTaskStores } from './tasks/execute';
import { taskRoutes } from './tasks/routes';

export interface CommandAppDeps {
  redis: RedisClient;
  keys: KeyLayout;
  tokens: TokenService;
  logger: Logger;
  metrics: ServiceMetrics;
  now: () => Date;
  newId: () => string;
}

/** Builds the command-service's express app from its dependencies, without listening. */
export const buildCommandApp = (deps: CommandAppDeps) => {
  const app = createBaseApp(deps);
  // Task routes first: the hot path meets no other router on its way.
  app.use(
    '/tasks',
    requireAuth(deps.tokens),
    taskRoutes({
      ...deps,
      counters: createCommandCounters(deps.metrics),
      ...createTaskStores(deps.redis, deps.keys),
    }),
  );
  app.use(
    operationalRoutes({
      metrics: deps.metrics,
      ready: async () => ({ redis: await isRedisReady(deps.redis) }),
      openapi: commandOpenApi,
    }),
  );
  return finishApp(app);
};
