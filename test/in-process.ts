import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createMetrics,
  duplicateRedis,
  type KeyLayout,
  type Logger,
  newId,
  type RedisClient,
  type TokenService,
} from '@tasksync/contracts';
import { openReadModel } from '@tasksync/contracts/read-model';
import { buildCommandApp } from '../command-service/src/app';
import { startProjector } from '../projector/src/projector';
import { buildQueryApp } from '../query-service/src/app';
import { createAnswerCache } from '../query-service/src/http';
import { createReadModelAccess } from '../query-service/src/read-model';
import { listen } from './support';

/**
 * Services in this process over real HTTP, for integration tests that need
 * more than one of them on the same Redis.
 */
interface Deps {
  redis: RedisClient;
  keys: KeyLayout;
  tokens: TokenService;
  logger: Logger;
}

/** command-service on a free port. */
export const listenCommandService = ({ redis, keys, tokens, logger }: Deps) =>
  listen(
    buildCommandApp({
      redis,
      keys,
      tokens,
      logger,
      metrics: createMetrics('command'),
      now: () => new Date(),
      newId,
    }),
  );

/**
 * The read side: a projector writing a fresh SQLite file, and a query-service
 * on a free port reading it, with its answer cache.
 */
export const startReadSide = async (
  { redis, keys, tokens, logger }: Deps,
  consumerOptions: Parameters<typeof startProjector>[0]['consumerOptions'] = {},
) => {
  const readModelPath = join(mkdtempSync(join(tmpdir(), 'read-side-')), 'read-model.sqlite');
  const db = openReadModel(readModelPath);
  const projector = await startProjector({
    redis,
    keys,
    db,
    group: 'projector',
    logger,
    consumerOptions: { blockMs: 50, ...consumerOptions },
  });
  const subscriber = duplicateRedis(redis);
  const readModel = createReadModelAccess({
    path: readModelPath,
    subscriber,
    keys,
    group: 'projector',
    logger,
  });
  const server = await listen(
    buildQueryApp({
      redis,
      keys,
      tokens,
      logger,
      metrics: createMetrics('query'),
      readModel,
      cache: createAnswerCache(redis, keys.prefix, 'projector', 60),
    }),
  );
  return {
    url: server.url,
    readModelPath,
    db,
    close: async () => {
      await server.close();
      await projector.stop();
      readModel.close();
      db.close();
      subscriber.disconnect();
    },
  };
};
