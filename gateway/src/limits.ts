import { createHash } from 'node:crypto';
import { ProblemError } from '@tasksync/contracts';
import { type RedisClient, sendProblem } from '@tasksync/platform';
import type { RequestHandler } from 'express';
import { ipKeyGenerator, type RateLimitInfo, rateLimit } from 'express-rate-limit';
import { Cluster } from 'ioredis';
import { RedisStore } from 'rate-limit-redis';
import type { Limit } from './routes';

/** So many requests per so many milliseconds. */
export interface Rate {
  limit: number;
  windowMs: number;
}

export type RateLimits = Record<Limit, Rate>;

const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000 };

/** `30/10m`: 30 requests per 10 minutes (units s, m, h; a bare unit is one of it). */
export const parseRate = (text: string): Rate | undefined => {
  const match = /^(\d+)\s*\/\s*(\d*)\s*([smh])$/.exec(text.trim());
  if (!match) return undefined;
  const limit = Number(match[1]);
  const windowMs = Number(match[2] || 1) * UNITS[match[3]!]!;
  if (!(limit > 0) || !(windowMs > 0)) return undefined;
  return { limit, windowMs };
};

const describe = (rate: Rate) => {
  const [unit, ms] =
    rate.windowMs % 3_600_000 === 0
      ? ['hour', 3_600_000]
      : rate.windowMs % 60_000 === 0
        ? ['minute', 60_000]
        : ['second', 1_000];
  const count = rate.windowMs / (ms as number);
  return `${rate.limit} per ${count === 1 ? unit : `${count} ${unit}s`}`;
};

/** Who a limit counts: the client's address, or for writes the token (hashed: no token is stored). */
const keyOf = (limit: Limit): ((req: Parameters<RequestHandler>[0]) => string) => {
  const address = (req: Parameters<RequestHandler>[0]) => ipKeyGenerator(req.ip ?? '');
  if (limit !== 'write') return address;
  return (req) => {
    const authorization = req.headers.authorization;
    if (!authorization) return `address:${address(req)}`;
    return `token:${createHash('sha256').update(authorization).digest('base64url')}`;
  };
};

const WHAT: Record<Limit, string> = {
  register: 'registrations from this address',
  login: 'log-ins from this address',
  write: 'writes with this token',
};

/**
 * The door's rate limits (design §12), by express-rate-limit with its counters
 * in Redis (rate-limit-redis), so every door in front of the same Redis counts
 * together: registrations and log-ins per client address, writes per token.
 * Past the limit: 429 problem+json with `Retry-After` (seconds until the
 * window resets) and the draft-8 `RateLimit` headers on every limited route.
 * Should Redis fail, the request goes through: a limit is protection, not a
 * reason to refuse service.
 */
export const createRateLimits = (options: {
  redis: RedisClient;
  prefix: string;
  rates: RateLimits;
}): Record<Limit, RequestHandler> => {
  const { redis } = options;
  // A script is loaded on every master of a cluster; its runs go where their key lives.
  const sendCommandCluster = async ({ command }: { command: string[] }) => {
    const [name, ...args] = command as [string, ...string[]];
    if (redis instanceof Cluster && name.toUpperCase() === 'SCRIPT') {
      const replies = await Promise.all(
        redis.nodes('master').map((node) => node.call(name, ...args)),
      );
      return replies[0] as string;
    }
    return redis.call(name, ...args) as Promise<number | string | (number | string)[]>;
  };
  const limiter = (limit: Limit): RequestHandler => {
    const rate = options.rates[limit];
    return rateLimit({
      windowMs: rate.windowMs,
      limit: rate.limit,
      standardHeaders: 'draft-8',
      legacyHeaders: false,
      identifier: limit,
      keyGenerator: keyOf(limit),
      passOnStoreError: true,
      store: new RedisStore({
        sendCommandCluster,
        prefix: `${options.prefix}:door:limit:${limit}:`,
      }),
      handler: (req, res) => {
        const { rateLimit: info } = req as typeof req & { rateLimit?: RateLimitInfo };
        const reset = info?.resetTime?.getTime() ?? Date.now() + rate.windowMs;
        const seconds = Math.max(1, Math.ceil((reset - Date.now()) / 1000));
        sendProblem(
          res,
          new ProblemError(
            429,
            'rate-limited',
            'Too many requests',
            `Too many ${WHAT[limit]}: at most ${describe(rate)}. Try again in ${seconds} s.`,
            { headers: { 'Retry-After': String(seconds) } },
          ),
        );
      },
    });
  };
  return { register: limiter('register'), login: limiter('login'), write: limiter('write') };
};
