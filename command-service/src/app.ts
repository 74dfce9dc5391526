import type { KeyLayout } from '@tasksync/contracts';
import type { Logger } from '@tasksync/platform';
import {
  createBaseApp,
  finishApp,
  isRedisReady,
  operationalRoutes,
  type RedisClient,
  requireAuth,
  type ServiceMetrics,
  type TokenService,
} from '@tasksync/platform';
import { commandOpenApi } from './openapi';
import { taskRoutes } from './tasks/routes';
import { createTaskStore } from './tasks/task-store';

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
  const counters = {
    eventsAppended: deps.metrics.counter(
      'tasksync_events_appended_total',
      'Events appended, by type',
      ['type'],
    ),
    revisionConflicts: deps.metrics.counter(
      'tasksync_revision_conflicts_total',
      'Appends refused for a stale revision (retried, or 412 with If-Match)',
    ),
    idempotentReplays: deps.metrics.counter(
      'tasksync_idempotent_replays_total',
      'Requests answered from a stored Idempotency-Key result',
    ),
  };
  // Task routes first: the hot path meets no other router on its way.
  app.use(
    '/tasks',
    requireAuth(deps.tokens),
    taskRoutes({ ...deps, counters, tasks: createTaskStore(deps.redis, deps.keys) }),
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
