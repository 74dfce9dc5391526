import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { newId, type ProjectRole, type Visibility } from '@tasksync/contracts';
import {
  createLogger,
  createMetrics,
  createTokenService,
  readLastEntryId,
} from '@tasksync/platform';
import { io as connectClient, type Socket } from 'socket.io-client';
import { expect } from 'vitest';
import { buildGateway } from '../../gateway/src/app';
import { buildIdentityApp } from '../../identity-service/src/app';
import { bootstrapAdmin } from '../../identity-service/src/users/bootstrap';
import {
  createPasswordHasher,
  type PasswordHasher,
} from '../../identity-service/src/users/passwords';
import type { AssignedNotice, EventMessage } from '../../notifier/src/live/messages';
import { apiSpec } from '../api-spec';
import { listenCommandService, startNotifier, startReadSide } from '../in-process';
import {
  client,
  connectTestRedis,
  expectProblem,
  type JsonAnswer,
  listen,
  testKeys,
  waitFor,
} from '../support';

/**
 * The OWASP API Security Top 10 (2023), one file per category, proved against
 * every service running in this process: identity-service, command-service,
 * projector + SQLite read model, query-service and the notifier (its board
 * proxy and Socket.IO feed), all on one real Redis, each test on its own key
 * prefix, over real HTTP and Socket.IO. This module starts that system.
 */

