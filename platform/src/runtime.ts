import { createServer, type RequestListener } from 'node:http';
import { createKeyLayout, type KeyLayout } from '@tasksync/contracts';
import type { Express } from 'express';
import { openArchive } from './archive/config';
import { createLogReader, type LogReader } from './archive/reader';
import { createTokenService, type TokenService } from './auth/jwt';
import { resolveJwtSecret } from './config';
import { createMetrics, type ServiceMetrics, shutdownOnSignals } from './http/app';
import { answerClientErrors } from './http/problem';
import { createLogger, type Logger } from './logger';
import { createRedis, type RedisClient } from './redis/client';
import { ensureDurableRedis, ensureLayout } from './redis/meta';

export interface ServiceRuntime {
  logger: Logger;
  redis: RedisClient;
  keys: KeyLayout;
  metrics: ServiceMetrics;
  /** FRONTEND_URL: the origins whose pages may call this service (design §12). */
  frontendOrigins: readonly string[];
  /** The one reader of logs and archived entries: the archive first, Redis after (design §11). */
  logReader: LogReader;
}

interface RuntimeConfig {
  NODE_ENV: string;
  LOG_LEVEL: string;
  REDIS_URL: string;
  REDIS_CLUSTER: boolean;
  REDIS_PREFIX: string;
  EVENT_PARTITIONS: number;
  REDIS_ALLOW_NO_PERSISTENCE: boolean;
  DATA_DIR: string;
  ARCHIVE_DIR?: string | undefined;
  FRONTEND_URL: readonly string[];
}

interface TokenConfig {
  NODE_ENV: string;
  DATA_DIR: string;
  JWT_SECRET?: string | undefined;
  JWT_TTL_SECONDS: number;
}

/**
 * What every service's main wires first: its logger, Redis checked against the
 * stored key layout, and its metrics registry; and, for a service whose config
 * carries the JWT settings (jwtEnv), the token service. A service that checks
 * no token (the projector) needs no secret.
 */
export async function createServiceRuntime<C extends RuntimeConfig>(
  name: string,
  config: C,
): Promise<C extends TokenConfig ? ServiceRuntime & { tokens: TokenService } : ServiceRuntime>;
export async function createServiceRuntime(
  name: string,
  config: RuntimeConfig & Partial<TokenConfig>,
): Promise<ServiceRuntime & { tokens?: TokenService }> {
  const logger = createLogger({
    name,
    level: config.LOG_LEVEL,
    pretty: config.NODE_ENV === 'development',
  });
  const tokens =
    config.JWT_TTL_SECONDS === undefined
      ? undefined
      : tokenServiceOf({ ...config, JWT_TTL_SECONDS: config.JWT_TTL_SECONDS }, logger);
  const redis = createRedis(config);
  const keys = createKeyLayout(config.REDIS_PREFIX, config.EVENT_PARTITIONS);
  await ensureLayout(redis, keys);
  if (config.NODE_ENV === 'production' && !config.REDIS_ALLOW_NO_PERSISTENCE) {
    await ensureDurableRedis(redis);
  }
  const metrics = createMetrics(`${name}-service`);
  return {
    logger,
    redis,
    keys,
    metrics,
    logReader: createLogReader({ redis, keys, archive: openArchive(config), logger, metrics }),
    frontendOrigins: config.FRONTEND_URL,
    ...(tokens ? { tokens } : {}),
  };
}

const tokenServiceOf = (config: TokenConfig, logger: Logger) => {
  const { secret, generated } = resolveJwtSecret(config);
  if (generated)
    logger.warn('JWT_SECRET not set: generated a development secret in the data directory.');
  return createTokenService({ secret, ttlSeconds: config.JWT_TTL_SECONDS });
};

/** Listens, says where, and shuts down gracefully on SIGTERM/SIGINT, closing Redis last. */
export const serve = (
  app: Express | RequestListener,
  runtime: ServiceRuntime,
  options: {
    name: string;
    port: number;
    /** Before the server closes: end long-lived connections. */
    drain?: () => Promise<void>;
    /** After the last request: release what the service holds. */
    beforeClose?: () => Promise<void>;
  },
) => {
  const server = createServer(app).listen(options.port, () =>
    runtime.logger.info(
      { port: options.port },
      `${options.name} listening on http://localhost:${options.port}`,
    ),
  );
  answerClientErrors(server);
  shutdownOnSignals({
    server,
    logger: runtime.logger,
    ...(options.drain ? { drain: options.drain } : {}),
    close: async () => {
      await options.beforeClose?.();
      await runtime.redis.quit();
    },
  });
  return server;
};
