import type { KeyLayout } from '@tasksync/contracts';
import {
  createBaseApp,
  createCommandCounters,
  finishApp,
  isRedisReady,
  type Logger,
  type LogReader,
  operationalRoutes,
  type RedisClient,
  requireAuth,
  type ServiceMetrics,
  type TokenService,
} from '@tasksync/platform';
import { commandOpenApi } from './openapi';
import { projectRoutes } from './projects/routes';
import { createTaskStores, type TaskCommandDeps } from './tasks/execute';
import { taskRoutes } from './tasks/routes';

export interface CommandAppDeps {
  redis: RedisClient;
  keys: KeyLayout;
  tokens: TokenService;
  logger: Logger;
  metrics: ServiceMetrics;
  /** FRONTEND_URL: origins whose pages may call this service (CORS, design §12). */
  frontendOrigins?: readonly string[] | undefined;
  now: () => Date;
  newId: () => string;
  /** Where events no longer in their log are read (the runtime's LogReader, design §11). */
  logReader?: LogReader | undefined;
}

/**
 * What every write of the command-service runs on: the command handler's
 * counters and the aggregate stores (tasks, projects, users), whose caches the
 * routes and the process manager share.
 */
export const createWriteSide = (deps: Omit<CommandAppDeps, 'tokens'>): TaskCommandDeps => ({
  redis: deps.redis,
  keys: deps.keys,
  now: deps.now,
  newId: deps.newId,
  counters: createCommandCounters(deps.metrics),
  ...createTaskStores(deps.redis, deps.keys, deps.logReader),
});

/** Builds the command-service's express app from its dependencies, without listening. */
export const buildCommandApp = (
  deps: CommandAppDeps,
  writeSide: TaskCommandDeps = createWriteSide(deps),
) => {
  const app = createBaseApp(deps);
  // Task routes first: the hot path meets no other router on its way.
  app.use('/tasks', requireAuth(deps.tokens), taskRoutes(writeSide));
  app.use('/projects', requireAuth(deps.tokens), projectRoutes(writeSide));
  app.use(
    operationalRoutes({
      metrics: deps.metrics,
      ready: async () => ({ redis: await isRedisReady(deps.redis) }),
      openapi: commandOpenApi,
    }),
  );
  return finishApp(app);
};
