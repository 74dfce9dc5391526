import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  decodeEvent,
  fieldsToRecord,
  JWT_AUDIENCE,
  JWT_ISSUER,
  newId,
  type StoredEvent,
} from '@tasksync/contracts';
import {
  createLogger,
  createMetrics,
  createTokenService,
  readLastEntryId,
} from '@tasksync/platform';
import jwt from 'jsonwebtoken';
import { io as connectClient, type Socket } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { buildIdentityApp } from '../identity-service/src/app';
import { bootstrapAdmin } from '../identity-service/src/users/bootstrap';
import { createPasswordHasher, type PasswordHasher } from '../identity-service/src/users/passwords';
import type { AssignedNotice, EventMessage } from '../notifier/src/live/messages';
import { buildProjectorApp } from '../projector/src/app';
import { listenCommandService, startNotifier, startReadSide } from './in-process';
import {
  appendUserRegistered,
  client,
  connectTestRedis,
  expectProblem,
  forgedTokens,
  type JsonAnswer,
  listen,
  testKeys,
  waitFor,
} from './support';

/**
 * The OWASP API Security Top 10 (2023), one `describe` per category, proved
 * against every service running in this process: identity-service,
 * command-service, projector + SQLite read model, query-service and the
 * notifier (its board proxy and Socket.IO feed), all on one real Redis, each
 * test on its own key prefix, over real HTTP and Socket.IO.
 */

const FRONTEND = 'http://board.example';
const BCRYPT = /\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}/;
/** What a stack trace or an internal path looks like in an answer. */
const INTERNALS = /\n\s+at |\bat [\w.<>]+ \(|\.[cm]?[jt]s:\d+|node_modules|\/work\/|Error: /;
const PUBLIC_PROFILE = ['createdAt', 'id', 'name', 'role'];
const OWN_PROFILE = ['createdAt', 'email', 'id', 'name', 'role'];

const redis = connectTestRedis();
let passwords: PasswordHasher;
beforeAll(async () => {
  passwords = await createPasswordHasher(4);
});
afterAll(() => redis.quit());

type ServiceName = 'identity' | 'command' | 'query';
type RequestOptions = Parameters<ReturnType<typeof client>['request']>[2];

/** The support client, keeping the text of every answer so a test can scan all it was sent. */
const recordingClient = (baseUrl: string, answers: string[]) => {
  const raw = client(baseUrl);
  const request = async (method: string, path: string, options?: RequestOptions) => {
    const answer = await raw.request(method, path, options);
    answers.push(answer.text);
    return answer;
  };
  return {
    request,
    get: (path: string, options?: RequestOptions) => request('GET', path, options),
    post: (path: string, body?: unknown, options?: RequestOptions) =>
      request('POST', path, { ...options, body }),
    patch: (path: string, body?: unknown, options?: RequestOptions) =>
      request('PATCH', path, { ...options, body }),
    put: (path: string, body?: unknown, options?: RequestOptions) =>
      request('PUT', path, { ...options, body }),
    delete: (path: string, options?: RequestOptions) => request('DELETE', path, options),
  };
};

/** One HTTP request with exactly these bytes as its target and body (fetch would normalise them). */
const rawRequest = (
  baseUrl: string,
  request: {
    method?: string;
    path: string;
    headers?: Record<string, string>;
    body?: string;
    /** Sent in several chunks without Content-Length. */
    chunked?: boolean;
  },
) =>
  new Promise<JsonAnswer>((resolve, reject) => {
    const { hostname, port } = new URL(baseUrl);
    const outgoing = http.request(
      {
        host: hostname,
        port,
        method: request.method ?? 'GET',
        path: request.path,
        headers: request.headers,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const headers = new Headers();
          for (const [name, value] of Object.entries(res.headers)) {
            if (value !== undefined)
              headers.set(name, Array.isArray(value) ? value.join(', ') : value);
          }
          let body: unknown;
          try {
            body = text ? JSON.parse(text) : undefined;
          } catch {
            body = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers, body, text });
        });
      },
    );
    outgoing.on('error', reject);
    if (request.body !== undefined && request.chunked) {
      for (let i = 0; i < request.body.length; i += 16_384) {
        outgoing.write(request.body.slice(i, i + 16_384));
      }
      outgoing.end();
    } else {
      outgoing.end(request.body);
    }
  });

/** Problem+json of this status, and nothing of the server's insides in it. */
const expectSafeProblem = (answer: JsonAnswer, status: number, slug?: string) => {
  expectProblem(answer, status, slug);
  expect(answer.text).not.toMatch(INTERNALS);
};

interface FeedClient {
  socket: Socket;
  events: EventMessage[];
  assigned: AssignedNotice[];
  state: { live: boolean; error?: Error & { data?: { status: number; detail: string } } };
}

/** The whole system in this process, on a fresh key prefix. */
const startSystem = async () => {
  const keys = testKeys(1);
  const secret = randomBytes(32).toString('base64url');
  const tokens = createTokenService({ secret, ttlSeconds: 600 });
  const logger = createLogger({ name: 'security', level: 'silent' });
  const now = () => new Date();
  const answers: string[] = [];
  /** Plain-text passwords and the JWT secret: none may ever be seen outside. */
  const secrets: string[] = [secret];

  const identity = buildIdentityApp({
    redis,
    keys,
    tokens,
    passwords,
    logger,
    metrics: createMetrics('identity'),
    now,
    newId,
    loginThrottle: { maxFailures: 10, windowSeconds: 900 },
  });
  const adminLogin = {
    email: `admin-${randomBytes(4).toString('hex')}@example.com`,
    password: `admin-${randomBytes(8).toString('hex')}`,
  };
  secrets.push(adminLogin.password);
  await bootstrapAdmin({ accounts: identity.accounts, redis, keys, logger }, adminLogin);
  const identityServer = await listen(identity.app);
  const commandServer = await listenCommandService({ redis, keys, tokens, logger });
  const readSide = await startReadSide(
    { redis, keys, tokens, logger },
    { retryDelayMs: 5, maxDeliveries: 2 },
  );
  const { db, readModelPath } = readSide;
  const notifier = await startNotifier(
    { redis, keys, tokens, logger },
    {
      origins: [FRONTEND],
      services: { identity: identityServer.url, command: commandServer.url, query: readSide.url },
    },
  );
  const notifierMetrics = notifier.metrics;
  const urls = {
    identity: identityServer.url,
    command: commandServer.url,
    query: readSide.url,
    notifier: notifier.url,
  };
  const api = {
    identity: recordingClient(urls.identity, answers),
    command: recordingClient(urls.command, answers),
    query: recordingClient(urls.query, answers),
    /** The board's proxy: `/api/<service>/…`. */
    board: recordingClient(urls.notifier, answers),
  };
  const sockets: Socket[] = [];

  const adminAnswer = await api.identity.post('/auth/login', adminLogin);
  expect(adminAnswer.status).toBe(200);
  const admin = {
    userId: adminAnswer.body.user.id as string,
    email: adminLogin.email,
    password: adminLogin.password,
    token: adminAnswer.body.token as string,
  };

  /** Registers a member through identity-service and logs it in. */
  const register = async (label: string) => {
    const email = `${label}-${randomBytes(4).toString('hex')}@example.com`;
    const password = `pw-${randomBytes(8).toString('hex')}`;
    secrets.push(password);
    const registered = await api.identity.post('/auth/register', { email, password, name: label });
    expect(registered.status).toBe(201);
    const login = await api.identity.post('/auth/login', { email, password });
    expect(login.status).toBe(200);
    return {
      userId: registered.body.user.id as string,
      email,
      password,
      name: label,
      token: login.body.token as string,
      position: registered.body.position as string,
      registered,
      login,
    };
  };

  const createTask = async (token: string, body: Record<string, unknown> = {}) => {
    const answer = await api.command.post('/tasks', { title: 'A task', ...body }, { token });
    expect(answer.status).toBe(201);
    return answer.body as { id: string; revision: number; position: string };
  };

  /** Every log's length, and these streams'. */
  const lengths = async (streams: string[] = []) =>
    Object.fromEntries(
      await Promise.all(
        [...keys.logs().map((log) => log.key), ...streams].map(
          async (key) => [key, await redis.xlen(key)] as const,
        ),
      ),
    );
  const expectNothingAppended = async (streams: string[], action: () => Promise<unknown>) => {
    const before = await lengths(streams);
    await action();
    expect(await lengths(streams)).toEqual(before);
  };

  /** Every position of every log, for X-Min-Position. */
  const headPositions = async () =>
    (
      await Promise.all(
        keys.logs().map(async (log) => {
          const last = await readLastEntryId(redis, log.key);
          return last ? `${log.name}:${last}` : undefined;
        }),
      )
    )
      .filter(Boolean)
      .join(',');

  const connectFeed = (
    auth: Record<string, unknown>,
    options: { origin?: string; transports?: ('websocket' | 'polling')[] } = {},
  ): FeedClient => {
    const socket = connectClient(urls.notifier, {
      auth,
      transports: options.transports ?? ['websocket'],
      reconnection: false,
      forceNew: true,
      ...(options.origin ? { extraHeaders: { origin: options.origin } } : {}),
    });
    sockets.push(socket);
    const feedClient: FeedClient = { socket, events: [], assigned: [], state: { live: false } };
    socket.on('event', (message: EventMessage) => feedClient.events.push(message));
    socket.on('assigned', (notice: AssignedNotice) => feedClient.assigned.push(notice));
    socket.on('live', () => {
      feedClient.state.live = true;
    });
    socket.on('connect_error', (error) => {
      feedClient.state.error = error as FeedClient['state']['error'];
    });
    return feedClient;
  };
  const liveFeed = async (token: string) => {
    const feedClient = connectFeed({ token });
    await waitFor(() => (feedClient.state.live ? true : undefined), { message: 'a live feed' });
    return feedClient;
  };
  const refusedFeed = async (
    auth: Record<string, unknown>,
    options: Parameters<typeof connectFeed>[1] = {},
  ) => {
    const feedClient = connectFeed(auth, options);
    const error = await waitFor(
      () => feedClient.state.error ?? (feedClient.state.live ? null : undefined),
      {
        message: 'a refused handshake',
      },
    );
    expect(error, 'the handshake was accepted').not.toBeNull();
    return error!;
  };

  const stop = async () => {
    for (const socket of sockets) socket.disconnect();
    await notifier.close();
    await readSide.close();
    await commandServer.close();
    await identityServer.close();
  };

  return {
    keys,
    secret,
    tokens,
    db,
    readModelPath,
    urls,
    api,
    admin,
    answers,
    secrets,
    notifierMetrics,
    register,
    createTask,
    lengths,
    expectNothingAppended,
    headPositions,
    connectFeed,
    liveFeed,
    refusedFeed,
    stop,
  };
};
type System = Awaited<ReturnType<typeof startSystem>>;
type Member = Awaited<ReturnType<System['register']>>;

