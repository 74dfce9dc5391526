import {
  type AuthContext,
  decodeEvent,
  fieldsToRecord,
  newId,
  type Role,
  type StoredEvent,
} from '@tasksync/contracts';
import { createMetrics, createTokenService } from '@tasksync/platform';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  appendUserRegistered,
  capturingLogger,
  client,
  connectTestRedis,
  expectProblem,
  forgedTokens,
  listen,
  testKeys,
} from '../../test/support';
import { buildCommandApp } from './app';

const SECRET = 'command-test-secret-command-test-secret-0123';
const redis = connectTestRedis();
const keys = testKeys(1);
const tokens = createTokenService({ secret: SECRET, ttlSeconds: 3600 });
let api: ReturnType<typeof client>;
let close: () => Promise<void>;

/** Registers a user by appending UserRegistered, as identity-service would, and signs a token for it. */
const user = async (role: Role = 'member') => {
  const userId = newId();
  await appendUserRegistered(redis, keys, { userId, email: `${userId}@example.com`, role });
  const auth: AuthContext = { userId, role };
  return { ...auth, token: tokens.sign(auth).token };
};

const eventsOf = async (taskId: string): Promise<StoredEvent[]> =>
  ((await redis.xrange(keys.taskStream(taskId), '-', '+')) as [string, string[]][]).map(([id, f]) =>
    decodeEvent(id, fieldsToRecord(f)),
  );
/** Events in every task log (one partition, or 4 on the cluster run). */
const logLength = async () => {
  const lengths = await Promise.all(
    Array.from({ length: keys.partitions }, (_, p) => redis.xlen(keys.taskLog(p))),
  );
  return lengths.reduce((sum, length) => sum + length, 0);
};

let creator: Awaited<ReturnType<typeof user>>;
let assignee: Awaited<ReturnType<typeof user>>;
let stranger: Awaited<ReturnType<typeof user>>;
let admin: Awaited<ReturnType<typeof user>>;

beforeAll(async () => {
  const app = buildCommandApp({
    redis,
    keys,
    tokens,
    logger: capturingLogger().logger,
    metrics: createMetrics('command-test'),
    now: () => new Date(),
    newId,
  });
  const server = await listen(app);
  close = server.close;
  api = client(server.url);
  [creator, assignee, stranger, admin] = await Promise.all([user(), user(), user(), user('admin')]);
});
afterAll(async () => {
  await close();
  await redis.quit();
});

const createTask = async (body: Record<string, unknown> = {}, token = creator.token) => {
  const answer = await api.post(
    '/tasks',
    { title: 'Ship it', assigneeId: assignee.userId, ...body },
    { token },
  );
  expect(answer.status).toBe(201);
  return answer.body as { id: string; revision: number; position: string };
};

const expectWriteHeaders = (answer: Awaited<ReturnType<typeof api.post>>, revision: number) => {
  expect(answer.headers.get('etag')).toBe(`"${revision}"`);
  expect(answer.headers.get('x-event-position')).toMatch(/^t\d+:\d+-\d+$/);
};

