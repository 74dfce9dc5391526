import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import {
  createKeyLayout,
  type KeyLayout,
  logOfAggregateKey,
  newId,
  type Role,
} from '@tasksync/contracts';
import {
  appendToStream,
  createLogger,
  createRedis,
  createTokenService,
  type RedisClient,
  readAggregate,
  readLastEntryId,
  type StoreLayout,
} from '@tasksync/platform';
import { type ReadModelDb, readCheckpoints } from '@tasksync/platform/read-model';
import { io as connectClient, type Socket } from 'socket.io-client';
import { expect, inject } from 'vitest';
import { type RunningProcess, runTs, waitUntilReady } from '../scripts/processes';
import { freePort } from '../scripts/redis-server';

/** A fresh key prefix per test, so tests share one redis-server and still run in parallel. */
export const uniquePrefix = () => `test-${randomBytes(6).toString('hex')}`;

/** Whether this run is the cluster run (test/redis-cluster-global-setup.ts). */
export const onCluster = () => inject('redisCluster') === true;

/** The test run's Redis: one node, or the cluster run's seeds in cluster mode. */
export const testRedisConfig = () => ({
  REDIS_URL: inject('redisUrl'),
  REDIS_CLUSTER: onCluster(),
});

/** The same, as the environment of a service process. */
export const testRedisEnv = (): Record<string, string> => ({
  REDIS_URL: inject('redisUrl'),
  ...(onCluster() ? { REDIS_CLUSTER: '1' } : {}),
});

export const connectTestRedis = (): RedisClient => createRedis(testRedisConfig());

/**
 * A test's partition count: what it asks for, except on the cluster run, where
 * every layout has 4 partitions so its task logs land on different masters.
 */
export const testPartitions = (partitions: number) => (onCluster() ? 4 : partitions);

export const testKeys = (partitions = 1) =>
  createKeyLayout(uniquePrefix(), testPartitions(partitions));

/** A logger whose every line is kept, to assert what reaches the logs. */
export const capturingLogger = (level = 'debug') => {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      callback();
    },
  });
  return { logger: createLogger({ name: 'test', level, destination }), lines };
};

/** Polls until `check` returns a value other than undefined, or fails after `timeoutMs`. */
export const waitFor = async <T>(
  check: () => T | undefined | Promise<T | undefined>,
  { timeoutMs = 10_000, intervalMs = 20, message = 'condition' } = {},
): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${message}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
};

/** Listens on port 0 (real HTTP) and returns the base URL and a closer. */
export const listen = async (app: import('express').Express) => {
  const server = await new Promise<import('node:http').Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const address = server.address() as import('node:net').AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
};

export interface JsonAnswer {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: answers are checked by assertions, not by types
  body: any;
  text: string;
}

/** A fetch response's status, headers, text and body parsed as JSON (undefined if it is not). */
export const jsonAnswer = async (response: Response): Promise<JsonAnswer> => {
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: response.status, headers: response.headers, body: parsed, text };
};

/** A small JSON client over fetch: every answer's status, headers and parsed body. */
export const client = (baseUrl: string) => {
  const request = async (
    method: string,
    path: string,
    options: {
      body?: unknown;
      raw?: string;
      token?: string;
      headers?: Record<string, string>;
    } = {},
  ): Promise<JsonAnswer> => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    let body: string | undefined;
    if (options.raw !== undefined) body = options.raw;
    else if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] ??= 'application/json';
    }
    return jsonAnswer(await fetch(`${baseUrl}${path}`, { method, headers, body }));
  };
  return {
    request,
    get: (path: string, options?: Parameters<typeof request>[2]) => request('GET', path, options),
    post: (path: string, body?: unknown, options?: Parameters<typeof request>[2]) =>
      request('POST', path, { ...options, body }),
    patch: (path: string, body?: unknown, options?: Parameters<typeof request>[2]) =>
      request('PATCH', path, { ...options, body }),
    put: (path: string, body?: unknown, options?: Parameters<typeof request>[2]) =>
      request('PUT', path, { ...options, body }),
    delete: (path: string, options?: Parameters<typeof request>[2]) =>
      request('DELETE', path, options),
  };
};

