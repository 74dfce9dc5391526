import { randomBytes } from 'node:crypto';
import { type KeyLayout, newId, type Role } from '@tasksync/contracts';
import { createMetrics, createTokenService } from '@tasksync/platform';
import { io as connectClient, type Socket } from 'socket.io-client';
import { expect, onTestFinished } from 'vitest';
import { buildIdentityApp } from '../../identity-service/src/app';
import { createPasswordHasher } from '../../identity-service/src/users/passwords';
import { apiSpec } from '../api-spec';
import {
  listenCommandService,
  startNotifier as startInProcess,
  startReadSide,
} from '../in-process';
import {
  appendUserRegistered,
  capturingLogger,
  client,
  connectTestRedis,
  expectProblem,
  type JsonAnswer,
  jsonAnswer,
  listen,
  testKeys,
  waitForCatchUp,
} from '../support';

/*
 * Bad input against every HTTP endpoint of identity-service, command-service
 * and query-service and against the notifier's handshake (design §3, §6, §7):
 * never a 5xx, never internals, every 4xx problem+json, and nothing appended.
 * This module starts each service in this process and says what an answer to
 * bad input must be.
 */

/** The test file's Redis connection; each file quits it in its afterAll. */
export const redis = connectTestRedis();

export const SECRET = randomBytes(32).toString('base64url');
export const tokens = createTokenService({ secret: SECRET, ttlSeconds: 3600 });
/** Well-formed tokens signed with another secret. */
export const forger = createTokenService({ secret: `${SECRET}-forged`, ttlSeconds: 3600 });
export const RUNS = 40;
/** What a stack trace leaves in text: frames, file positions, module paths. */
export const STACK_TRACE =
  /\bat (?:async )?[\w$.<>[\] ]+ \(|\bat (?:file|node):|\.[cm]?[jt]sx?:\d+:\d+|node_modules|&nbsp;at /;

/** Any answer to bad input: below 500, no internals, and a 4xx is RFC 9457 problem+json. */
export const expectSafeAnswer = (answer: JsonAnswer) => {
  expect(answer.status, answer.text).toBeLessThan(500);
  expect(answer.text).not.toMatch(STACK_TRACE);
  if (answer.status >= 400) {
    expectProblem(answer, answer.status);
    expect(answer.body.type).toMatch(/^urn:tasksync:problem:[a-z-]+$/);
  }
};

/** A refusal with exactly this status (and problem type). */
export const expectRefusal = (answer: JsonAnswer, status: number, slug?: string) => {
  expectSafeAnswer(answer);
  expectProblem(answer, status, slug);
};

/** A 400 validation problem whose `errors` name exactly these paths. */
export const expectInvalid = (answer: JsonAnswer, paths: readonly string[]) => {
  expectRefusal(answer, 400, 'validation');
  const named = (answer.body.errors as { path: string; message: string }[]).map((e) => e.path);
  expect(named.sort()).toEqual([...paths].sort());
};
/** Log lines at level error or worse: an unexpected error that bad input must never cause. */
export const errorsLogged = (lines: string[]) =>
  lines.filter((line) => (JSON.parse(line) as { level: number }).level >= 50);

/** A user with a UserRegistered in the identity log and a real signed token. */
export const registeredUser = async (keys: KeyLayout, role: Role = 'member') => {
  const userId = newId();
  await appendUserRegistered(redis, keys, { userId, email: `${userId}@example.com`, role });
  return { userId, role, token: tokens.sign({ userId, role }).token };
};

export interface RawRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | undefined;
  /** Sends the body in pieces without Content-Length (Transfer-Encoding: chunked). */
  chunked?: boolean;
}