describe('POST /tasks', () => {
  it('creates a task: 201, Location, ETag, X-Event-Position and one TaskCreated in stream and log', async () => {
    const before = await logLength();
    const answer = await api.post(
      '/tasks',
      {
        title: '  Write the README ',
        priority: 'high',
        labels: ['docs', 'docs', 'v1'],
        dueDate: '2026-12-31',
      },
      { token: creator.token, headers: { 'x-request-id': 'req-create-1' } },
    );
    expect(answer.status).toBe(201);
    expect(answer.body).toEqual({
      id: expect.any(String),
      revision: 0,
      position: expect.stringMatching(/^t\d+:/),
    });
    expect(answer.headers.get('location')).toBe(`/tasks/${answer.body.id}`);
    expect(answer.headers.get('x-request-id')).toBe('req-create-1');
    expectWriteHeaders(answer, 0);
    expect(answer.headers.get('x-event-position')).toBe(answer.body.position);
    const [event] = await eventsOf(answer.body.id);
    expect(event).toMatchObject({
      type: 'TaskCreated',
      rev: 0,
      actor: creator.userId,
      corr: 'req-create-1',
      entryId: answer.body.position.slice(3),
      data: {
        title: 'Write the README',
        description: '',
        status: 'pending',
        assigneeId: null,
        priority: 'high',
        dueDate: '2026-12-31',
        labels: ['docs', 'v1'],
        createdBy: creator.userId,
      },
    });
    expect(await logLength()).toBe(before + 1);
  });

  it('refuses invalid bodies with 400 listing the problems, and appends nothing', async () => {
    const before = await logLength();
    const cases: Record<string, unknown>[] = [
      {},
      { title: '' },
      { title: 'x'.repeat(201) },
      { title: 'ok', createdBy: stranger.userId },
      { title: 'ok', revision: 3 },
      { title: 'ok', priority: 'whenever' },
      { title: 'ok', status: 'done' },
      { title: 'ok', dueDate: '31/12/2026' },
      { title: 'ok', labels: Array.from({ length: 21 }, (_, i) => `l${i}`) },
      { title: 'ok', labels: ['x'.repeat(41)] },
      { title: 'ok', description: 'x'.repeat(10_001) },
      { title: 'ok', assigneeId: 'not-a-uuid' },
    ];
    for (const body of cases) {
      const answer = await api.post('/tasks', body, { token: creator.token });
      expectProblem(answer, 400, 'validation');
      expect(answer.body.errors.length).toBeGreaterThan(0);
    }
    expectProblem(await api.post('/tasks', [1, 2], { token: creator.token }), 400, 'validation');
    expectProblem(
      await api.request('POST', '/tasks', {
        raw: '{',
        token: creator.token,
        headers: { 'content-type': 'application/json' },
      }),
      400,
    );
    expectProblem(
      await api.request('POST', '/tasks', {
        raw: 'title=x',
        token: creator.token,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      }),
      415,
    );
    expectProblem(
      await api.post(
        '/tasks',
        { title: 'big', description: 'x'.repeat(101 * 1024) },
        { token: creator.token },
      ),
      413,
    );
    expect(await logLength()).toBe(before);
  });

  it('answers 401 for a missing or forged token and appends nothing', async () => {
    const before = await logLength();
    const forged = await forgedTokens(creator.userId);
    expectProblem(await api.post('/tasks', { title: 'x' }), 401, 'unauthorized');
    expectProblem(
      await api.post('/tasks', { title: 'x' }, { headers: { authorization: 'Basic abc' } }),
      401,
      'unauthorized',
    );
    for (const token of [
      forged.wrongSecret,
      forged.algNone,
      forged.expired(SECRET),
      forged.wrongAudience(SECRET),
    ]) {
      expectProblem(await api.post('/tasks', { title: 'x' }, { token }), 401, 'unauthorized');
    }
    expect(await logLength()).toBe(before);
  });

  it('answers 422 for an assignee who is not registered', async () => {
    expectProblem(
      await api.post('/tasks', { title: 'x', assigneeId: newId() }, { token: creator.token }),
      422,
      'unknown-assignee',
    );
  });
});

