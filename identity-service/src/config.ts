import { Email, Password } from '@tasksync/contracts';
import { ConfigError, commonEnv, jwtEnv, parseConfig, ports } from '@tasksync/platform';
import { z } from 'zod';

export const DEV_ADMIN = { email: 'admin@example.com', password: 'admin123' };

/**
 * identity-service settings. In production the admin password must be set and
 * not the development default, and the JWT secret long (resolveJwtSecret).
 */
export const loadIdentityConfig = (env: NodeJS.ProcessEnv = process.env) => {
  const config = parseConfig(
    {
      ...commonEnv,
      ...jwtEnv,
      IDENTITY_PORT: ports.IDENTITY_PORT,
      ADMIN_EMAIL: Email.optional(),
      ADMIN_PASSWORD: Password.optional(),
      BCRYPT_COST: z.coerce.number().int().min(4).max(15).default(10),
      LOGIN_MAX_FAILURES: z.coerce.number().int().min(1).default(10),
      LOGIN_WINDOW_SECONDS: z.coerce.number().int().min(1).default(900),
    },
    env,
  );
  const warnings: string[] = [];
  if (config.NODE_ENV === 'production') {
    if (!config.ADMIN_EMAIL) throw new ConfigError('ADMIN_EMAIL must be set in production.');
    if (!config.ADMIN_PASSWORD || config.ADMIN_PASSWORD === DEV_ADMIN.password) {
      throw new ConfigError(
        'ADMIN_PASSWORD must be set (and not the development default) in production.',
      );
    }
    if (config.BCRYPT_COST < 10)
      throw new ConfigError('BCRYPT_COST must be at least 10 in production.');
  } else {
    if (!config.ADMIN_EMAIL)
      warnings.push(`ADMIN_EMAIL not set: the admin is ${DEV_ADMIN.email} (development only).`);
    if (!config.ADMIN_PASSWORD) {
      warnings.push(
        `ADMIN_PASSWORD not set: the admin password is ${DEV_ADMIN.password} (development only).`,
      );
    }
  }
  return {
    ...config,
    admin: {
      email: config.ADMIN_EMAIL ?? DEV_ADMIN.email,
      password: config.ADMIN_PASSWORD ?? DEV_ADMIN.password,
    },
    warnings,
  };
};