/** Tokens a JWT attacker would try (design §3: HS256 only, exp, iss, aud). */
export const forgedTokens = async (userId: string) => {
  const jwt = (await import('jsonwebtoken')).default;
  const { JWT_AUDIENCE, JWT_ISSUER } = await import('@tasksync/contracts');
  const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const claims = { sub: userId, role: 'admin', iss: JWT_ISSUER, aud: JWT_AUDIENCE };
  return {
    wrongSecret: jwt.sign(claims, 'not-the-secret-not-the-secret-not-the-secret', {
      expiresIn: 600,
    }),
    algNone: `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ ...claims, exp: Math.floor(Date.now() / 1000) + 600 })}.`,
    expired: (secret: string) =>
      jwt.sign({ ...claims, exp: Math.floor(Date.now() / 1000) - 10 }, secret),
    wrongAudience: (secret: string) =>
      jwt.sign({ ...claims, aud: 'someone-else' }, secret, { expiresIn: 600 }),
    noExpiry: (secret: string) => jwt.sign(claims, secret),
  };
};

/** Problem+json answer check: this status and this problem type, with the RFC 9457 fields. */
export const expectProblem = (answer: JsonAnswer, status: number, slug?: string) => {
  expect({ status: answer.status, type: answer.headers.get('content-type') }).toEqual({
    status,
    type: 'application/problem+json; charset=utf-8',
  });
  expect(answer.body).toMatchObject({
    status,
    title: expect.any(String),
    detail: expect.any(String),
  });
  if (slug) expect(answer.body.type).toBe(`urn:tasksync:problem:${slug}`);
};

/** The environment without anything that would point a child at another Redis or port. */
export const cleanEnv = (extra: Record<string, string>): NodeJS.ProcessEnv => {
  const env = { ...process.env };
  for (const name of Object.keys(env)) {
    if (/^(REDIS_|JWT_|ADMIN_|EVENT_PARTITIONS|.*_PORT$|VITEST|NODE_ENV|LOG_LEVEL)/.test(name))
      delete env[name];
  }
  return { ...env, ...extra };
};

/** An aggregate's events (task, project or user) by its key, read as the services read them. */
export const readEventsOf = (redis: RedisClient, aggregateKey: string) =>
  readAggregate(redis, { streamKey: aggregateKey, logKey: logOfAggregateKey(aggregateKey) });

/** Appends a UserRegistered as identity-service does, with optional unique and private keys. */
export const appendUserRegistered = (
  redis: RedisClient,
  keys: KeyLayout,
  user: { userId: string; email: string; role?: Role },
  extra: { unique?: { key: string; value: string }[]; set?: { key: string; value: string }[] } = {},
  layout: StoreLayout = 2,
) =>
  appendToStream(
    redis,
    {
      streamKey: keys.userStream(user.userId),
      logKey: keys.identityLog,
      aggregateId: user.userId,
      expectedRevision: 'none',
      events: [
        {
          id: newId(),
          type: 'UserRegistered',
          data: { email: user.email, name: 'U', role: user.role ?? 'member' },
          at: new Date().toISOString(),
          actor: 'system',
          corr: 'test',
        },
      ],
      ...extra,
    },
    layout,
  );

/** Waits until the read model's checkpoints reach the current head of every log. */
export const waitForCatchUp = async (
  redis: RedisClient,
  keys: KeyLayout,
  db: ReadModelDb,
  timeoutMs = 30_000,
) => {
  const heads = await Promise.all(
    keys.logs().map(async (log) => {
      return [log.name, await readLastEntryId(redis, log.key)] as const;
    }),
  );
  await waitFor(
    () => {
      const applied = new Map(readCheckpoints(db).map((c) => [c.log, c.entry_id]));
      return heads.every(([log, head]) => head === undefined || applied.get(log) === head)
        ? true
        : undefined;
    },
    { timeoutMs, message: 'the read model to catch up with every log' },
  );
};

/**
 * What a test needs to run the services as child processes: a fresh prefix
 * with 2 partitions (4 on the cluster run), free ports, a read model path in a new directory, the
 * environment, and a registered member with a token.
 */