describe('Idempotency-Key', () => {
  it('answers a repeated create with the same status and body and appends once, even when copies race', async () => {
    const before = await logLength();
    const send = () =>
      api.post(
        '/tasks',
        { title: 'Once' },
        { token: creator.token, headers: { 'idempotency-key': 'create-once' } },
      );
    const answers = await Promise.all([send(), send(), send(), send(), send()]);
    const later = await send();
    for (const answer of [...answers, later]) {
      expect(answer.status).toBe(201);
      expect(answer.body).toEqual(answers[0]!.body);
      expect(answer.headers.get('etag')).toBe('"0"');
      expect(answer.headers.get('x-event-position')).toBe(answers[0]!.body.position);
    }
    expect(later.headers.get('idempotent-replayed')).toBe('true');
    expect(await logLength()).toBe(before + 1);
    expect(await eventsOf(answers[0]!.body.id)).toHaveLength(1);
  });

  it('answers 422 for the same key with another body, and keeps keys per user', async () => {
    const first = await api.post(
      '/tasks',
      { title: 'A' },
      { token: creator.token, headers: { 'idempotency-key': 'k-1' } },
    );
    expect(first.status).toBe(201);
    expectProblem(
      await api.post(
        '/tasks',
        { title: 'B' },
        { token: creator.token, headers: { 'idempotency-key': 'k-1' } },
      ),
      422,
      'idempotency-key-reused',
    );
    const other = await api.post(
      '/tasks',
      { title: 'A' },
      { token: stranger.token, headers: { 'idempotency-key': 'k-1' } },
    );
    expect(other.status).toBe(201);
    expect(other.body.id).not.toBe(first.body.id);
  });

  it('replays PATCH, comment and DELETE answers', async () => {
    const task = await createTask();
    const patch = () =>
      api.patch(
        `/tasks/${task.id}`,
        { status: 'in-progress' },
        { token: assignee.token, headers: { 'idempotency-key': 'p-1' } },
      );
    const [p1, p2] = [await patch(), await patch()];
    expect(p1.status).toBe(200);
    expect(p2.body).toEqual(p1.body);
    const comment = () =>
      api.post(
        `/tasks/${task.id}/comments`,
        { text: 'hi' },
        { token: stranger.token, headers: { 'idempotency-key': 'c-1' } },
      );
    const [c1, c2] = [await comment(), await comment()];
    expect(c1.status).toBe(201);
    expect(c2.body).toEqual(c1.body);
    const remove = () =>
      api.delete(`/tasks/${task.id}`, {
        token: creator.token,
        headers: { 'idempotency-key': 'd-1' },
      });
    const [d1, d2] = [await remove(), await remove()];
    expect([d1.status, d2.status]).toEqual([204, 204]);
    expect(d2.headers.get('etag')).toBe(d1.headers.get('etag'));
    expect((await eventsOf(task.id)).map((e) => e.type)).toEqual([
      'TaskCreated',
      'TaskStatusChanged',
      'CommentAdded',
      'TaskDeleted',
    ]);
    expectProblem(
      await api.delete(`/tasks/${task.id}`, {
        token: creator.token,
        headers: { 'idempotency-key': 'd-2' },
      }),
      410,
      'gone',
    );
  });

  it('refuses a malformed key with 400', async () => {
    expectProblem(
      await api.post(
        '/tasks',
        { title: 'A' },
        { token: creator.token, headers: { 'idempotency-key': 'has space' } },
      ),
      400,
    );
  });
});

