// The machinery every TaskSync service runs on (design §1): HTTP app and
// problem+json middleware, auth, config, logging, metrics, runtime, the Redis
// client, the append script, readers, the consumer loop and the log tail.
export * from './archive/index';
export * from './auth/current-role';
export * from './auth/jwt';
export * from './commands/aggregate-store';
export * from './commands/handle-command';
export * from './commands/users';
export * from './config';
export * from './http/app';
export * from './http/auth';
export * from './http/command-answers';
export * from './http/cors';
export * from './http/openapi';
export * from './http/params';
export * from './http/problem';
export * from './logger';
export * from './redis/append';
export * from './redis/client';
export * from './redis/consumer';
export * from './redis/lease';
export * from './redis/log-tail';
export * from './redis/meta';
export * from './redis/readers';
export * from './runtime';
