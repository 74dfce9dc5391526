import { randomBytes } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { archiveEnv } from './archive/config';

/** The repository root: platform/src/ is two levels below it. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** A start-up refusal: printed as its message alone, then the process exits with 1. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Runs a service's main; a ConfigError prints only its message, anything else its stack. */
export const runMain = (main: () => Promise<void>) =>
  main().catch((error) => {
    console.error(error instanceof ConfigError ? error.message : error);
    process.exit(1);
  });

/** Reads `.env` (the working directory's, else the repository root's) once, without overriding the environment. */
export const loadDotEnv = () => {
  for (const file of [join(process.cwd(), '.env'), join(repoRoot, '.env')]) {
    if (existsSync(file)) {
      process.loadEnvFile(file);
      return file;
    }
  }
  return undefined;
};

const port = (fallback: number) => z.coerce.number().int().min(0).max(65_535).default(fallback);
const flag = z
  .enum(['0', '1', 'true', 'false'])
  .default('0')
  .transform((v) => v === '1' || v === 'true');

/** A Redis prefix or consumer-group name. */
const name64 = z.string().regex(/^[\w.-]{1,64}$/, 'letters, digits, ".", "-" or "_" only');

/** One origin (`scheme://host[:port]`), as browsers send it in `Origin`. */
const Origin = z.url({ protocol: /^https?$/ }).transform((url) => new URL(url).origin);

/** Origins, comma-separated: `FRONTEND_URL`. */
const OriginList = z
  .string()
  .transform((value) =>
    value
      .split(',')
      .map((origin) => origin.trim())
      .filter(Boolean),
  )
  .pipe(z.array(Origin));

/** Settings every service shares (design §8). */
export const commonEnv = {
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  REDIS_URL: z.string().min(1).default('redis://127.0.0.1:6379'),
  REDIS_CLUSTER: flag,
  REDIS_PREFIX: name64.default('ts'),
  EVENT_PARTITIONS: z.coerce.number().int().min(1).max(1024).default(1),
  /** Production refuses a Redis without AOF unless this is set (design: nothing acknowledged is lost). */
  REDIS_ALLOW_NO_PERSISTENCE: flag,
  DATA_DIR: z.string().min(1).default(join(repoRoot, 'data')),
  /** Origins of front-ends whose pages may call the API and open the live feed (design §12). */
  FRONTEND_URL: OriginList.default([]),
  /** Where archived log entries are read (design §11); `<DATA_DIR>/archive` by default. */
  ...archiveEnv,
};

export const jwtEnv = {
  JWT_SECRET: z.string().optional(),
  JWT_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(60)
    .max(7 * 24 * 3600)
    .default(3600),
};

/** Settings of a read model: the projector that writes it and the query-service that reads it. */
export const readModelEnv = {
  READ_MODEL_PATH: z.string().min(1).optional(),
  PROJECTOR_GROUP: name64.default('projector'),
};

/** READ_MODEL_PATH defaults to `read-model.sqlite` in the data directory. */
export const withReadModelPath = <
  C extends { READ_MODEL_PATH?: string | undefined; DATA_DIR: string },
>(
  config: C,
) => ({
  ...config,
  READ_MODEL_PATH: config.READ_MODEL_PATH ?? join(config.DATA_DIR, 'read-model.sqlite'),
});

export const ports = {
  /** The front door (design §12): the one origin for the API, the board and the live feed. */
  GATEWAY_PORT: port(3000),
  IDENTITY_PORT: port(3003),
  COMMAND_PORT: port(3002),
  QUERY_PORT: port(3004),
  NOTIFIER_PORT: port(3001),
  PROJECTOR_PORT: port(3005),
  /** The archiver's health and metrics (design §11). */
  ARCHIVER_PORT: port(3006),
};

/**
 * Validates the environment against a service's schema. A wrong value throws a
 * ConfigError naming every offending variable; `main` prints it and exits.
 */
export const parseConfig = <Shape extends z.ZodRawShape>(
  shape: Shape,
  env: NodeJS.ProcessEnv = process.env,
): z.output<z.ZodObject<Shape>> => {
  // An empty variable counts as unset, as in most process managers.
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const result = z.object(shape).safeParse(present);
  if (!result.success) {
    const lines = result.error.issues.map(
      (issue) => `  ${issue.path.join('.') || '(environment)'}: ${issue.message}`,
    );
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return result.data;
};

const MIN_SECRET_BYTES = 32;

/**
 * The JWT secret. In production it must be given and at least 32 bytes. In
 * development a random one is kept in the data directory (never in the
 * repository), so every service started from this checkout shares it.
 */
export const resolveJwtSecret = (config: {
  NODE_ENV: string;
  JWT_SECRET?: string | undefined;
  DATA_DIR: string;
}): { secret: string; generated: boolean } => {
  if (config.JWT_SECRET !== undefined) {
    if (
      config.NODE_ENV === 'production' &&
      Buffer.byteLength(config.JWT_SECRET) < MIN_SECRET_BYTES
    ) {
      throw new ConfigError(`JWT_SECRET must be at least ${MIN_SECRET_BYTES} bytes in production.`);
    }
    return { secret: config.JWT_SECRET, generated: false };
  }
  if (config.NODE_ENV === 'production') {
    throw new ConfigError('JWT_SECRET is required in production (at least 32 random bytes).');
  }
  const file = join(config.DATA_DIR, 'dev-jwt-secret');
  const readSecret = () => {
    const secret = readFileSync(file, 'utf8').trim();
    if (Buffer.byteLength(secret) < MIN_SECRET_BYTES) {
      throw new ConfigError(`${file} holds no usable secret; delete it to have a new one made.`);
    }
    return { secret, generated: false };
  };
  if (existsSync(file)) return readSecret();
  mkdirSync(config.DATA_DIR, { recursive: true });
  const secret = randomBytes(48).toString('base64url');
  // Written whole to a private file, then linked into place: a service starting at
  // the same moment sees either no file or the complete secret, never half of it.
  const draft = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(draft, secret, { mode: 0o600 });
  try {
    linkSync(draft, file);
  } catch {
    return readSecret();
  } finally {
    unlinkSync(draft);
  }
  return { secret, generated: true };
};
