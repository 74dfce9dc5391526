import {
  commonEnv,
  createKeyLayout,
  createLogger,
  createMetrics,
  createRedis,
  createTokenService,
  ensureLayout,
  jwtEnv,
  loadDotEnv,
  newId,
  parseConfig,
  ports,
  resolveJwtSecret,
  runMain,
  shutdownOnSignals,
} from '@tasksync/contracts';
import { buildCommandApp } from './app';

const main = async () => {
  loadDotEnv();
  const config = parseConfig({ ...commonEnv, ...jwtEnv, COMMAND_PORT: ports.COMMAND_PORT });
  const logger = createLogger({
    name: 'command',
    level: config.LOG_LEVEL,
    pretty: config.NODE_ENV === 'development',
  });
  const { secret } = resolveJwtSecret(config);
  const redis = createRedis(config);
  const keys = createKeyLayout(config.REDIS_PREFIX, config.EVENT_PARTITIONS);
  await ensureLayout(redis, keys);
  const app = buildCommandApp({
    redis,
    keys,
    tokens: createTokenService({ secret, ttlSeconds: config.JWT_TTL_SECONDS }),
    logger,
    metrics: createMetrics('command-service'),
    now: () => new Date(),
    newId,
  });
  const server = app.listen(config.COMMAND_PORT, () =>
    logger.info(
      { port: config.COMMAND_PORT },
      `command-service listening on http://localhost:${config.COMMAND_PORT}`,
    ),
  );
  shutdownOnSignals({ server, logger, close: async () => void (await redis.quit()) });
};

void runMain(main);
