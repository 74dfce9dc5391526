import type { KeyLayout } from '@tasksync/contracts';
import type { Logger } from '@tasksync/platform';
import {
  createBaseApp,
  finishApp,
  isRedisReady,
  operationalRoutes,
  type RedisClient,
  type ServiceMetrics,
} from '@tasksync/platform';
import type { ReadModelDb } from '@tasksync/platform/read-model';
import { Gauge } from 'prom-client';

export interface ProjectorAppDeps {
  redis: RedisClient;
  keys: KeyLayout;
  /** The handle being written; undefined while replay --swap holds the file. */
  db: () => ReadModelDb | undefined;
  /**
   * Where a starting projector is: waiting for its lease (not ready: no model
   * of its own yet), upgrading (ready: readers read the old model), projecting.
   */
  phase?: () => 'starting' | 'upgrading' | 'projecting';
  group: string;
  logger: Logger;
  metrics: ServiceMetrics;
  /** FRONTEND_URL: origins whose pages may call this service (CORS, design §12). */
  frontendOrigins?: readonly string[] | undefined;
}

/**
 * The projector's own HTTP face (design §3: every service, the projector
 * included): /health, /ready (Redis and the read model), /metrics with the lag
 * of each log behind the group, events applied and dead letters.
 */
export const buildProjectorApp = (deps: ProjectorAppDeps) => {
  const { redis, keys, group } = deps;
  new Gauge({
    name: 'tasksync_projector_lag_entries',
    help: 'Entries of each log not yet delivered to the projector group',
    labelNames: ['log'],
    registers: [deps.metrics.registry],
    async collect() {
      for (const log of keys.logs()) {
        const groups = (await redis.xinfo('GROUPS', log.key).catch(() => [])) as unknown[][];
        const info = groups.find((g) => g[g.indexOf('name') + 1] === group);
        const lag = info ? Number(info[info.indexOf('lag') + 1] ?? 0) : 0;
        this.set({ log: log.name }, lag);
      }
    },
  });
  new Gauge({
    name: 'tasksync_projector_dead_letters',
    help: 'Entries in the dead-letter stream of each log',
    labelNames: ['log'],
    registers: [deps.metrics.registry],
    async collect() {
      for (const log of keys.logs()) {
        this.set(
          { log: log.name },
          await redis.xlen(keys.deadLetters(log.key, group)).catch(() => 0),
        );
      }
    },
  });
  const app = createBaseApp(deps);
  app.use(
    operationalRoutes({
      metrics: deps.metrics,
      ready: async () => ({
        redis: await isRedisReady(redis),
        // Handed over to replay --swap for a moment: paused, not broken.
        readModel: deps.phase?.() !== 'starting' && deps.db()?.open !== false,
      }),
    }),
  );
  return finishApp(app);
};