let sys: System;
beforeEach(async () => {
  sys = await startSystem();
});
afterEach(async () => {
  await sys.stop();
});

const eventsOf = async (streamKey: string): Promise<StoredEvent[]> =>
  ((await redis.xrange(streamKey, '-', '+')) as [string, string[]][]).map(([id, fields]) =>
    decodeEvent(id, fieldsToRecord(fields)),
  );

interface DocumentedRoute {
  service: ServiceName;
  method: string;
  path: string;
  auth: boolean;
}
const routeLabel = (route: DocumentedRoute) => `${route.service} ${route.method} ${route.path}`;

/** Every route the three API services document in their /openapi.json. */
const documentedRoutes = async () => {
  const routes: DocumentedRoute[] = [];
  for (const service of ['identity', 'command', 'query'] as const) {
    const answer = await sys.api[service].get('/openapi.json');
    expect(answer.status).toBe(200);
    const paths = answer.body.paths as Record<string, Record<string, { security?: unknown[] }>>;
    for (const [path, operations] of Object.entries(paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        routes.push({
          service,
          method: method.toUpperCase(),
          path,
          auth: Array.isArray(operation.security),
        });
      }
    }
  }
  return routes;
};

const concretePath = (path: string, ids: { task: string; user: string }) => {
  const concrete = path.replace(/\{id\}/, path.startsWith('/users') ? ids.user : ids.task);
  expect(concrete).not.toContain('{');
  return concrete;
};

/** A valid body for each documented write, so that only the token can be what is refused. */
const VALID_BODIES: Record<string, unknown> = {
  'POST /tasks': { title: 'through the gate' },
  'PATCH /tasks/{id}': { title: 'through the gate' },
  'PUT /tasks/{id}': { title: 'through the gate' },
  'POST /tasks/{id}/comments': { text: 'through the gate' },
  'PATCH /users/{id}/role': { role: 'admin' },
};

/** What a JWT attacker sends (design §3: HS256 only, exp required, iss and aud checked). */
const tokenAttacks = async (member: Member, secret: string) => {
  const forged = await forgedTokens(member.userId);
  const claims = { sub: member.userId, role: 'admin', iss: JWT_ISSUER, aud: JWT_AUDIENCE };
  const signed = (extra: object, options: jwt.SignOptions = { expiresIn: 600 }) =>
    jwt.sign({ ...claims, ...extra }, secret, options);
  // The member's own valid token with its payload rewritten to say admin.
  const [header, payload, signature] = member.token.split('.') as [string, string, string];
  const escalated = Buffer.from(
    JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), role: 'admin' }),
  ).toString('base64url');
  const invalid = 'The token is not valid.';
  const lacking = 'The token lacks required claims.';
  return [
    { name: 'no token', detail: 'Send Authorization: Bearer <token>.' },
    {
      name: 'not a Bearer token',
      authorization: `Basic ${Buffer.from('admin:admin').toString('base64')}`,
      detail: 'The Authorization header is not a Bearer token.',
    },
    { name: 'not a JWT', token: 'not-a-jwt', detail: invalid },
    { name: 'alg:none', token: forged.algNone, detail: invalid },
    { name: 'wrong secret', token: forged.wrongSecret, detail: invalid },
    { name: 'expired', token: forged.expired(secret), detail: 'The token has expired.' },
    { name: 'wrong iss', token: signed({ iss: 'someone-else' }), detail: invalid },
    { name: 'wrong aud', token: forged.wrongAudience(secret), detail: invalid },
    { name: 'no exp', token: forged.noExpiry(secret), detail: lacking },
    { name: 'HS512', token: signed({}, { algorithm: 'HS512', expiresIn: 600 }), detail: invalid },
    { name: 'unknown role', token: signed({ role: 'root' }), detail: lacking },
    { name: 'sub not a user id', token: signed({ sub: 'root' }), detail: lacking },
    { name: 'payload rewritten', token: `${header}.${escalated}.${signature}`, detail: invalid },
  ] as { name: string; token?: string; authorization?: string; detail: string }[];
};

describe('API1 broken object level authorization', () => {
  it('has exactly these routes that take an object id, each one covered below', async () => {
    const withId = (await documentedRoutes()).filter((route) => route.path.includes('{id}'));
    expect(withId.map(routeLabel).sort()).toEqual([
      'command DELETE /tasks/{id}',
      'command PATCH /tasks/{id}',
      'command POST /tasks/{id}/comments',
      'command PUT /tasks/{id}',
      'identity PATCH /users/{id}/role',
      'query GET /tasks/{id}',
      'query GET /tasks/{id}/history',
      'query GET /users/{id}',
    ]);
  });

  it('refuses PATCH, PUT and DELETE of another member’s task with 403 and appends nothing', async () => {
    const [owner, assignee, stranger] = [
      await sys.register('owner'),
      await sys.register('assignee'),
      await sys.register('stranger'),
    ];
    const task = await sys.createTask(owner.token, { assigneeId: assignee.userId });
    const path = `/tasks/${task.id}`;
    const attempts: [string, Member, unknown, Record<string, string>?][] = [
      ['PATCH', stranger, { title: 'mine now' }],
      ['PATCH', stranger, { assigneeId: stranger.userId }],
      ['PATCH', stranger, { status: 'in-progress' }],
      ['PATCH', stranger, { title: 'with the right ETag' }, { 'if-match': '"0"' }],
      ['PATCH', stranger, { title: 'with a key' }, { 'idempotency-key': 'bola-1' }],
      ['PUT', stranger, { title: 'replaced' }],
      ['DELETE', stranger, undefined],
      ['DELETE', stranger, undefined, { 'if-match': '"0"' }],
      // The assignee may change the task, but only its creator or an admin may delete it.
      ['DELETE', assignee, undefined],
    ];
    await sys.expectNothingAppended([sys.keys.taskStream(task.id)], async () => {
      for (const [method, who, body, headers] of attempts) {
        for (const api of [sys.api.command, sys.api.board]) {
          const prefix = api === sys.api.board ? '/api/command' : '';
          const answer = await api.request(method, `${prefix}${path}`, {
            token: who.token,
            body,
            ...(headers ? { headers } : {}),
          });
          expectProblem(answer, 403, 'forbidden');
        }
      }
    });
    // The same requests from those who may: the refusals above were about who asked.
    expect(
      (await sys.api.command.patch(path, { title: 'x' }, { token: assignee.token })).status,
    ).toBe(200);
    expect((await sys.api.command.delete(path, { token: owner.token })).status).toBe(204);
  });

  it('never hands another member the stored answer of an Idempotency-Key the owner used', async () => {
    const [owner, stranger] = [await sys.register('owner'), await sys.register('stranger')];
    const task = await sys.createTask(owner.token);
    const request = (who: Member) =>
      sys.api.command.patch(
        `/tasks/${task.id}`,
        { priority: 'urgent' },
        { token: who.token, headers: { 'idempotency-key': 'shared-key' } },
      );
    expect((await request(owner)).status).toBe(200);
    await sys.expectNothingAppended([sys.keys.taskStream(task.id)], async () => {
      const replayed = await request(stranger);
      expectProblem(replayed, 403, 'forbidden');
      expect(replayed.headers.get('idempotent-replayed')).toBeNull();
    });
  });

  it('lets any member comment on any task (design §3: "user"), but only as itself', async () => {
    const [owner, stranger] = [await sys.register('owner'), await sys.register('stranger')];
    const task = await sys.createTask(owner.token);
    const stream = sys.keys.taskStream(task.id);
    await sys.expectNothingAppended([stream], async () => {
      for (const smuggled of [{ authorId: owner.userId }, { actor: owner.userId }]) {
        expectProblem(
          await sys.api.command.post(
            `/tasks/${task.id}/comments`,
            { text: 'as the owner', ...smuggled },
            { token: stranger.token },
          ),
          400,
          'validation',
        );
      }
    });
    const comment = await sys.api.command.post(
      `/tasks/${task.id}/comments`,
      { text: 'from a stranger' },
      { token: stranger.token },
    );
    expect(comment.status).toBe(201);
    const events = await eventsOf(stream);
    expect(events.map((e) => [e.type, e.actor, e.data])).toEqual([
      ['TaskCreated', owner.userId, expect.objectContaining({ createdBy: owner.userId })],
      [
        'CommentAdded',
        stranger.userId,
        { commentId: comment.body.commentId, text: 'from a stranger', authorId: stranger.userId },
      ],
    ]);
  });

  it('refuses a member changing another user’s role (PATCH /users/:id/role) with 403 and appends nothing', async () => {
    const [member, other] = [await sys.register('member'), await sys.register('other')];
    await sys.expectNothingAppended([sys.keys.userStream(other.userId)], async () => {
      for (const role of ['member', 'admin']) {
        expectProblem(
          await sys.api.identity.patch(
            `/users/${other.userId}/role`,
            { role },
            { token: member.token },
          ),
          403,
          'forbidden',
        );
        expectProblem(
          await sys.api.identity.patch(
            `/users/${sys.admin.userId}/role`,
            { role },
            { token: member.token },
          ),
          403,
          'forbidden',
        );
      }
    });
  });

  it('shares every task with every member to read (design §6–7: one board), but not another user’s e-mail', async () => {
    const [owner, stranger] = [await sys.register('owner'), await sys.register('stranger')];
    const task = await sys.createTask(owner.token, { title: 'Shared' });
    const changed = await sys.api.command.patch(
      `/tasks/${task.id}`,
      { status: 'in-progress' },
      { token: owner.token },
    );
    expect(changed.status).toBe(200);
    const after = { 'x-min-position': await sys.headPositions() };
    const read = (path: string, who: { token: string }) =>
      sys.api.query.get(path, { token: who.token, headers: after });
    for (const path of [
      `/tasks/${task.id}`,
      `/tasks/${task.id}/history`,
      `/tasks/${task.id}?asOf=${task.position}`,
    ]) {
      const [asOwner, asStranger] = [await read(path, owner), await read(path, stranger)];
      expect(asStranger.status).toBe(200);
      expect(asStranger.body).toEqual(asOwner.body);
    }
    const profile = (who: { token: string }, of: Member) =>
      read(`/users/${of.userId}`, who).then((answer) => answer.body.user);
    expect(await profile(stranger, owner)).toEqual({
      id: owner.userId,
      name: 'owner',
      role: 'member',
      createdAt: expect.any(String),
    });
    expect(await profile(owner, owner)).toEqual({
      id: owner.userId,
      name: 'owner',
      role: 'member',
      createdAt: expect.any(String),
      email: owner.email,
    });
    expect((await profile(sys.admin, owner)).email).toBe(owner.email);
    for (const path of [`/tasks/${newId()}`, `/users/${newId()}`, '/users/not-an-id', '/tasks/1']) {
      expectProblem(await read(path, stranger), 404, 'not-found');
    }
  });

  it('sends an assigned notice to the assignee only, not to other members on the feed', async () => {
    const [owner, assignee, stranger] = [
      await sys.register('owner'),
      await sys.register('assignee'),
      await sys.register('stranger'),
    ];
    const [assigneeFeed, strangerFeed] = [
      await sys.liveFeed(assignee.token),
      await sys.liveFeed(stranger.token),
    ];
    const task = await sys.createTask(owner.token);
    await sys.api.command.patch(
      `/tasks/${task.id}`,
      { assigneeId: assignee.userId },
      { token: owner.token },
    );
    for (const feedClient of [assigneeFeed, strangerFeed]) {
      await waitFor(() => feedClient.events.find((e) => e.type === 'TaskAssigned'));
    }
    await waitFor(() => assigneeFeed.assigned[0]);
    expect(assigneeFeed.assigned.map((notice) => notice.taskId)).toEqual([task.id]);
    expect(strangerFeed.assigned).toEqual([]);
  });
});

