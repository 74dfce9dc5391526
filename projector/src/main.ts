import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { createServiceRuntime, loadDotEnv, runMain, serve } from '@tasksync/platform';
import { openReadModel } from '@tasksync/platform/read-model';
import { buildProjectorApp } from './app';
import { loadProjectorConfig } from './config';
import { startProjector } from './projector';

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
  const projector = await startProjector({
    redis: runtime.redis,
    keys: runtime.keys,
    // Opened while the projector holds its lease, so replay --swap can switch the file.
    db: () => openReadModel(config.READ_MODEL_PATH),
    group: config.PROJECTOR_GROUP,
    logger: runtime.logger,
    batchSize: config.PROJECTOR_BATCH_SIZE,
    onApplied: (log, count) => applied.inc({ log }, count),
  });
  runtime.logger.info(
    { readModel: config.READ_MODEL_PATH, group: config.PROJECTOR_GROUP },
    'projecting',
  );
  const app = buildProjectorApp({ ...runtime, db: projector.db, group: config.PROJECTOR_GROUP });
  serve(app, runtime, {
    name: 'projector',
    port: config.PROJECTOR_PORT,
    // The batch in hand is finished and acked before Redis and the file close.
    beforeClose: async () => {
      await projector.stop();
    },
  });
};

void runMain(main);
