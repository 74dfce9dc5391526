import type { KeyLayout } from '@tasksync/contracts';
import {
  type ArchivedEntries,
  createBaseApp,
  finishApp,
  isRedisReady,
  type Logger,
  operationalRoutes,
  type RedisClient,
  requireAuth,
  type ServiceMetrics,
  type TokenService,
} from '@tasksync/platform';
import type { AnswerCache } from './answer-cache';
import { queryOpenApi } from './openapi';
import { projectRoutes } from './projects/routes';
import type { ReadModelAccess } from './read-model';
import { readYourWrites } from './read-your-writes';
import { statsRoutes } from './stats/routes';
import { taskRoutes } from './tasks/routes';
import { userRoutes } from './users/routes';

export interface QueryAppDeps {
  redis: RedisClient;
  keys: KeyLayout;
  tokens: TokenService;
  logger: Logger;
  metrics: ServiceMetrics;
  /** FRONTEND_URL: origins whose pages may call this service (CORS, design §12). */
  frontendOrigins?: readonly string[] | undefined;
  readModel: ReadModelAccess;
  /** Answer cache for task lists; none when CACHE_TTL_SECONDS is 0. */
  cache?: AnswerCache | undefined;
  /** Where events no longer in their log are read, for `asOf` (the runtime's LogReader, design §11). */
  logReader?: ArchivedEntries | undefined;
}

/** Builds the query-service's express app from its dependencies, without listening. */
export const buildQueryApp = (deps: QueryAppDeps) => {
  // Every route is a GET: no body to parse.
  const app = createBaseApp({ ...deps, bodies: false });
  app.use(
    operationalRoutes({
      metrics: deps.metrics,
      ready: async () => ({
        redis: await isRedisReady(deps.redis),
        readModel: deps.readModel.isOpen(),
      }),
      openapi: queryOpenApi,
    }),
  );
  app.use(requireAuth(deps.tokens), readYourWrites(deps.readModel, deps.keys));
  app.use(taskRoutes(deps));
  app.use(projectRoutes(deps));
  app.use(statsRoutes(deps));
  app.use(userRoutes(deps));
  return finishApp(app);
};