describe('API2 broken authentication', () => {
  it('refuses forged, expired and missing tokens on every authenticated route of every service, directly and through the board proxy', async () => {
    const member = await sys.register('member');
    const task = await sys.createTask(member.token);
    const routes = (await documentedRoutes()).filter((route) => route.auth);
    expect(routes.map(routeLabel).sort()).toEqual([
      'command DELETE /tasks/{id}',
      'command PATCH /tasks/{id}',
      'command POST /tasks',
      'command POST /tasks/{id}/comments',
      'command PUT /tasks/{id}',
      'identity GET /users/me',
      'identity GET /users/profile',
      'identity PATCH /users/{id}/role',
      'query GET /stats',
      'query GET /tasks',
      'query GET /tasks/{id}',
      'query GET /tasks/{id}/history',
      'query GET /users',
      'query GET /users/{id}',
    ]);
    const attacks = await tokenAttacks(member, sys.secret);
    const ids = { task: task.id, user: member.userId };
    const streams = [sys.keys.taskStream(task.id), sys.keys.userStream(member.userId)];
    await sys.expectNothingAppended(streams, async () => {
      for (const route of routes) {
        const path = concretePath(route.path, ids);
        const body = VALID_BODIES[`${route.method} ${route.path}`];
        const targets = [
          { api: sys.api[route.service], path },
          { api: sys.api.board, path: `/api/${route.service}${path}` },
        ];
        await Promise.all(
          attacks.flatMap((attack) =>
            targets.map(async (target) => {
              const authorization =
                attack.authorization ?? (attack.token ? `Bearer ${attack.token}` : undefined);
              const answer = await target.api.request(route.method, target.path, {
                body,
                headers: authorization ? { authorization } : {},
              });
              expect({
                route: routeLabel(route),
                via: target.path,
                attack: attack.name,
                status: answer.status,
              }).toEqual({
                route: routeLabel(route),
                via: target.path,
                attack: attack.name,
                status: 401,
              });
              expectProblem(answer, 401, 'unauthorized');
              expect(answer.body.detail).toBe(attack.detail);
              expect(answer.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
            }),
          ),
        );
      }
    });
    // A valid token opens each of those routes: what was refused above was the token alone.
    const deleteLast = [...routes].sort(
      (a, b) => Number(a.method === 'DELETE') - Number(b.method === 'DELETE'),
    );
    for (const route of deleteLast) {
      const answer = await sys.api[route.service].request(
        route.method,
        concretePath(route.path, ids),
        {
          token: sys.admin.token,
          body: VALID_BODIES[`${route.method} ${route.path}`],
          headers: { 'x-min-position': await sys.headPositions() },
        },
      );
      expect({ route: routeLabel(route), ok: answer.status < 300 }).toEqual({
        route: routeLabel(route),
        ok: true,
      });
    }
  });

  it('refuses the same tokens at the Socket.IO handshake with connect_error 401', async () => {
    const member = await sys.register('member');
    for (const attack of await tokenAttacks(member, sys.secret)) {
      if (attack.authorization) continue;
      const error = await sys.refusedFeed(attack.token ? { token: attack.token } : {});
      expect({ attack: attack.name, message: error.message, data: error.data }).toEqual({
        attack: attack.name,
        message: 'unauthorized',
        data: {
          status: 401,
          detail: attack.token ? attack.detail : 'Send a token: io(url, { auth: { token } }).',
        },
      });
    }
    await sys.liveFeed(member.token);
  });

  it('throttles one e-mail after 10 failed logins: 429 with Retry-After, the right password too, whatever its spelling or route', async () => {
    const target = await sys.register('target');
    const spellings = [target.email, target.email.toUpperCase(), `  ${target.email} `];
    for (let i = 0; i < 10; i++) {
      const route = i % 2 ? '/users/login' : '/auth/login';
      expectProblem(
        await sys.api.identity.post(route, {
          email: spellings[i % spellings.length],
          password: `wrong-guess-${i}`,
        }),
        401,
        'unauthorized',
      );
    }
    for (const [route, password] of [
      ['/auth/login', target.password],
      ['/users/login', target.password],
      ['/auth/login', 'wrong-guess-10'],
    ] as const) {
      const refused = await sys.api.identity.post(route, { email: target.email, password });
      expectProblem(refused, 429, 'too-many-requests');
      const retryAfter = Number(refused.headers.get('retry-after'));
      expect(Number.isInteger(retryAfter) && retryAfter > 0 && retryAfter <= 900).toBe(true);
      expect(refused.body.token).toBeUndefined();
    }
    // Another e-mail is not held hostage by the throttle.
    const bystander = await sys.register('bystander');
    expect(
      (
        await sys.api.identity.post('/auth/login', {
          email: bystander.email,
          password: bystander.password,
        })
      ).status,
    ).toBe(200);
  });

  it('answers an unknown e-mail and a wrong password with the same 401', async () => {
    const known = await sys.register('known');
    const wrongPassword = await sys.api.identity.post('/auth/login', {
      email: known.email,
      password: 'not-the-password',
    });
    const unknownEmail = await sys.api.identity.post('/auth/login', {
      email: `nobody-${randomBytes(4).toString('hex')}@example.com`,
      password: 'not-the-password',
    });
    expectProblem(wrongPassword, 401, 'unauthorized');
    const seen = (answer: JsonAnswer) => ({
      status: answer.status,
      type: answer.headers.get('content-type'),
      authenticate: answer.headers.get('www-authenticate'),
      body: answer.body,
      text: answer.text,
    });
    expect(seen(unknownEmail)).toEqual(seen(wrongPassword));
  });
});

describe('API3 broken object property level authorization', () => {
  it('refuses role and other server-owned fields on register, login and role change with 400, appending nothing', async () => {
    const member = await sys.register('member');
    await sys.expectNothingAppended([sys.keys.userStream(member.userId)], async () => {
      const smuggled: Record<string, unknown>[] = [
        { role: 'admin' },
        { role: 'member' },
        { id: newId() },
        { createdAt: '2000-01-01T00:00:00.000Z' },
        { revision: 9 },
        { passwordHash: '$2b$04$abcdefghijklmnopqrstuuK2jvFL6D8l8p1KcWbtsV8WPbG8VDeKm' },
      ];
      for (const [i, extra] of smuggled.entries()) {
        const email = `mass-${i}-${randomBytes(3).toString('hex')}@example.com`;
        for (const route of ['/auth/register', '/users/register']) {
          const answer = await sys.api.identity.post(route, {
            email,
            password: 'long-enough-password',
            ...extra,
          });
          expectProblem(answer, 400, 'validation');
          expect(JSON.stringify(answer.body.errors)).toContain(Object.keys(extra)[0]);
        }
        expect(await redis.exists(sys.keys.email(email))).toBe(0);
      }
      // The same through JSON's own back door: a "__proto__" key.
      expectProblem(
        await sys.api.identity.request('POST', '/auth/register', {
          raw: `{"email":"proto-${randomBytes(3).toString('hex')}@example.com","password":"long-enough-password","__proto__":{"role":"admin"}}`,
          headers: { 'content-type': 'application/json' },
        }),
        400,
        'validation',
      );
      expectProblem(
        await sys.api.identity.post('/auth/login', {
          email: member.email,
          password: member.password,
          role: 'admin',
        }),
        400,
        'validation',
      );
      expectProblem(
        await sys.api.identity.patch(
          `/users/${member.userId}/role`,
          { role: 'admin', userId: sys.admin.userId },
          { token: sys.admin.token },
        ),
        400,
        'validation',
      );
    });
  });

  it('refuses createdBy, revision, id and other server-owned task fields on create, PATCH, PUT and comments with 400, appending nothing', async () => {
    const [owner, other] = [await sys.register('owner'), await sys.register('other')];
    const task = await sys.createTask(owner.token);
    const serverOwned: Record<string, unknown> = {
      createdBy: other.userId,
      revision: 7,
      id: newId(),
      deleted: true,
      commentCount: 3,
      createdAt: '2000-01-01T00:00:00.000Z',
      updatedAt: '2000-01-01T00:00:00.000Z',
      comments: [],
    };
    await sys.expectNothingAppended([sys.keys.taskStream(task.id)], async () => {
      for (const [field, value] of Object.entries(serverOwned)) {
        for (const [method, path, body] of [
          ['POST', '/tasks', { title: 'smuggler', [field]: value }],
          ['PATCH', `/tasks/${task.id}`, { [field]: value }],
          ['PATCH', `/tasks/${task.id}`, { title: 'innocent', [field]: value }],
          ['PUT', `/tasks/${task.id}`, { [field]: value }],
        ] as const) {
          const answer = await sys.api.command.request(method, path, { token: owner.token, body });
          expectProblem(answer, 400, 'validation');
          expect(JSON.stringify(answer.body.errors)).toContain(field);
        }
      }
      for (const extra of [
        { authorId: other.userId },
        { commentId: newId() },
        { createdAt: 'x' },
      ]) {
        expectProblem(
          await sys.api.command.post(
            `/tasks/${task.id}/comments`,
            { text: 'hi', ...extra },
            { token: owner.token },
          ),
          400,
          'validation',
        );
      }
    });
  });

  it('shows an e-mail only to its owner and to admins, on every endpoint that returns a user and in the live feed', async () => {
    const [alice, bob] = [await sys.register('alice'), await sys.register('bob')];
    const board = await sys.liveFeed(bob.token);
    const carol = await sys.register('carol');
    const keysOf = (profile: object) => Object.keys(profile).sort();
    // Her own answers: register, login, /users/me and its alias.
    expect(carol.registered.body.user).toEqual({
      id: carol.userId,
      name: 'carol',
      role: 'member',
      createdAt: expect.any(String),
      email: carol.email,
    });
    expect(carol.login.body.user).toEqual(carol.registered.body.user);
    for (const path of ['/users/me', '/users/profile']) {
      expect((await sys.api.identity.get(path, { token: carol.token })).body).toEqual({
        user: carol.registered.body.user,
      });
    }
    const changed = await sys.api.identity.patch(
      `/users/${carol.userId}/role`,
      { role: 'member' },
      { token: sys.admin.token },
    );
    expect(changed.body.user.email).toBe(carol.email);

    const task = await sys.createTask(alice.token, { assigneeId: carol.userId });
    const comment = await sys.api.command.post(
      `/tasks/${task.id}/comments`,
      { text: 'hello' },
      { token: carol.token },
    );
    const after = { 'x-min-position': await sys.headPositions() };
    const list = await sys.api.query.get('/users?limit=200', { token: bob.token, headers: after });
    expect(list.body.items).toHaveLength(4);
    for (const profile of list.body.items as { id: string; email?: string }[]) {
      if (profile.id === bob.userId) {
        expect(keysOf(profile)).toEqual(OWN_PROFILE);
        expect(profile.email).toBe(bob.email);
      } else {
        expect(keysOf(profile)).toEqual(PUBLIC_PROFILE);
      }
    }
    const asAdmin = await sys.api.query.get('/users?limit=200', {
      token: sys.admin.token,
      headers: after,
    });
    expect(asAdmin.body.items.map(keysOf)).toEqual(Array(4).fill(OWN_PROFILE));
    expect(
      keysOf((await sys.api.query.get(`/users/${carol.userId}`, { token: bob.token })).body.user),
    ).toEqual(PUBLIC_PROFILE);
    // Tasks, comments and history name users by id only.
    const emails = [alice.email, bob.email, carol.email, sys.admin.email];
    for (const path of [`/tasks/${task.id}`, `/tasks/${task.id}/history`, '/tasks', '/stats']) {
      const answer = await sys.api.query.get(path, { token: bob.token, headers: after });
      expect(answer.status).toBe(200);
      for (const email of emails) expect(answer.text).not.toContain(email);
    }
    // The feed has no per-reader view: a UserRegistered goes out as a public profile.
    const registered = await waitFor(() =>
      board.events.find((e) => e.type === 'UserRegistered' && e.aggregateId === carol.userId),
    );
    expect(registered.data).toEqual({ name: 'carol', role: 'member' });
    await waitFor(() => board.events.find((e) => e.position === comment.body.position));
    for (const email of emails) expect(JSON.stringify(board.events)).not.toContain(email);
  });

  it('never lets a password, its hash or the JWT secret out: not in answers, events, the feed or the read model', async () => {
    const [alice, bob] = [await sys.register('alice'), await sys.register('bob')];
    const board = await sys.liveFeed(alice.token);
    const carol = await sys.register('carol');
    await sys.api.identity.patch(
      `/users/${bob.userId}/role`,
      { role: 'admin' },
      { token: sys.admin.token },
    );
    await sys.api.identity.post('/auth/login', { email: bob.email, password: 'wrong-password' });
    const task = await sys.createTask(alice.token, { assigneeId: carol.userId });
    await sys.api.command.post(`/tasks/${task.id}/comments`, { text: 'hi' }, { token: bob.token });
    const after = { 'x-min-position': await sys.headPositions() };
    for (const who of [alice, bob, carol, sys.admin]) {
      await sys.api.identity.get('/users/me', { token: who.token });
      await sys.api.query.get('/users', { token: who.token, headers: after });
      await sys.api.query.get(`/users/${who.userId}`, { token: who.token });
    }
    await sys.api.query.get(`/tasks/${task.id}/history`, { token: bob.token });
    await waitFor(() => board.events.find((e) => e.type === 'CommentAdded'));

    // The hashes exist (so the scans below can find them), but only under the private keys.
    for (const who of [alice, bob, carol, sys.admin]) {
      expect(await redis.get(sys.keys.credentials(who.userId))).toMatch(BCRYPT);
    }
    const leaks = (label: string, text: string) => [
      ...(BCRYPT.test(text) ? [`${label}: a bcrypt hash`] : []),
      ...sys.secrets.filter((secret) => text.includes(secret)).map(() => `${label}: a secret`),
    ];
    expect(sys.answers.length).toBeGreaterThan(20);
    const found = sys.answers.flatMap((text, i) => leaks(`answer ${i}`, text));
    found.push(...leaks('feed', JSON.stringify(board.events)));
    // Every stream the test wrote to: the logs, and each user's and the task's own.
    const streams = [
      ...sys.keys.logs().map((log) => log.key),
      ...[alice, bob, carol, sys.admin].map((who) => sys.keys.userStream(who.userId)),
      sys.keys.taskStream(task.id),
    ];
    for (const stream of streams) {
      const entries = (await redis.xrange(stream, '-', '+')) as [string, string[]][];
      // Every stream but a task log the test's few tasks did not hash to.
      if (!sys.keys.logs().some((log) => log.key === stream && log.name !== 'id'))
        expect(entries.length, stream).toBeGreaterThan(0);
      found.push(...leaks(stream, JSON.stringify(entries)));
    }
    for (const file of [sys.readModelPath, `${sys.readModelPath}-wal`]) {
      if (existsSync(file)) found.push(...leaks(file, readFileSync(file).toString('latin1')));
    }
    const userColumns = (
      sys.db.prepare('PRAGMA table_info(users)').all() as { name: string }[]
    ).map((c) => c.name);
    expect(userColumns.filter((name) => /pass|hash|secret|cred/i.test(name))).toEqual([]);
    expect(found).toEqual([]);
  });
});

describe('API4 unrestricted resource consumption', () => {
  /** A JSON body of exactly `size` bytes, padded in `field`. */
  const bodyOf = (size: number, fields: Record<string, unknown>, field: string) => {
    const bare = JSON.stringify({ ...fields, [field]: '' });
    const body = JSON.stringify({ ...fields, [field]: 'x'.repeat(size - Buffer.byteLength(bare)) });
    expect(Buffer.byteLength(body)).toBe(size);
    return body;
  };

  it('answers 413 for a body over 100 kB on every write, with or without Content-Length, and through the proxy, appending nothing', async () => {
    const member = await sys.register('member');
    const task = await sys.createTask(member.token);
    const writes: [ServiceName, string, string, Record<string, unknown>, string, string?][] = [
      [
        'identity',
        'POST',
        '/auth/register',
        { email: 'big@example.com', password: 'long-enough' },
        'name',
      ],
      ['identity', 'POST', '/auth/login', { email: member.email }, 'password'],
      ['identity', 'PATCH', `/users/${member.userId}/role`, {}, 'role', sys.admin.token],
      ['command', 'POST', '/tasks', { title: 'big' }, 'description', member.token],
      ['command', 'PATCH', `/tasks/${task.id}`, {}, 'description', member.token],
      ['command', 'PUT', `/tasks/${task.id}`, {}, 'description', member.token],
      ['command', 'POST', `/tasks/${task.id}/comments`, {}, 'text', member.token],
    ];
    const streams = [sys.keys.taskStream(task.id), sys.keys.userStream(member.userId)];
    await sys.expectNothingAppended(streams, async () => {
      for (const [service, method, path, fields, field, token] of writes) {
        for (const [base, prefix] of [
          [sys.urls[service], ''],
          [sys.urls.notifier, `/api/${service}`],
        ] as const) {
          const send = (size: number, chunked = false) =>
            rawRequest(base, {
              method,
              path: `${prefix}${path}`,
              headers: {
                'content-type': 'application/json',
                ...(token ? { authorization: `Bearer ${token}` } : {}),
              },
              body: bodyOf(size, fields, field),
              chunked,
            });
          expectSafeProblem(await send(102_401), 413, 'payload-too-large');
          expectSafeProblem(await send(102_401, true), 413, 'payload-too-large');
          expectSafeProblem(await send(2_000_000, true), 413, 'payload-too-large');
          // At the limit the body is read, and refused by its schema instead.
          expectSafeProblem(await send(102_400), 400, 'validation');
        }
      }
    });
    // The login throttle counted none of those: the body was refused before the login.
    expect(
      (
        await sys.api.identity.post('/auth/login', {
          email: member.email,
          password: member.password,
        })
      ).status,
    ).toBe(200);
  });

  it('caps page sizes: 1 to 200 on every list, 50 by default', async () => {
    const member = await sys.register('pager');
    const label = `page-${randomBytes(3).toString('hex')}`;
    const tasks = await Promise.all(
      Array.from({ length: 51 }, (_, i) =>
        sys.createTask(member.token, { title: `t${i}`, labels: [label] }),
      ),
    );
    await Promise.all(
      Array.from({ length: 51 }, () => {
        const userId = newId();
        return appendUserRegistered(redis, sys.keys, { userId, email: `${userId}@example.com` });
      }),
    );
    const after = { 'x-min-position': await sys.headPositions() };
    const get = (path: string) => sys.api.query.get(path, { token: member.token, headers: after });
    const firstPage = await get(`/tasks?label=${label}`);
    expect(firstPage.body.items).toHaveLength(50);
    const secondPage = await get(`/tasks?label=${label}&cursor=${firstPage.body.nextCursor}`);
    expect(secondPage.body).toEqual({ items: [expect.any(Object)], nextCursor: null });
    expect((await get(`/tasks?label=${label}&limit=200`)).body.items).toHaveLength(51);
    const users = await get('/users');
    expect(users.body.items).toHaveLength(50);
    expect(users.body.nextCursor).toEqual(expect.any(String));
    for (const list of ['/tasks', '/users', `/tasks/${tasks[0]!.id}/history`]) {
      expect((await get(`${list}?limit=200`)).status).toBe(200);
      for (const limit of ['0', '201', '-1', '1000000', 'all', '1e3', '']) {
        expectSafeProblem(await get(`${list}?limit=${limit}`), 400, 'validation');
      }
    }
  });

  it('caps how long a read waits, how big a position list and a Socket.IO handshake may be', async () => {
    const member = await sys.register('member');
    const read = (headers: Record<string, string>) =>
      sys.api.query.get('/tasks', { token: member.token, headers });
    const position = await sys.headPositions();
    for (const wait of ['10001', '-1', '1e9', 'forever']) {
      expectSafeProblem(await read({ 'x-min-position': position, 'x-max-wait-ms': wait }), 400);
    }
    expect((await read({ 'x-min-position': position, 'x-max-wait-ms': '10000' })).status).toBe(200);
    expectSafeProblem(await read({ 'x-min-position': `${'t0:1-0,'.repeat(600)}t0:1-0` }), 400);

    const tooMany = await sys.refusedFeed({
      token: member.token,
      tasks: Array.from({ length: 101 }, () => newId()),
    });
    expect({ message: tooMany.message, status: tooMany.data?.status }).toEqual({
      message: 'bad-handshake',
      status: 400,
    });
    expect(tooMany.data?.detail).toMatch(/^tasks: /);
    const hugeToken = await sys.refusedFeed({ token: 'x'.repeat(8_193) });
    expect({ message: hugeToken.message, status: hugeToken.data?.status }).toEqual({
      message: 'bad-handshake',
      status: 400,
    });
    expect(hugeToken.data?.detail).toMatch(/^token: /);
  });

  it('cuts a WebSocket that sends a frame over 16 KB and refuses such a polling POST with 413', async () => {
    const member = await sys.register('member');
    const feedClient = await sys.liveFeed(member.token);
    feedClient.socket.emit('anything', 'x'.repeat(15_000));
    const task = await sys.createTask(member.token);
    await waitFor(() => feedClient.events.find((e) => e.aggregateId === task.id));
    expect(feedClient.socket.connected).toBe(true);
    const cut = new Promise((resolve) => feedClient.socket.once('disconnect', resolve));
    feedClient.socket.emit('anything', 'x'.repeat(17_000));
    expect(await cut).toBe('transport close');

    const open = await rawRequest(sys.urls.notifier, {
      path: '/socket.io/?EIO=4&transport=polling',
    });
    expect(open.status).toBe(200);
    const { sid, maxPayload } = JSON.parse(open.text.slice(1)) as {
      sid: string;
      maxPayload: number;
    };
    expect(maxPayload).toBe(16_384);
    const post = (body: string) =>
      rawRequest(sys.urls.notifier, {
        method: 'POST',
        path: `/socket.io/?EIO=4&transport=polling&sid=${sid}`,
        headers: { 'content-type': 'text/plain;charset=UTF-8' },
        body,
      });
    expect((await post(`4${'x'.repeat(16_384)}`)).status).toBe(413);
  });
});

describe('API5 broken function level authorization', () => {
  it('lets only admins change roles: a member is 403 and appends nothing, an admin is 200 with one UserRoleChanged', async () => {
    const [member, other] = [await sys.register('member'), await sys.register('other')];
    const streams = [sys.keys.userStream(member.userId), sys.keys.userStream(other.userId)];
    await sys.expectNothingAppended(streams, async () => {
      for (const [target, role] of [
        [member, 'admin'],
        [other, 'admin'],
        [other, 'member'],
      ] as const) {
        for (const [api, prefix] of [
          [sys.api.identity, ''],
          [sys.api.board, '/api/identity'],
        ] as const) {
          expectProblem(
            await api.patch(
              `${prefix}/users/${target.userId}/role`,
              { role },
              { token: member.token },
            ),
            403,
            'forbidden',
          );
        }
      }
    });
    const before = await sys.lengths();
    const promoted = await sys.api.identity.patch(
      `/users/${member.userId}/role`,
      { role: 'admin' },
      { token: sys.admin.token },
    );
    expect(promoted.status).toBe(200);
    expect(promoted.body.user).toEqual({
      id: member.userId,
      name: 'member',
      role: 'admin',
      createdAt: expect.any(String),
      email: member.email,
    });
    expect(await sys.lengths()).toEqual({
      ...before,
      [sys.keys.identityLog]: before[sys.keys.identityLog]! + 1,
    });
    expect(
      (await eventsOf(sys.keys.userStream(member.userId))).map((e) => [e.type, e.actor, e.data]),
    ).toEqual([
      ['UserRegistered', member.userId, { email: member.email, name: 'member', role: 'member' }],
      ['UserRoleChanged', sys.admin.userId, { from: 'member', to: 'admin' }],
    ]);
    const relogin = await sys.api.identity.post('/auth/login', {
      email: member.email,
      password: member.password,
    });
    expect(sys.tokens.verify(relogin.body.token)).toEqual({ userId: member.userId, role: 'admin' });
  });

  it('lets an admin, and no other member, change or delete someone else’s task', async () => {
    const [owner, member] = [await sys.register('owner'), await sys.register('member')];
    const task = await sys.createTask(owner.token);
    await sys.expectNothingAppended([sys.keys.taskStream(task.id)], async () => {
      expectProblem(
        await sys.api.command.patch(`/tasks/${task.id}`, { title: 'x' }, { token: member.token }),
        403,
        'forbidden',
      );
      expectProblem(
        await sys.api.command.delete(`/tasks/${task.id}`, { token: member.token }),
        403,
        'forbidden',
      );
    });
    expect(
      (await sys.api.command.patch(`/tasks/${task.id}`, { title: 'x' }, { token: sys.admin.token }))
        .status,
    ).toBe(200);
    expect(
      (await sys.api.command.delete(`/tasks/${task.id}`, { token: sys.admin.token })).status,
    ).toBe(204);
  });

  it('takes admin rights away at once from a demoted admin whose token still says admin', async () => {
    const [deputy, owner] = [await sys.register('deputy'), await sys.register('owner')];
    await sys.api.identity.patch(
      `/users/${deputy.userId}/role`,
      { role: 'admin' },
      { token: sys.admin.token },
    );
    const adminToken = (
      await sys.api.identity.post('/auth/login', { email: deputy.email, password: deputy.password })
    ).body.token as string;
    const task = await sys.createTask(owner.token);
    // While an admin, the deputy may change others' tasks and read their e-mails.
    expect(
      (
        await sys.api.command.patch(
          `/tasks/${task.id}`,
          { priority: 'high' },
          { token: adminToken },
        )
      ).status,
    ).toBe(200);
    const demoted = await sys.api.identity.patch(
      `/users/${deputy.userId}/role`,
      { role: 'member' },
      { token: sys.admin.token },
    );
    expect(demoted.status).toBe(200);
    expect(sys.tokens.verify(adminToken).role).toBe('admin');
    const streams = [sys.keys.taskStream(task.id), sys.keys.userStream(owner.userId)];
    await sys.expectNothingAppended(streams, async () => {
      expectProblem(
        await sys.api.identity.patch(
          `/users/${owner.userId}/role`,
          { role: 'admin' },
          { token: adminToken },
        ),
        403,
        'forbidden',
      );
      expectProblem(
        await sys.api.command.patch(
          `/tasks/${task.id}`,
          { priority: 'low' },
          { token: adminToken },
        ),
        403,
        'forbidden',
      );
      expectProblem(
        await sys.api.command.delete(`/tasks/${task.id}`, { token: adminToken }),
        403,
        'forbidden',
      );
    });
    const profile = await sys.api.query.get(`/users/${owner.userId}`, {
      token: adminToken,
      headers: { 'x-min-position': demoted.body.position },
    });
    expect(Object.keys(profile.body.user).sort()).toEqual(PUBLIC_PROFILE);
    const list = await sys.api.query.get('/users', { token: adminToken });
    for (const user of list.body.items as { id: string }[]) {
      expect(Object.keys(user).sort()).toEqual(
        user.id === deputy.userId ? OWN_PROFILE : PUBLIC_PROFILE,
      );
    }
  });
});

describe('API6 unrestricted access to sensitive business flows', () => {
  it('answers a repeated Idempotency-Key with the first answer and one event; another body is 422 and appends nothing', async () => {
    const [member, other] = [await sys.register('member'), await sys.register('other')];
    const send = (body: object, who: Member = member) =>
      sys.api.command.post('/tasks', body, {
        token: who.token,
        headers: { 'idempotency-key': 'order-42' },
      });
    const before = await sys.lengths();
    const copies = await Promise.all(Array.from({ length: 5 }, () => send({ title: 'Pay once' })));
    for (const copy of copies) {
      expect(copy.status).toBe(201);
      expect(copy.body).toEqual(copies[0]!.body);
    }
    const taskId = copies[0]!.body.id as string;
    const stream = sys.keys.taskStream(taskId);
    const taskLog = sys.keys.taskLog(sys.keys.partitionOf(taskId));
    expect(await sys.lengths([stream])).toEqual({
      ...before,
      [taskLog]: before[taskLog]! + 1,
      [stream]: 1,
    });
    await sys.expectNothingAppended([stream], async () => {
      const replay = await send({ title: 'Pay once' });
      expect({ status: replay.status, body: replay.body }).toEqual({
        status: 201,
        body: copies[0]!.body,
      });
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      expectProblem(await send({ title: 'Pay twice' }), 422, 'idempotency-key-reused');
    });
    // The key is the member's own: another member's same key makes its own task.
    const theirs = await send({ title: 'Pay once' }, other);
    expect(theirs.status).toBe(201);
    expect(theirs.body.id).not.toBe(taskId);
    expect(await redis.xlen(stream)).toBe(1);
  });

  it('counts parallel login guesses before checking them: 15 at once are exactly 10 × 401 and 5 × 429', async () => {
    const target = await sys.register('target');
    const answers = await Promise.all(
      Array.from({ length: 15 }, (_, i) =>
        sys.api.identity.post('/auth/login', { email: target.email, password: `guess-${i}-wrong` }),
      ),
    );
    const statuses = answers.map((answer) => answer.status).sort();
    expect(statuses).toEqual([...Array(10).fill(401), ...Array(5).fill(429)]);
  });

  it('registers one account per e-mail even when registrations race: one 201, the rest 409', async () => {
    const email = `race-${randomBytes(4).toString('hex')}@example.com`;
    const before = await redis.xlen(sys.keys.identityLog);
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        sys.api.identity.post(i % 2 ? '/users/register' : '/auth/register', {
          email: i % 3 ? email.toUpperCase() : email,
          password: `password-${i}-long`,
        }),
      ),
    );
    expect(answers.map((answer) => answer.status).sort()).toEqual([201, 409, 409, 409, 409, 409]);
    expect(await redis.xlen(sys.keys.identityLog)).toBe(before + 1);
    const winner = answers.findIndex((answer) => answer.status === 201);
    const logins = await Promise.all(
      answers.map((_, i) =>
        sys.api.identity.post('/auth/login', { email, password: `password-${i}-long` }),
      ),
    );
    expect(logins.map((login, i) => [i, login.status])).toEqual(
      answers.map((_, i) => [i, i === winner ? 200 : 401]),
    );
  });
});