/** A request with any body and headers, answered as support's client answers. */
export const sendRaw = async (baseUrl: string, request: RawRequest): Promise<JsonAnswer> => {
  const bytes = request.body === undefined ? undefined : Buffer.from(request.body);
  const body =
    bytes && request.chunked
      ? new ReadableStream<Uint8Array>({
          start(controller) {
            for (let at = 0; at < bytes.length; at += 8_192) {
              controller.enqueue(bytes.subarray(at, at + 8_192));
            }
            controller.close();
          },
        })
      : bytes;
  const init = { method: request.method, headers: request.headers, body, duplex: 'half' };
  return jsonAnswer(await fetch(`${baseUrl}${request.path}`, init as RequestInit));
};
/** identity-service on a fresh prefix, with a member and an admin. */
export const startIdentity = async () => {
  const keys = testKeys();
  const { logger, lines } = capturingLogger('warn');
  const { app } = buildIdentityApp({
    redis,
    keys,
    tokens,
    passwords: await createPasswordHasher(4),
    logger,
    metrics: createMetrics('identity-bad-input'),
    now: () => new Date(),
    newId,
    loginThrottle: { maxFailures: 10, windowSeconds: 900 },
  });
  const server = await listen(app);
  onTestFinished(server.close);
  const [member, admin] = await Promise.all([registeredUser(keys), registeredUser(keys, 'admin')]);
  const api = client(server.url);
  return { api, spec: apiSpec({ redis, keys, api }), url: server.url, keys, member, admin, lines };
};

/** command-service on a fresh prefix, with a creator, an admin and the creator's task. */
export const startCommand = async () => {
  const keys = testKeys();
  const { logger, lines } = capturingLogger('warn');
  const server = await listenCommandService({ redis, keys, tokens, logger });
  onTestFinished(server.close);
  const [creator, admin] = await Promise.all([registeredUser(keys), registeredUser(keys, 'admin')]);
  const api = client(server.url);
  const created = await api.post('/tasks', { title: 'target' }, { token: creator.token });
  expect(created.status).toBe(201);
  const task = created.body as { id: string; revision: number };
  return {
    api,
    spec: apiSpec({ redis, keys, api }),
    url: server.url,
    keys,
    creator,
    admin,
    task,
    lines,
  };
};

/** The read side on a fresh prefix, caught up with one task and its comment. */
export const startQuery = async () => {
  const keys = testKeys();
  const { logger, lines } = capturingLogger('warn');
  const commandServer = await listenCommandService({ redis, keys, tokens, logger });
  const readSide = await startReadSide({ redis, keys, tokens, logger });
  onTestFinished(async () => {
    await readSide.close();
    await commandServer.close();
  });
  const reader = await registeredUser(keys);
  const commands = client(commandServer.url);
  const created = await commands.post('/tasks', { title: 'to read' }, { token: reader.token });
  expect(created.status).toBe(201);
  const comment = await commands.post(
    `/tasks/${created.body.id}/comments`,
    { text: 'hello' },
    { token: reader.token },
  );
  expect(comment.status).toBe(201);
  await waitForCatchUp(redis, keys, readSide.db);
  const api = client(readSide.url);
  return {
    api,
    spec: apiSpec({ redis, keys, api }),
    url: readSide.url,
    keys,
    reader,
    taskId: created.body.id as string,
    reachedPosition: comment.body.position as string,
    lines,
  };
};

/** The notifier on a fresh prefix; `connect` opens a socket that the test's end closes. */
export const startNotifier = async () => {
  const keys = testKeys();
  const { logger, lines } = capturingLogger('warn');
  const notifier = await startInProcess(
    { redis, keys, tokens, logger },
    { origins: ['http://allowed.example'] },
  );
  const sockets: Socket[] = [];
  onTestFinished(async () => {
    for (const socket of sockets) socket.disconnect();
    await notifier.close();
  });
  const { url } = notifier;
  const connect = (auth: unknown, transport: 'websocket' | 'polling' = 'websocket') => {
    const socket = connectClient(url, {
      auth: auth as Record<string, unknown>,
      transports: [transport],
      reconnection: false,
      forceNew: true,
      timeout: 5_000,
    });
    sockets.push(socket);
    return socket;
  };
  return { url, keys, connect, lines };
};
