import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type KeyLayout, newId } from '@tasksync/contracts';
import {
  createLogReader,
  createMetrics,
  duplicateRedis,
  type Logger,
  type LogReader,
  type RedisClient,
  type TokenService,
} from '@tasksync/platform';
import { openReadModel } from '@tasksync/platform/read-model';
import { buildCommandApp } from '../command-service/src/app';
import { bootstrapGeneralProject } from '../command-service/src/projects/general';
import { buildNotifierApp, createSocketServer } from '../notifier/src/app';
import { startLiveFeed } from '../notifier/src/live/feed';
import { startProjector } from '../projector/src/projector';
import { createAnswerCache } from '../query-service/src/answer-cache';
import { buildQueryApp } from '../query-service/src/app';
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
  /** FRONTEND_URL: origins the services answer with CORS headers (design §12). */
  frontendOrigins?: readonly string[];
}

/** command-service on a free port, with the General project it creates at start. */
export const listenCommandService = async ({
  redis,
  keys,
  tokens,
  logger,
  frontendOrigins,
}: Deps) => {
  const deps = { redis, keys, tokens, logger, frontendOrigins, now: () => new Date(), newId };
  await bootstrapGeneralProject(deps);
  return listen(buildCommandApp({ ...deps, metrics: createMetrics('command') }));
};

/**
 * The read side: a projector writing a fresh SQLite file, and a query-service
 * on a free port reading it, with its answer cache.
 */
export const startReadSide = async (
  { redis, keys, tokens, logger, frontendOrigins }: Deps,
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
      frontendOrigins,
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

/**
 * The notifier: its live feed, Socket.IO with the Origin allow-list `origins`,
 * and its HTTP app (the board's files, CORS for `origins`) on a free port.
 */
export const startNotifier = async (
  { redis, keys, tokens, logger }: Deps,
  options: {
    origins: string[];
    maxReplay?: number;
    connectTimeoutMs?: number;
    /** How the feed reads logs (default: Redis alone, no archive). */
    logReader?: LogReader;
  },
) => {
  const metrics = createMetrics('notifier');
  const io = createSocketServer(
    options.origins,
    options.connectTimeoutMs ? { connectTimeoutMs: options.connectTimeoutMs } : {},
  );
  const feed = await startLiveFeed({
    io,
    redis,
    keys,
    tokens,
    logger,
    metrics,
    maxReplay: options.maxReplay ?? 10_000,
    logReader: options.logReader ?? createLogReader({ redis, keys }),
  });
  const app = buildNotifierApp({
    redis,
    logger,
    metrics,
    frontendOrigins: options.origins,
  });
  const server = app.listen(0, '127.0.0.1');
  io.attach(server);
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    io,
    metrics,
    positions: feed.positions,
    close: async () => {
      server.closeAllConnections();
      await io.close();
      await feed.stop();
    },
  };
};