describe('API7 server side request forgery', () => {
  it('forwards /api/<service>/… only to that configured service, whatever the path, target form or Host says', async () => {
    const hits: string[] = [];
    const elsewhere = http.createServer((req, res) => {
      hits.push(`${req.method} ${req.url}`);
      res.end('elsewhere');
    });
    await new Promise<void>((resolve) => elsewhere.listen(0, '127.0.0.1', resolve));
    const host = `127.0.0.1:${(elsewhere.address() as AddressInfo).port}`;
    try {
      // Each answer names the path the service saw: it came from that service, not from elsewhere.
      const cases: [string, Record<string, string>, number, string][] = [
        [`/api/identity//${host}/x`, {}, 404, `No route for GET //${host}/x.`],
        [`/api/command//${host}/x`, {}, 404, `No route for GET //${host}/x.`],
        [`/api/query//${host}/x`, {}, 401, 'Send Authorization: Bearer <token>.'],
        [`/api/identity/\\\\${host}/x`, {}, 404, `No route for GET ///${host}/x.`],
        [`/api/identity/%2F%2F${host}/x`, {}, 404, `No route for GET /%2F%2F${host}/x.`],
        [`/api/identity/@${host}/x`, {}, 404, `No route for GET /@${host}/x.`],
        [`/api/identity/../../${host}/x`, {}, 404, `No route for GET /${host}/x.`],
        [`/api/identity/http://${host}/x`, {}, 404, `No route for GET /http://${host}/x.`],
        [`/api/identity?to=http://${host}/x`, {}, 404, 'No route for GET /.'],
        [`/api/identity/health`, { host }, 200, ''],
        [`/api/identity/health`, { 'x-forwarded-host': host, forwarded: `host=${host}` }, 200, ''],
        // Absolute-form request target, as sent to a forward proxy.
        [`http://${host}/api/identity/health`, {}, 404, `No route for GET /http://${host}/health.`],
        [`/api/elsewhere//${host}/x`, {}, 404, `No route for GET /api/elsewhere//${host}/x.`],
        [`/api//${host}/x`, {}, 404, `No route for GET /api//${host}/x.`],
        [`/api/http://${host}/x`, {}, 404, `No route for GET /api/http://${host}/x.`],
      ];
      for (const [path, headers, status, detail] of cases) {
        const answer = await rawRequest(sys.urls.notifier, { path, headers });
        expect({ path, status: answer.status, detail: answer.body?.detail ?? '' }).toEqual({
          path,
          status,
          detail: status === 200 ? '' : detail,
        });
        if (status === 200) expect(answer.body).toEqual({ status: 'ok' });
      }
      expect(hits).toEqual([]);
    } finally {
      await new Promise((resolve) => elsewhere.close(resolve));
    }
  });
});