describe('PATCH /tasks/:id', () => {
  it('changes fields, answers the new revision and appends one event per kind of change', async () => {
    const task = await createTask();
    const answer = await api.patch(
      `/tasks/${task.id}`,
      { title: 'Ship it today', status: 'in-progress', assigneeId: null },
      { token: creator.token },
    );
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      id: task.id,
      revision: 3,
      position: expect.stringMatching(/^t\d+:/),
    });
    expectWriteHeaders(answer, 3);
    expect((await eventsOf(task.id)).map((e) => [e.type, e.rev, e.data])).toEqual([
      ['TaskCreated', 0, expect.any(Object)],
      ['TaskDetailsChanged', 1, { title: 'Ship it today' }],
      ['TaskStatusChanged', 2, { from: 'pending', to: 'in-progress' }],
      ['TaskAssigned', 3, { assigneeId: null, previous: assignee.userId }],
    ]);
  });

  it('appends nothing for a change that changes nothing and answers the current revision', async () => {
    const task = await createTask({ priority: 'low' });
    const answer = await api.patch(
      `/tasks/${task.id}`,
      { priority: 'low', title: 'Ship it' },
      { token: creator.token },
    );
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ id: task.id, revision: 0, position: task.position });
    expect(await eventsOf(task.id)).toHaveLength(1);
  });

  it('answers 409 naming the allowed moves for a status jump', async () => {
    const task = await createTask();
    const answer = await api.patch(
      `/tasks/${task.id}`,
      { status: 'completed' },
      { token: creator.token },
    );
    expectProblem(answer, 409, 'invalid-status-transition');
    expect(answer.body).toMatchObject({
      from: 'pending',
      to: 'completed',
      allowed: ['in-progress'],
    });
    expect(answer.body.detail).toContain('in-progress');
  });

  it('walks the whole status flow, forward and one step back', async () => {
    const task = await createTask();
    for (const [status, revision] of [
      ['in-progress', 1],
      ['completed', 2],
      ['in-progress', 3],
      ['pending', 4],
    ] as const) {
      const answer = await api.patch(`/tasks/${task.id}`, { status }, { token: assignee.token });
      expect({ status: answer.status, revision: answer.body.revision }).toEqual({
        status: 200,
        revision,
      });
    }
  });

  it('honours If-Match: the current revision passes, a stale one is 412 and appends nothing', async () => {
    const task = await createTask();
    const fresh = await api.patch(
      `/tasks/${task.id}`,
      { priority: 'high' },
      { token: creator.token, headers: { 'if-match': '"0"' } },
    );
    expect(fresh.status).toBe(200);
    const stale = await api.patch(
      `/tasks/${task.id}`,
      { priority: 'low' },
      { token: creator.token, headers: { 'if-match': '"0"' } },
    );
    expectProblem(stale, 412, 'precondition-failed');
    expect(stale.body.currentRevision).toBe(1);
    expect(await eventsOf(task.id)).toHaveLength(2);
    expectProblem(
      await api.patch(
        `/tasks/${task.id}`,
        { priority: 'low' },
        { token: creator.token, headers: { 'if-match': 'yesterday' } },
      ),
      400,
    );
  });

  it('lets only the creator, the assignee or an admin change a task (403 for others, nothing appended)', async () => {
    const task = await createTask();
    expectProblem(
      await api.patch(`/tasks/${task.id}`, { title: 'mine now' }, { token: stranger.token }),
      403,
      'forbidden',
    );
    expect(await eventsOf(task.id)).toHaveLength(1);
    for (const actor of [creator, assignee, admin]) {
      expect(
        (
          await api.patch(
            `/tasks/${task.id}`,
            { description: `by ${actor.userId}` },
            { token: actor.token },
          )
        ).status,
      ).toBe(200);
    }
  });

  it('answers 422 for an unknown assignee, 404 for an unknown task and 400 for unknown fields', async () => {
    const task = await createTask();
    expectProblem(
      await api.patch(`/tasks/${task.id}`, { assigneeId: newId() }, { token: creator.token }),
      422,
      'unknown-assignee',
    );
    expectProblem(
      await api.patch(`/tasks/${newId()}`, { title: 'x' }, { token: creator.token }),
      404,
      'not-found',
    );
    expectProblem(
      await api.patch('/tasks/not-a-uuid', { title: 'x' }, { token: creator.token }),
      404,
      'not-found',
    );
    expectProblem(
      await api.patch(
        `/tasks/${task.id}`,
        { createdBy: stranger.userId },
        { token: creator.token },
      ),
      400,
      'validation',
    );
  });

  it('keeps PUT as the same partial update', async () => {
    const task = await createTask();
    const answer = await api.put(
      `/tasks/${task.id}`,
      { status: 'in-progress' },
      { token: creator.token },
    );
    expect(answer.status).toBe(200);
    expect(answer.body.revision).toBe(1);
  });

  it('retries revision conflicts: 10 concurrent comments all land with contiguous revisions', async () => {
    const task = await createTask();
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        api.post(`/tasks/${task.id}/comments`, { text: `c${i}` }, { token: stranger.token }),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(201));
    expect(answers.map((a) => a.body.revision).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 10 }, (_, i) => i + 1),
    );
    expect((await eventsOf(task.id)).map((e) => e.rev)).toEqual(
      Array.from({ length: 11 }, (_, i) => i),
    );
  });
});

