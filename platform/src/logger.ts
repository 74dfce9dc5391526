import pino, { type Logger } from 'pino';

/** Fields that must never reach a log line, whatever a caller passes. */
const REDACT = [
  'password',
  '*.password',
  'token',
  '*.token',
  'passwordHash',
  '*.passwordHash',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  // ioredis puts a failed command's arguments on its error: they may hold a password hash.
  'err.command',
  '*.err.command',
  'JWT_SECRET',
  'ADMIN_PASSWORD',
];

/** pino: JSON in production, pretty in development (style.md, Tooling). */
export const createLogger = (options: {
  name: string;
  level: string;
  pretty?: boolean;
  destination?: pino.DestinationStream;
}): Logger => {
  const base = {
    name: options.name,
    level: options.level,
    redact: { paths: REDACT, censor: '[redacted]' },
  };
  if (options.destination) return pino(base, options.destination);
  if (options.pretty) {
    return pino({
      ...base,
      transport: {
        target: 'pino-pretty',
        options: {
          colorize: true,
          singleLine: true,
          translateTime: 'HH:MM:ss.l',
          ignore: 'pid,hostname,name',
        },
      },
    });
  }
  return pino(base);
};

export type { Logger };
