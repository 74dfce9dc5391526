import { access, constants } from 'node:fs/promises';
import type { KeyLayout } from '@tasksync/contracts';
import {
  type ArchiveRun,
  type ArchiveStore,
  createBaseApp,
  finishApp,
  isRedisReady,
  type Logger,
  operationalRoutes,
  type RedisClient,
  type ServiceMetrics,
} from '@tasksync/platform';
import { Counter, Gauge } from 'prom-client';

export interface ArchiverAppDeps {
  redis: RedisClient;
  keys: KeyLayout;
  store: ArchiveStore;
  logger: Logger;
  metrics: ServiceMetrics;
  /** Whether runs are on (ARCHIVE_AFTER set). */
  archiving: boolean;
}

/**
 * The archiver's HTTP face: /health, /ready (Redis, and the archive directory
 * writable while archiving) and /metrics per log: entries archived by this
 * process, what the manifest lists (segments, bytes, entries), the log's
 * Redis memory, and the last run.
 */
export const buildArchiverApp = (deps: ArchiverAppDeps) => {
  const { redis, keys, store, metrics } = deps;
  const registers = [metrics.registry];
  const labelNames = ['log'] as const;
  const archived = new Counter({
    name: 'tasksync_archive_entries_archived_total',
    help: 'Log entries this archiver moved to the archive',
    labelNames,
    registers,
  });
  const failures = new Counter({
    name: 'tasksync_archive_run_failures_total',
    help: 'Archiver runs over a log that failed (retried on the next pass)',
    labelNames,
    registers,
  });
  const lastRun = new Gauge({
    name: 'tasksync_archive_last_run_timestamp_seconds',
    help: 'When a run over the log last completed',
    labelNames,
    registers,
  });
  const fromManifests = (
    name: string,
    help: string,
    of: (counts: Record<string, number>) => number,
  ) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers,
      async collect() {
        for (const log of keys.logs()) {
          const { segments } = await store.readManifest(log.name);
          this.set(
            { log: log.name },
            of({
              segments: segments.length,
              bytes: segments.reduce((sum, s) => sum + s.bytes, 0),
              entries: segments.reduce((sum, s) => sum + s.count, 0),
            }),
          );
        }
      },
    });
  fromManifests(
    'tasksync_archive_segments',
    'Segment files the manifest lists',
    (c) => c.segments!,
  );
  fromManifests('tasksync_archive_bytes', 'Bytes of the listed segment files', (c) => c.bytes!);
  fromManifests('tasksync_archive_entries', 'Entries the archive holds', (c) => c.entries!);
  new Gauge({
    name: 'tasksync_archive_redis_memory_bytes',
    help: 'Redis memory of each log (MEMORY USAGE, sampled)',
    labelNames,
    registers,
    async collect() {
      for (const log of keys.logs()) {
        const bytes = await redis.memory('USAGE', log.key).catch(() => null);
        this.set({ log: log.name }, Number(bytes ?? 0));
      }
    },
  });
  const app = createBaseApp({ ...deps, bodies: false });
  app.use(
    operationalRoutes({
      metrics,
      ready: async () => ({
        redis: await isRedisReady(redis),
        archive: deps.archiving
          ? await access(store.location, constants.W_OK).then(
              () => true,
              () => false,
            )
          : true,
      }),
    }),
  );
  return {
    app: finishApp(app),
    recordRun: (log: string, run: ArchiveRun) => {
      archived.inc({ log }, run.archived);
      lastRun.set({ log }, Date.now() / 1000);
    },
    recordFailure: (log: string) => failures.inc({ log }),
  };
};