describe('comments and DELETE', () => {
  it('adds a comment: 201 with commentId, revision and position', async () => {
    const task = await createTask();
    const answer = await api.post(
      `/tasks/${task.id}/comments`,
      { text: ' Looks good ' },
      { token: stranger.token },
    );
    expect(answer.status).toBe(201);
    expect(answer.body).toEqual({
      id: task.id,
      commentId: expect.any(String),
      revision: 1,
      position: expect.stringMatching(/^t\d+:/),
    });
    expectWriteHeaders(answer, 1);
    const events = await eventsOf(task.id);
    expect(events[1]).toMatchObject({
      type: 'CommentAdded',
      data: { commentId: answer.body.commentId, text: 'Looks good', authorId: stranger.userId },
    });
    expectProblem(
      await api.post(`/tasks/${task.id}/comments`, { text: '' }, { token: stranger.token }),
      400,
      'validation',
    );
    expectProblem(
      await api.post(`/tasks/${newId()}/comments`, { text: 'x' }, { token: stranger.token }),
      404,
      'not-found',
    );
  });

  it('lets the creator or an admin delete (204 with ETag), refuses others (403), then answers 410', async () => {
    const task = await createTask();
    expectProblem(
      await api.delete(`/tasks/${task.id}`, { token: assignee.token }),
      403,
      'forbidden',
    );
    const deleted = await api.delete(`/tasks/${task.id}`, { token: creator.token });
    expect(deleted.status).toBe(204);
    expect(deleted.text).toBe('');
    expectWriteHeaders(deleted, 1);
    expectProblem(await api.delete(`/tasks/${task.id}`, { token: admin.token }), 410, 'gone');
    expectProblem(
      await api.patch(`/tasks/${task.id}`, { title: 'x' }, { token: admin.token }),
      410,
      'gone',
    );
    expectProblem(
      await api.post(`/tasks/${task.id}/comments`, { text: 'x' }, { token: admin.token }),
      410,
      'gone',
    );
    expect((await eventsOf(task.id)).map((e) => e.type)).toEqual(['TaskCreated', 'TaskDeleted']);
    const other = await createTask();
    expect((await api.delete(`/tasks/${other.id}`, { token: admin.token })).status).toBe(204);
  });
});

describe('operations', () => {
  it('serves /health, /ready, /metrics, /openapi.json and 404 problems for unknown routes', async () => {
    expect((await api.get('/health')).body).toEqual({ status: 'ok' });
    expect((await api.get('/ready')).status).toBe(200);
    const metrics = (await api.get('/metrics')).text;
    expect(metrics).toMatch(/http_request_duration_seconds_count\{.*route="\/tasks".*\}/);
    expect(metrics).toMatch(
      /tasksync_events_appended_total\{type="TaskCreated",service="command-test"\} \d+/,
    );
    expect(metrics).toMatch(/tasksync_idempotent_replays_total\{service="command-test"\} [1-9]/);
    const openapi = (await api.get('/openapi.json')).body;
    expect(Object.keys(openapi.paths)).toEqual(
      expect.arrayContaining(['/tasks', '/tasks/{id}', '/tasks/{id}/comments']),
    );
    expect(
      openapi.paths['/tasks'].post.requestBody.content['application/json'].schema.properties
        .priority.enum,
    ).toEqual(['low', 'medium', 'high', 'urgent']);
    expectProblem(await api.get('/nowhere', { token: creator.token }), 404, 'not-found');
  });
});

describe('when Redis is unreachable', () => {
  it('answers writes with 503 problem+json and Retry-After instead of hanging or 500', async () => {
    const { freePort } = await import('../../scripts/redis-server');
    const { createRedis } = await import('@tasksync/platform');
    const deadRedis = createRedis({
      REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
      REDIS_CLUSTER: false,
    });
    deadRedis.on('error', () => undefined);
    const app = buildCommandApp({
      redis: deadRedis,
      keys,
      tokens,
      logger: capturingLogger().logger,
      metrics: createMetrics('command-dead'),
      now: () => new Date(),
      newId,
    });
    const server = await listen(app);
    try {
      const dead = client(server.url);
      const answer = await dead.post(
        '/tasks',
        { title: 'nowhere to go' },
        { token: creator.token },
      );
      expectProblem(answer, 503, 'storage-unavailable');
      expect(answer.headers.get('retry-after')).toBe('1');
      expect((await dead.get('/ready')).status).toBe(503);
    } finally {
      await server.close();
      deadRedis.disconnect();
    }
  });
});
