import type { KeyLayout } from '@tasksync/contracts';
import {
  createBaseApp,
  createCommandCounters,
  createUserStore,
  finishApp,
  isRedisReady,
  type Logger,
  type LogReader,
  operationalRoutes,
  type RedisClient,
  type ServiceMetrics,
  type TokenService,
} from '@tasksync/platform';
import { identityOpenApi } from './openapi';
import { createAccounts } from './users/accounts';
import type { PasswordHasher } from './users/passwords';
import { userRoutes } from './users/routes';
import { createLoginThrottle } from './users/throttle';

export interface IdentityAppDeps {
  redis: RedisClient;
  keys: KeyLayout;
  tokens: TokenService;
  passwords: PasswordHasher;
  logger: Logger;
  metrics: ServiceMetrics;
  /** FRONTEND_URL: origins whose pages may call this service (CORS, design §12). */
  frontendOrigins?: readonly string[] | undefined;
  now: () => Date;
  newId: () => string;
  loginThrottle: { maxFailures: number; windowSeconds: number };
  /** Where events no longer in their log are read (the runtime's LogReader, design §11). */
  logReader?: LogReader | undefined;
}

/** Builds the identity-service's express app from its dependencies, without listening. */
export const buildIdentityApp = (deps: IdentityAppDeps) => {
  const accounts = createAccounts({
    ...deps,
    users: createUserStore(deps.redis, deps.keys, deps.logReader),
    counters: createCommandCounters(deps.metrics),
    throttle: createLoginThrottle(deps.redis, deps.keys, deps.loginThrottle),
  });
  const app = createBaseApp(deps);
  app.use(
    operationalRoutes({
      metrics: deps.metrics,
      ready: async () => ({ redis: await isRedisReady(deps.redis) }),
      openapi: identityOpenApi,
    }),
  );
  app.use(userRoutes(accounts, deps.tokens));
  return { app: finishApp(app), accounts };
};
