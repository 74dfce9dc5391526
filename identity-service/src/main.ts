import {
  createKeyLayout,
  createLogger,
  createMetrics,
  createRedis,
  createTokenService,
  ensureLayout,
  loadDotEnv,
  newId,
  resolveJwtSecret,
  runMain,
  shutdownOnSignals,
} from '@tasksync/contracts';
import { buildIdentityApp } from './app';
import { loadIdentityConfig } from './config';
import { bootstrapAdmin } from './users/bootstrap';
import { createPasswordHasher } from './users/passwords';

const main = async () => {
  loadDotEnv();
  const config = loadIdentityConfig();
  const logger = createLogger({
    name: 'identity',
    level: config.LOG_LEVEL,
    pretty: config.NODE_ENV === 'development',
  });
  for (const warning of config.warnings) logger.warn(warning);
  const { secret, generated } = resolveJwtSecret(config);
  if (generated)
    logger.warn('JWT_SECRET not set: generated a development secret in the data directory.');
  const redis = createRedis(config);
  const keys = createKeyLayout(config.REDIS_PREFIX, config.EVENT_PARTITIONS);
  await ensureLayout(redis, keys);
  const { app, accounts } = buildIdentityApp({
    redis,
    keys,
    tokens: createTokenService({ secret, ttlSeconds: config.JWT_TTL_SECONDS }),
    passwords: await createPasswordHasher(config.BCRYPT_COST),
    logger,
    metrics: createMetrics('identity-service'),
    now: () => new Date(),
    newId,
    loginThrottle: {
      maxFailures: config.LOGIN_MAX_FAILURES,
      windowSeconds: config.LOGIN_WINDOW_SECONDS,
    },
  });
  await bootstrapAdmin({ accounts, redis, keys, logger }, config.admin);
  const server = app.listen(config.IDENTITY_PORT, () =>
    logger.info(
      { port: config.IDENTITY_PORT },
      `identity-service listening on http://localhost:${config.IDENTITY_PORT}`,
    ),
  );
  shutdownOnSignals({ server, logger, close: async () => void (await redis.quit()) });
};

void runMain(main);
