import {
  createServiceRuntime,
  duplicateRedis,
  loadDotEnv,
  runMain,
  serve,
} from '@tasksync/contracts';
import { buildQueryApp } from './app';
import { loadQueryConfig } from './config';
import { createReadModelAccess } from './read-model';

const main = async () => {
  loadDotEnv();
  const config = loadQueryConfig();
  const runtime = await createServiceRuntime('query', config);
  const subscriber = duplicateRedis(runtime.redis);
  const readModel = createReadModelAccess({
    path: config.READ_MODEL_PATH,
    subscriber,
    keys: runtime.keys,
    group: config.PROJECTOR_GROUP,
    logger: runtime.logger,
  });
  const app = buildQueryApp({ ...runtime, readModel });
  serve(app, runtime, {
    name: 'query-service',
    port: config.QUERY_PORT,
    beforeClose: async () => {
      subscriber.disconnect();
      readModel.close();
    },
  });
};

void runMain(main);