export const serviceEnv = async (redis: RedisClient, extra: Record<string, string> = {}) => {
  const prefix = uniquePrefix();
  const partitions = testPartitions(2);
  const keys = createKeyLayout(prefix, partitions);
  const dir = mkdtempSync(join(tmpdir(), 'services-'));
  const readModelPath = join(dir, 'read-model.sqlite');
  const ports = { command: await freePort(), query: await freePort(), projector: await freePort() };
  const secret = randomBytes(32).toString('base64url');
  const env = cleanEnv({
    ...testRedisEnv(),
    REDIS_PREFIX: prefix,
    EVENT_PARTITIONS: String(partitions),
    NODE_ENV: 'test',
    JWT_SECRET: secret,
    LOG_LEVEL: 'warn',
    COMMAND_PORT: String(ports.command),
    QUERY_PORT: String(ports.query),
    PROJECTOR_PORT: String(ports.projector),
    READ_MODEL_PATH: readModelPath,
    ...extra,
  });
  const userId = newId();
  await appendUserRegistered(redis, keys, { userId, email: `${userId}@example.com` });
  const token = createTokenService({ secret, ttlSeconds: 600 }).sign({
    userId,
    role: 'member',
  }).token;
  const url = (port: number) => `http://127.0.0.1:${port}`;
  return {
    keys,
    dir,
    readModelPath,
    env,
    token,
    urls: { command: url(ports.command), query: url(ports.query), projector: url(ports.projector) },
  };
};

/**
 * A client as the board is one: it reconnects by itself and sends, on every
 * (re)connect, the last position it holds per log (from `live` and every
 * event) as `since`.
 */
export interface FeedEvent {
  position: string;
  type: string;
  aggregateId: string;
}

export const resumingClient = (url: string, token: string) => {
  const received: FeedEvent[] = [];
  const latest = new Map<string, string>();
  const socket: Socket = connectClient(url, {
    transports: ['websocket'],
    reconnectionDelay: 100,
    reconnectionDelayMax: 500,
    auth: (send) => send({ token, since: [...latest.values()].join(',') || undefined }),
  });
  const keep = (positions: string) => {
    for (const position of positions.split(',').filter(Boolean)) {
      latest.set(position.split(':')[0]!, position);
    }
  };
  socket.on('event', (message: FeedEvent) => {
    received.push(message);
    keep(message.position);
  });
  const live = new Promise<void>((resolve) =>
    socket.on('live', ({ position }: { position: string }) => {
      keep(position);
      resolve();
    }),
  );
  return { socket, received, live };
};

/**
 * The processes a test file starts: `start` runs a service and waits until its
 * /ready answers 200 (failing with its output otherwise), `track` keeps any
 * other process, and `stopAll` (for afterAll) stops whatever still runs.
 */
export const testProcesses = () => {
  const running: RunningProcess[] = [];
  const track = (process: RunningProcess) => {
    running.push(process);
    return process;
  };
  return {
    track,
    start: async (entry: string, env: NodeJS.ProcessEnv, url: string) => {
      const process = track(runTs(entry, env));
      if (!(await waitUntilReady(url, process.child))) {
        throw new Error(`${entry} did not become ready:\n${process.output()}`);
      }
      return process;
    },
    stopAll: (signal: NodeJS.Signals = 'SIGTERM') =>
      Promise.all(running.map((process) => process.stop(signal))),
  };
};

/**
 * The whole system as `npm start` runs it, each service a child process of
 * `processes` started once the one before is ready: identity, command,
 * projector, query, notifier and, in front of them, the door (design §12).
 * `extra` adds to the environment (`serviceEnv`; bcrypt's cost is 4 here).
 */
export const startWholeSystem = async (
  redis: RedisClient,
  processes: ReturnType<typeof testProcesses>,
  extra: Record<string, string> = {},
) => {
  const [identityPort, notifierPort, gatewayPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const services = await serviceEnv(redis, {
    IDENTITY_PORT: String(identityPort),
    NOTIFIER_PORT: String(notifierPort),
    GATEWAY_PORT: String(gatewayPort),
    BCRYPT_COST: '4',
    ...extra,
  });
  const url = (port: number) => `http://127.0.0.1:${port}`;
  const urls = {
    ...services.urls,
    identity: url(identityPort),
    notifier: url(notifierPort),
    door: url(gatewayPort),
  };
  const { start } = processes;
  await start('identity-service/src/main.ts', services.env, urls.identity);
  await start('command-service/src/main.ts', services.env, urls.command);
  await start('projector/src/main.ts', services.env, urls.projector);
  await start('query-service/src/main.ts', services.env, urls.query);
  const notifier = await start('notifier/src/main.ts', services.env, urls.notifier);
  await start('gateway/src/main.ts', services.env, urls.door);
  return { ...services, urls, notifier };
};

/**
 * `X-Min-Position` for a read that must see every write of a test: the newest
 * entry id per log (design §2: positions compare within one log only).
 */
export const minPositionHeader = (newestPerLog: ReadonlyMap<string, string>) => ({
  'x-min-position': [...newestPerLog].map(([log, entryId]) => `${log}:${entryId}`).join(','),
});
