import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { createServiceRuntime, loadDotEnv, runMain, serve } from '@tasksync/platform';
import { openReadModel } from '@tasksync/platform/read-model';
import { buildProjectorApp } from './app';
import { loadProjectorConfig } from './config';
import { startProjector } from './projector';
import { createUpgradeGauges, upgradeReadModel } from './upgrade';

const main = async () => {
  loadDotEnv();
  const config = loadProjectorConfig();
  const runtime = await createServiceRuntime('projector', config);
  mkdirSync(dirname(config.READ_MODEL_PATH), { recursive: true });
  const applied = runtime.metrics.counter(
    'tasksync_projector_events_applied_total',
    'Events applied to the read model',
    ['log'],
  );
  const upgradeGauges = createUpgradeGauges(runtime.metrics);
  let projector: Awaited<ReturnType<typeof startProjector>> | undefined;
  let upgrading = false;
  // Served from the start: an upgrade (or a wait for the lease) can take a while,
  // and its progress is on /metrics meanwhile.
  const app = buildProjectorApp({
    ...runtime,
    db: () => projector?.db(),
    phase: () => (projector ? 'projecting' : upgrading ? 'upgrading' : 'starting'),
    group: config.PROJECTOR_GROUP,
  });
  const starting = new AbortController();
  const started = startProjector({
    redis: runtime.redis,
    keys: runtime.keys,
    logReader: runtime.logReader,
    // Opened while the projector holds its lease, so replay --swap can switch the file.
    db: () => openReadModel(config.READ_MODEL_PATH),
    upgrade: async (outdated, lease) => {
      upgrading = true;
      try {
        await upgradeReadModel({
          redis: runtime.redis,
          keys: runtime.keys,
          group: config.PROJECTOR_GROUP,
          path: config.READ_MODEL_PATH,
          outdated,
          logger: runtime.logger,
          logReader: runtime.logReader,
          gauges: upgradeGauges,
          ...lease,
        });
      } finally {
        upgrading = false;
      }
    },
    signal: starting.signal,
    group: config.PROJECTOR_GROUP,
    logger: runtime.logger,
    batchSize: config.PROJECTOR_BATCH_SIZE,
    onApplied: (log, count) => applied.inc({ log }, count),
  });
  serve(app, runtime, {
    name: 'projector',
    port: config.PROJECTOR_PORT,
    // The batch in hand is finished and acked before Redis and the file close;
    // a start still in progress (an upgrade) is cut short.
    beforeClose: async () => {
      starting.abort();
      await (await started.catch(() => undefined))?.stop();
    },
  });
  try {
    projector = await started;
  } catch (error) {
    // Stopped while starting: the shutdown above ends the process.
    if (starting.signal.aborted) return;
    throw error;
  }
  runtime.logger.info(
    { readModel: config.READ_MODEL_PATH, group: config.PROJECTOR_GROUP },
    'projecting',
  );
};

void runMain(main);
