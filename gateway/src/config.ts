import { ConfigError, commonEnv, parseConfig, ports } from '@tasksync/platform';
import { z } from 'zod';
import { parseRate, type RateLimits } from './limits';

const rate = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, context) => {
      const parsed = parseRate(text);
      if (!parsed) {
        context.addIssue({
          code: 'custom',
          message: 'a rate such as 30/10m: requests per seconds (s), minutes (m) or hours (h)',
        });
        return z.NEVER;
      }
      return parsed;
    });

/**
 * The front door's settings (design §12): its port, where each service is, how
 * long one may take, and the rate limits (RATE_LIMITS=off turns them off).
 */
export const loadGatewayConfig = (env: NodeJS.ProcessEnv = process.env) => {
  const config = parseConfig(
    {
      ...commonEnv,
      ...ports,
      IDENTITY_URL: z.url().optional(),
      COMMAND_URL: z.url().optional(),
      QUERY_URL: z.url().optional(),
      NOTIFIER_URL: z.url().optional(),
      GATEWAY_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(30_000),
      RATE_LIMITS: z.enum(['on', 'off']).default('on'),
      RATE_LIMIT_REGISTER: rate('20/10m'),
      RATE_LIMIT_LOGIN: rate('60/1m'),
      RATE_LIMIT_WRITES: rate('3000/1m'),
    },
    env,
  );
  if (config.NODE_ENV === 'production' && config.RATE_LIMITS === 'off')
    throw new ConfigError('RATE_LIMITS=off is for development and benchmarks, not production.');
  const local = (port: number) => `http://127.0.0.1:${port}`;
  const rates: RateLimits | undefined =
    config.RATE_LIMITS === 'off'
      ? undefined
      : {
          register: config.RATE_LIMIT_REGISTER,
          login: config.RATE_LIMIT_LOGIN,
          write: config.RATE_LIMIT_WRITES,
        };
  return {
    ...config,
    rates,
    upstreams: {
      identity: config.IDENTITY_URL ?? local(config.IDENTITY_PORT),
      command: config.COMMAND_URL ?? local(config.COMMAND_PORT),
      query: config.QUERY_URL ?? local(config.QUERY_PORT),
      notifier: config.NOTIFIER_URL ?? local(config.NOTIFIER_PORT),
    },
  };
};
