import {
  createServiceRuntime,
  duplicateRedis,
  loadDotEnv,
  runMain,
  serve,
} from '@tasksync/platform';
import { createAnswerCache } from './answer-cache';
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
  const cache =
    config.CACHE_TTL_SECONDS > 0
      ? createAnswerCache(
          runtime.redis,
          config.REDIS_PREFIX,
          config.PROJECTOR_GROUP,
          config.CACHE_TTL_SECONDS,
        )
      : undefined;
  const app = buildQueryApp({ ...runtime, readModel, cache });
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