describe('API8 security misconfiguration', () => {
  it('sends no X-Powered-By and no CORS grant to a foreign origin, from any service', async () => {
    const member = await sys.register('member');
    const projectorServer = await listen(
      buildProjectorApp({
        redis,
        keys: sys.keys,
        db: () => sys.db,
        group: 'projector',
        logger: createLogger({ name: 'security', level: 'silent' }),
        metrics: createMetrics('projector'),
      }),
    );
    try {
      const requests: [string, string, string, string?][] = [
        [sys.urls.identity, 'GET', '/health'],
        [sys.urls.identity, 'GET', '/users/me', member.token],
        [sys.urls.identity, 'GET', '/users/me'],
        [sys.urls.identity, 'POST', '/auth/login'],
        [sys.urls.identity, 'GET', '/nowhere'],
        [sys.urls.command, 'GET', '/openapi.json'],
        [sys.urls.command, 'POST', '/tasks'],
        [sys.urls.command, 'OPTIONS', '/tasks'],
        [sys.urls.query, 'GET', '/tasks', member.token],
        [sys.urls.query, 'GET', '/tasks'],
        [sys.urls.query, 'OPTIONS', '/tasks'],
        [sys.urls.notifier, 'GET', '/'],
        [sys.urls.notifier, 'GET', '/board.js'],
        [sys.urls.notifier, 'GET', '/metrics'],
        [sys.urls.notifier, 'GET', '/nowhere'],
        [sys.urls.notifier, 'GET', '/api/query/tasks', member.token],
        [sys.urls.notifier, 'OPTIONS', '/api/command/tasks'],
        [projectorServer.url, 'GET', '/ready'],
        [projectorServer.url, 'GET', '/nowhere'],
      ];
      for (const [base, method, path, token] of requests) {
        const answer = await rawRequest(base, {
          method,
          path,
          headers: {
            origin: 'http://evil.example',
            'access-control-request-method': 'DELETE',
            ...(token ? { authorization: `Bearer ${token}` } : {}),
          },
        });
        expect({
          url: `${method} ${base}${path}`,
          poweredBy: answer.headers.get('x-powered-by'),
          allowOrigin: answer.headers.get('access-control-allow-origin'),
          allowCredentials: answer.headers.get('access-control-allow-credentials'),
        }).toEqual({
          url: `${method} ${base}${path}`,
          poweredBy: null,
          allowOrigin: null,
          allowCredentials: null,
        });
      }
    } finally {
      await projectorServer.close();
    }
  });

  it('serves the board under a Content-Security-Policy that allows only its own scripts, and no inline code', async () => {
    const policy =
      "default-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";
    for (const path of ['/', '/index.html', '/board.js', '/board.css']) {
      const answer = await rawRequest(sys.urls.notifier, { path });
      expect({
        path,
        status: answer.status,
        policy: answer.headers.get('content-security-policy'),
        sniff: answer.headers.get('x-content-type-options'),
        referrer: answer.headers.get('referrer-policy'),
      }).toEqual({ path, status: 200, policy, sniff: 'nosniff', referrer: 'no-referrer' });
    }
    const page = (await rawRequest(sys.urls.notifier, { path: '/' })).text;
    const scripts = [...page.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [tag, inline] of scripts) {
      expect(tag).toMatch(/\ssrc="\/[^"]+"/);
      expect(inline).toBe('');
    }
    expect(page).not.toMatch(/\son[a-z]+=|<style|\sstyle=/i);
    const script = (await rawRequest(sys.urls.notifier, { path: '/board.js' })).text;
    expect(script).not.toMatch(
      /\.innerHTML|\.outerHTML|insertAdjacentHTML|document\.write|\beval\(/,
    );
  });

  it('answers bad input with problem+json and never a stack trace, an internal path or a 5xx', async () => {
    const member = await sys.register('member');
    const task = await sys.createTask(member.token);
    const auth = { authorization: `Bearer ${member.token}` };
    const json = { 'content-type': 'application/json' };
    const cases: [string, string, string, Record<string, string>, string | undefined, number][] = [
      [sys.urls.identity, 'POST', '/auth/login', json, '{"email":', 400],
      [sys.urls.identity, 'POST', '/auth/login', json, '"just a string"', 400],
      [
        sys.urls.identity,
        'POST',
        '/auth/register',
        json,
        `${'['.repeat(50_000)}${']'.repeat(50_000)}`,
        400,
      ],
      [
        sys.urls.identity,
        'POST',
        '/auth/register',
        json,
        '{"email":{"$gt":""},"password":[1]}',
        400,
      ],
      [
        sys.urls.identity,
        'POST',
        '/auth/login',
        { 'content-type': 'application/json; charset=latin1' },
        '{}',
        415,
      ],
      [
        sys.urls.identity,
        'POST',
        '/auth/login',
        { 'content-type': 'application/xml' },
        '<a/>',
        415,
      ],
      [
        sys.urls.identity,
        'PATCH',
        '/users/%E0%A4%A/role',
        { ...auth, ...json },
        '{"role":"admin"}',
        400,
      ],
      [
        sys.urls.identity,
        'GET',
        '/users/me',
        { authorization: `Bearer ${'a'.repeat(6_000)}` },
        undefined,
        401,
      ],
      [sys.urls.identity, 'DELETE', '/health', {}, undefined, 404],
      [sys.urls.command, 'PATCH', '/tasks/%E0%A4%A', { ...auth, ...json }, '{"title":"x"}', 400],
      [sys.urls.command, 'PATCH', `/tasks/${task.id}`, { ...auth, ...json }, '{"title":null}', 400],
      [
        sys.urls.command,
        'PATCH',
        `/tasks/${task.id}`,
        { ...auth, ...json, 'if-match': '"x"' },
        '{}',
        400,
      ],
      [
        sys.urls.command,
        'POST',
        '/tasks',
        { ...auth, ...json, 'idempotency-key': ' ' },
        '{"title":"x"}',
        400,
      ],
      [sys.urls.command, 'POST', '/tasks', { ...auth, ...json }, '{"title":"\\ud800"}', 201],
      [
        sys.urls.command,
        'POST',
        '/tasks',
        { ...auth, 'content-type': 'text/plain' },
        'title=x',
        415,
      ],
      [sys.urls.query, 'GET', '/tasks?status=pending&status=completed', auth, undefined, 400],
      [sys.urls.query, 'GET', '/tasks?sort[]=title', auth, undefined, 400],
      [sys.urls.query, 'GET', '/tasks?cursor=eyJzIjoiLXVwZGF0ZWRBdCJ9', auth, undefined, 400],
      [sys.urls.query, 'GET', `/tasks/${task.id}?asOf=yesterday`, auth, undefined, 400],
      [sys.urls.query, 'GET', '/tasks/%E0%A4%A', auth, undefined, 400],
      [sys.urls.query, 'GET', '/tasks', { ...auth, 'x-min-position': 'nonsense' }, undefined, 400],
      [
        sys.urls.query,
        'GET',
        '/tasks',
        { ...auth, 'x-min-position': 't0:99999999999999-0', 'x-max-wait-ms': '50' },
        undefined,
        503,
      ],
      [sys.urls.notifier, 'GET', '/../../package.json', {}, undefined, 404],
      [sys.urls.notifier, 'GET', '/%2e%2e/%2e%2e/package.json', {}, undefined, 404],
      [sys.urls.notifier, 'GET', '/..%2f..%2fpackage.json', {}, undefined, 404],
      [sys.urls.notifier, 'GET', '/api/identity/users/me', {}, undefined, 401],
    ];
    for (const [base, method, path, headers, body, status] of cases) {
      const answer = await rawRequest(base, { method, path, headers, ...(body ? { body } : {}) });
      expect({ request: `${method} ${path}`, status: answer.status }).toEqual({
        request: `${method} ${path}`,
        status,
      });
      if (status < 300) continue;
      expectSafeProblem(answer, status);
      expect(answer.text).not.toContain('"name": "tasksync"');
    }
  });

  it('admits Socket.IO handshakes only from allowed origins, on polling and on websocket', async () => {
    const member = await sys.register('member');
    const polling = (origin?: string) =>
      rawRequest(sys.urls.notifier, {
        path: '/socket.io/?EIO=4&transport=polling',
        headers: origin ? { origin } : {},
      });
    const upgrade = (origin: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const socket = new WebSocket(
          `${sys.urls.notifier.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`,
          { origin },
        );
        socket.on('open', () => {
          socket.close();
          resolve({ status: 101, body: '' });
        });
        socket.on('unexpected-response', (_request, response) => {
          let body = '';
          response.on('data', (chunk: Buffer) => {
            body += chunk.toString();
          });
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
        });
        socket.on('error', reject);
      });
    for (const foreign of [
      'http://evil.example',
      'null',
      'http://board.example.evil.example',
      'https://board.example',
      'http://board.example:8080',
    ]) {
      const answer = await polling(foreign);
      expect({ foreign, status: answer.status, body: answer.body }).toEqual({
        foreign,
        status: 403,
        body: { code: 4, message: 'Forbidden' },
      });
      expect(answer.headers.get('access-control-allow-origin')).toBeNull();
      // engine.io refuses an upgrade with 400 (its abortUpgrade), a polling request with 403.
      expect(await upgrade(foreign)).toEqual({ status: 400, body: 'Forbidden' });
    }
    for (const allowed of [FRONTEND, sys.urls.notifier]) {
      const answer = await polling(allowed);
      expect(answer.status).toBe(200);
      expect(answer.text).toMatch(/^0\{"sid":/);
      expect(await upgrade(allowed)).toEqual({ status: 101, body: '' });
    }
    expect((await polling(FRONTEND)).headers.get('access-control-allow-origin')).toBe(FRONTEND);
    // A client without Origin is a program, not a page: only its token decides.
    expect((await polling()).status).toBe(200);

    for (const transports of [['polling'], ['websocket']] as const) {
      const error = await sys.refusedFeed(
        { token: member.token },
        { origin: 'http://evil.example', transports: [...transports] },
      );
      expect(error.message).toMatch(/xhr poll error|websocket error/);
      const allowed = sys.connectFeed(
        { token: member.token },
        { origin: FRONTEND, transports: [...transports] },
      );
      await waitFor(() => (allowed.state.live ? true : undefined), {
        message: `live over ${transports[0]}`,
      });
    }
  });
});

describe('API9 improper inventory management', () => {
  it('documents in /openapi.json exactly the routes each API service serves, and exactly which need a token', async () => {
    const member = await sys.register('member');
    const task = await sys.createTask(member.token);
    const documented = await documentedRoutes();
    const ids = { task: task.id, user: member.userId };
    const candidates = new Set([
      ...documented.map((route) => route.path),
      '/',
      '/openapi.json',
      '/admin',
      '/debug',
      '/docs',
      '/swagger.json',
      '/openapi.yaml',
      '/.env',
      '/config',
      '/events',
      '/auth/logout',
      '/auth/refresh',
      '/users/{id}/password',
      '/tasks/{id}/events',
      '/tasks/{id}/comments/{id}',
    ]);
    const methods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
    for (const service of ['identity', 'command', 'query'] as const) {
      const expected = documented
        .filter((route) => route.service === service)
        .map((route) => `${route.method} ${route.path}`);
      /** The documented route a request falls under (`/users/me` is a `/users/{id}`), if any. */
      const documentedAs = (method: string, concrete: string) =>
        expected.find((label) => {
          const [documentedMethod, template] = label.split(' ') as [string, string];
          const pattern = new RegExp(`^${template.replaceAll('{id}', '[^/]+')}$`);
          return documentedMethod === method && pattern.test(concrete);
        });
      const served = new Set<string>();
      for (const path of candidates) {
        for (const method of methods) {
          const concrete = path.replaceAll('{id}', path.startsWith('/users') ? ids.user : ids.task);
          const answer = await sys.api[service].request(method, concrete, {
            token: sys.admin.token,
            headers: { 'content-type': 'application/json' },
          });
          const unrouted =
            answer.status === 404 && String(answer.body?.detail).startsWith('No route for ');
          if (!unrouted) served.add(documentedAs(method, concrete) ?? `${method} ${path}`);
        }
      }
      // The document itself is served beside what it documents.
      expect({ service, served: [...served].sort() }).toEqual({
        service,
        served: [...expected, 'GET /openapi.json'].sort(),
      });
    }
    // `security` in the document says which routes answer 401 without a token.
    for (const route of documented) {
      const answer = await sys.api[route.service].request(
        route.method,
        concretePath(route.path, ids),
        { headers: { 'content-type': 'application/json' } },
      );
      expect({ route: routeLabel(route), unauthorized: answer.status === 401 }).toEqual({
        route: routeLabel(route),
        unauthorized: route.auth,
      });
    }
  });

  it('proxies from the board only to the three documented API services', async () => {
    for (const service of ['identity', 'command', 'query']) {
      const answer = await rawRequest(sys.urls.notifier, { path: `/api/${service}/health` });
      expect({ service, status: answer.status, body: answer.body }).toEqual({
        service,
        status: 200,
        body: { status: 'ok' },
      });
    }
    for (const service of ['projector', 'notifier', 'redis', 'admin', 'identity.', 'identity-x']) {
      const answer = await rawRequest(sys.urls.notifier, { path: `/api/${service}/health` });
      expectSafeProblem(answer, 404, 'not-found');
      expect(answer.body.detail).toBe(`No route for GET /api/${service}/health.`);
    }
  });
});

describe('API10 unsafe consumption of APIs', () => {
  /** A log entry as a careless or hostile writer might leave it. */
  const poisonFields = (type: string, data: string, agg = newId(), rev = '0') => [
    'id',
    newId(),
    'type',
    type,
    'v',
    '1',
    'agg',
    agg,
    'rev',
    rev,
    'at',
    new Date().toISOString(),
    'actor',
    'system',
    'corr',
    'poison',
    'data',
    data,
  ];

  it('keeps the projector and the notifier going past undecodable entries in the logs', async () => {
    const member = await sys.register('member');
    const feedClient = await sys.liveFeed(member.token);
    const poisons: [string, string[]][] = [
      [sys.keys.taskLog(0), poisonFields('TaskExploded', '{}')],
      [sys.keys.taskLog(0), poisonFields('TaskCreated', '{not json')],
      [sys.keys.taskLog(0), poisonFields('TaskCreated', JSON.stringify({ title: '<script>' }))],
      [sys.keys.taskLog(0), poisonFields('TaskCreated', '{}', newId(), 'minus one')],
      [sys.keys.taskLog(0), poisonFields('TaskCreated', '{}').slice(0, 6)],
      [
        sys.keys.taskLog(0),
        poisonFields('TaskCreated', `{"title":"${'x'.repeat(1_000)}"}`).map((f) =>
          f === '1' ? '99' : f,
        ),
      ],
      [
        sys.keys.identityLog,
        poisonFields('UserRegistered', JSON.stringify({ email: 'x', name: 'x', role: 'root' })),
      ],
    ];
    const poisonIds: Record<string, string[]> = {};
    for (const [log, fields] of poisons) {
      const id = (await redis.xadd(log, '*', ...fields)) as string;
      poisonIds[log] = [...(poisonIds[log] ?? []), id];
    }
    const later = await sys.register('later');
    const task = await sys.createTask(member.token, { title: 'after the poison' });

    // The projector dead-letters each poison entry and projects what follows.
    const after = { 'x-min-position': `${task.position},${later.position}` };
    const read = await sys.api.query.get(`/tasks/${task.id}`, {
      token: member.token,
      headers: after,
    });
    expect(read.status).toBe(200);
    expect(read.body.title).toBe('after the poison');
    expect(
      (await sys.api.query.get(`/users/${later.userId}`, { token: member.token, headers: after }))
        .status,
    ).toBe(200);
    for (const [log, ids] of Object.entries(poisonIds)) {
      // With one partition the task above came after the poison in its log; with
      // more (the cluster run) the poison's log is waited for here.
      const dead = await waitFor(async () => {
        const entries = (await redis.xrange(sys.keys.deadLetters(log, 'projector'), '-', '+')) as [
          string,
          string[],
        ][];
        return entries.length >= ids.length ? entries : undefined;
      });
      expect(dead.map(([, fields]) => fieldsToRecord(fields).entry)).toEqual(ids);
      // XACK follows the commit the read above waited for: nothing is left pending.
      await waitFor(async () =>
        ((await redis.xpending(log, 'projector')) as [number])[0] === 0 ? true : undefined,
      );
    }

    // The notifier skips them, counts them, and delivers what follows.
    for (const aggregateId of [task.id, later.userId]) {
      await waitFor(() => feedClient.events.find((e) => e.aggregateId === aggregateId));
    }
    const poisonPositions = Object.entries(poisonIds).flatMap(([log, ids]) =>
      ids.map((id) => `${log === sys.keys.identityLog ? 'id' : 't0'}:${id}`),
    );
    expect(feedClient.events.filter((e) => poisonPositions.includes(e.position))).toEqual([]);
    expect(feedClient.events.map((e) => e.aggregateId).sort()).toEqual(
      [later.userId, task.id].sort(),
    );
    expect(feedClient.socket.connected).toBe(true);
    const metrics = await sys.notifierMetrics.registry.getSingleMetricAsString(
      'tasksync_notifier_undecodable_events_total',
    );
    expect(metrics).toMatch(/log="t0"[^}]*\} 6$/m);
    expect(metrics).toMatch(/log="id"[^}]*\} 1$/m);
    // A client replaying both logs from their start passes over them too.
    const decodable = (
      await Promise.all(
        sys.keys
          .logs()
          .map(async (log) =>
            ((await redis.xrange(log.key, '-', '+')) as [string, string[]][]).map(
              ([id]) => `${log.name}:${id}`,
            ),
          ),
      )
    )
      .flat()
      .filter((position) => !poisonPositions.includes(position));
    const replaying = sys.connectFeed({ token: member.token, since: 't0:0-0,id:0-0' });
    await waitFor(() => (replaying.state.live ? true : undefined), {
      message: 'live after replay',
    });
    expect(replaying.events.map((e) => e.position).sort()).toEqual(decodable.sort());
  });

  it('answers a task whose stream holds an undecodable event with a generic 500, and keeps serving other tasks', async () => {
    const member = await sys.register('member');
    const [poisoned, healthy] = [
      await sys.createTask(member.token),
      await sys.createTask(member.token),
    ];
    await redis.xadd(
      sys.keys.taskStream(poisoned.id),
      '*',
      ...poisonFields('TaskExploded', '{"boom":true}', poisoned.id, '1'),
    );
    await sys.expectNothingAppended([sys.keys.taskStream(poisoned.id)], async () => {
      for (const answer of [
        await sys.api.command.patch(
          `/tasks/${poisoned.id}`,
          { title: 'x' },
          { token: member.token },
        ),
        await sys.api.command.post(
          `/tasks/${poisoned.id}/comments`,
          { text: 'x' },
          { token: member.token },
        ),
        await sys.api.query.get(
          `/tasks/${poisoned.id}?asOf=${encodeURIComponent(new Date().toISOString())}`,
          {
            token: member.token,
          },
        ),
      ]) {
        expectSafeProblem(answer, 500, 'internal');
        expect(answer.body).toEqual({
          type: 'urn:tasksync:problem:internal',
          title: 'Internal error',
          status: 500,
          detail: 'Something went wrong on our side.',
        });
        expect(answer.text).not.toMatch(/TaskExploded|boom|entry \d/);
      }
    });
    expect(
      (
        await sys.api.command.patch(
          `/tasks/${healthy.id}`,
          { title: 'fine' },
          { token: member.token },
        )
      ).status,
    ).toBe(200);
    expect((await sys.api.command.get('/ready')).status).toBe(200);
  });
});