export const FRONTEND = 'http://board.example';
export const BCRYPT = /\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}/;
/** What a stack trace or an internal path looks like in an answer. */
export const INTERNALS = /\n\s+at |\bat [\w.<>]+ \(|\.[cm]?[jt]s:\d+|node_modules|\/work\/|Error: /;
export const PUBLIC_PROFILE = ['createdAt', 'id', 'name', 'role'];
export const OWN_PROFILE = ['createdAt', 'email', 'id', 'name', 'role'];

/** The test file's Redis connection; each file quits it in its afterAll. */
export const redis = connectTestRedis();

let passwordHasher: Promise<PasswordHasher> | undefined;
/** One bcrypt hasher (cost 4) for the file. */
const hasher = () => {
  passwordHasher ??= createPasswordHasher(4);
  return passwordHasher;
};

export type ServiceName = 'identity' | 'command' | 'query';
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
export const rawRequest = (
  baseUrl: string,
  request: {
    method?: string;
    path: string;
    headers?: Record<string, string>;
    body?: string;
    /** Sent in several chunks without Content-Length. */
    chunked?: boolean;
    /** The address the request is sent from (any of 127.0.0.0/8 reaches a loopback server). */
    localAddress?: string;
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
        ...(request.localAddress ? { localAddress: request.localAddress } : {}),
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
export const expectSafeProblem = (answer: JsonAnswer, status: number, slug?: string) => {
  expectProblem(answer, status, slug);
  expect(answer.text).not.toMatch(INTERNALS);
};

export interface FeedClient {
  socket: Socket;
  events: EventMessage[];
  assigned: AssignedNotice[];
  /** Every message the socket received, of every name, in the order it came. */
  received: { name: string; payload: unknown }[];
  state: { live: boolean; error?: Error & { data?: { status: number; detail: string } } };
}

/** The whole system in this process, on a fresh key prefix. */
export const startSystem = async () => {
  const passwords = await hasher();
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
    frontendOrigins: [FRONTEND],
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
  const frontendOrigins = [FRONTEND];
  const commandServer = await listenCommandService({
    redis,
    keys,
    tokens,
    logger,
    frontendOrigins,
  });
  const readSide = await startReadSide(
    { redis, keys, tokens, logger, frontendOrigins },
    { retryDelayMs: 5, maxDeliveries: 2 },
  );
  const { db, readModelPath } = readSide;
  const notifier = await startNotifier({ redis, keys, tokens, logger }, { origins: [FRONTEND] });
  const notifierMetrics = notifier.metrics;
  const services = {
    identity: identityServer.url,
    command: commandServer.url,
    query: readSide.url,
    notifier: notifier.url,
  };
  // The front door (design §12) in front of them all, as the board and clients reach them.
  const gateway = buildGateway({
    upstreams: services,
    redis,
    prefix: keys.prefix,
    logger,
    metrics: createMetrics('gateway'),
    frontendOrigins,
    rates: undefined,
    timeoutMs: 10_000,
  });
  const doorServer = http.createServer(gateway.handle).listen(0, '127.0.0.1');
  doorServer.on('upgrade', gateway.upgrade);
  await once(doorServer, 'listening');
  const urls = {
    ...services,
    door: `http://127.0.0.1:${(doorServer.address() as AddressInfo).port}`,
  };
  const api = {
    identity: recordingClient(urls.identity, answers),
    command: recordingClient(urls.command, answers),
    query: recordingClient(urls.query, answers),
    /** The front door: every service's routes on one origin, as the board calls them. */
    door: recordingClient(urls.door, answers),
  };
  /** Given/When/Then against each service (test/api-spec.ts), its answers recorded too. */
  const spec = {
    identity: apiSpec({ redis, keys, api: api.identity }),
    command: apiSpec({ redis, keys, api: api.command }),
    query: apiSpec({ redis, keys, api: api.query }),
    door: apiSpec({ redis, keys, api: api.door }),
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

  /** A project created through the API; private unless said otherwise (design §10). */
  const createProject = async (
    token: string,
    fields: { name?: string; description?: string; visibility?: Visibility } = {},
  ) => {
    const answer = await api.command.post('/projects', { name: 'A project', ...fields }, { token });
    expect(answer.status, answer.text).toBe(201);
    return answer.body as { id: string; revision: number; position: string };
  };

  /** Adds a user to a project, or changes their role, as `by` (an owner or an admin); the position. */
  const addMember = async (
    by: { token: string },
    projectId: string,
    user: { userId: string },
    role: ProjectRole,
  ) => {
    const answer = await api.command.put(
      `/projects/${projectId}/members/${user.userId}`,
      { role },
      { token: by.token },
    );
    expect(answer.status, answer.text).toBe(200);
    return answer.body.position as string;
  };

  /** Removes a member (or, as themselves, leaves); the removal's position. */
  const removeMember = async (
    by: { token: string },
    projectId: string,
    user: { userId: string },
  ) => {
    const answer = await api.command.delete(`/projects/${projectId}/members/${user.userId}`, {
      token: by.token,
    });
    expect(answer.status, answer.text).toBe(204);
    return answer.headers.get('x-event-position') as string;
  };

  /**
   * A private project and one of each who may or may not see it (design §10's
   * table): its owner, an editor, a viewer, a former editor removed after
   * creating a task there, and an outsider. Every name, title, label and
   * comment of it carries `tag`, so an answer can be searched for it.
   */
  const privateTeam = async () => {
    const tag = `zq${randomBytes(5).toString('hex')}`;
    const owner = await register('owner');
    const editor = await register('editor');
    const viewer = await register('viewer');
    const former = await register('former');
    const outsider = await register('outsider');
    const project = await createProject(owner.token, {
      name: `Project ${tag}`,
      description: `Plans of ${tag}`,
      visibility: 'private',
    });
    await addMember(owner, project.id, editor, 'editor');
    await addMember(owner, project.id, viewer, 'viewer');
    await addMember(owner, project.id, former, 'editor');
    const inProject = (title: string, extra: Record<string, unknown> = {}) => ({
      projectId: project.id,
      title: `${title} ${tag}`,
      description: `About ${tag}`,
      labels: [`label-${tag}`],
      ...extra,
    });
    const tasks = {
      /** The owner's, unassigned. */
      owners: await createTask(owner.token, inProject('owners')),
      /** The owner's, assigned to the editor. */
      assigned: await createTask(
        owner.token,
        inProject('assigned', { assigneeId: editor.userId, priority: 'urgent' }),
      ),
      /** The editor's own. */
      editors: await createTask(editor.token, inProject('editors', { dueDate: '2031-01-02' })),
      /** Created by the former member while an editor. */
      formers: await createTask(former.token, inProject('formers')),
    };
    const removal = await removeMember(owner, project.id, former);
    return {
      tag,
      owner,
      editor,
      viewer,
      former,
      outsider,
      project,
      tasks,
      removal,
      projectStream: keys.projectStream(project.id),
      taskStream: (task: { id: string }) => keys.taskStream(task.id),
    };
  };

  /** A task id nobody has, on the same log as `taskId` (an asOf position names its log). */
  const unknownTaskId = (taskId: string) => {
    for (;;) {
      const id = newId();
      if (keys.partitionOf(id) === keys.partitionOf(taskId)) return id;
    }
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

  /** A query-service read as `who`, once the read model has applied every event so far. */
  const readCaughtUp = async (path: string, who: { token: string }) =>
    api.query.get(path, {
      token: who.token,
      headers: { 'x-min-position': await headPositions() },
    });

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
    const feedClient: FeedClient = {
      socket,
      events: [],
      assigned: [],
      received: [],
      state: { live: false },
    };
    socket.onAny((name: string, payload: unknown) => feedClient.received.push({ name, payload }));
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
    doorServer.closeAllConnections();
    gateway.close();
    await new Promise((resolve) => doorServer.close(resolve));
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
    createProject,
    addMember,
    removeMember,
    privateTeam,
    unknownTaskId,
    spec,
    headPositions,
    readCaughtUp,
    connectFeed,
    liveFeed,
    refusedFeed,
    stop,
  };
};
export type System = Awaited<ReturnType<typeof startSystem>>;
export type Member = Awaited<ReturnType<System['register']>>;
export type Team = Awaited<ReturnType<System['privateTeam']>>;
