import { newId, taskEventTypes } from '@tasksync/contracts';
import {
  appendToStream,
  createLogger,
  createTokenService,
  readLastEntryId,
} from '@tasksync/platform';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { listenCommandService, startReadSide } from '../../test/in-process';
import {
  appendUserRegistered,
  client,
  connectTestRedis,
  type JsonAnswer,
  minPositionHeader,
  testKeys,
} from '../../test/support';

/**
 * Every answer of the task, user and stats reads (and the probes) against the
 * schema the query-service's OpenAPI document declares for its 200 (design §3), taken
 * from the document the service serves: the typed client is generated from
 * it, so a field the answers add, drop or rename, or one the document gets
 * wrong, fails here. The answers come from real writes through the
 * command-service and the real projector.
 */

const redis = connectTestRedis();
const keys = testKeys(1);
const tokens = createTokenService({
  secret: 'answers-test-secret-answers-test-secret-answers',
  ttlSeconds: 3600,
});
const logger = createLogger({ name: 'answers-test', level: 'silent' });
const closers: (() => Promise<unknown> | unknown)[] = [];
let commands: ReturnType<typeof client>;
let queries: ReturnType<typeof client>;
let document: {
  paths: Record<string, { get?: { responses: Record<string, { content?: unknown }> } }>;
};

type Who = { userId: string; role: 'member' | 'admin' };
const alice: Who = { userId: newId(), role: 'member' };
const bob: Who = { userId: newId(), role: 'member' };
const carol: Who = { userId: newId(), role: 'member' };
const admin: Who = { userId: newId(), role: 'admin' };
const token = (who: Who) => tokens.sign(who).token;

/** The newest position written per log: X-Min-Position for a read that must see it all. */
const written = new Map<string, string>();
const wrote = (position: string | null) => {
  expect(position).toMatch(/^\w+:\d+-\d+$/);
  const [log, entryId] = position!.split(':') as [string, string];
  written.set(log, entryId);
};
const upToNow = () => minPositionHeader(written);

const send = async (answer: Promise<JsonAnswer>, status: number) => {
  const done = await answer;
  expect(done.status, done.text).toBe(status);
  wrote(done.body?.position ?? done.headers.get('x-event-position'));
  return done;
};

/** The validator of the 200 answer the document declares for GET `path`. */
const documented = (path: string) => {
  const content = document.paths[path]?.get?.responses['200']?.content as
    | Record<string, { schema: unknown }>
    | undefined;
  const schema = content?.['application/json']?.schema;
  expect(schema, `GET ${path} documents its 200 answer`).toBeDefined();
  return z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]);
};

/**
 * A 200 whose body the document's schema accepts, and (so this check cannot
 * pass on a schema that accepts anything) rejects with a field added, and with
 * its first field dropped.
 */
const expectDocumented = (path: string, answer: JsonAnswer) => {
  expect(answer.status, answer.text).toBe(200);
  const schema = documented(path);
  const parsed = schema.safeParse(answer.body);
  expect(parsed.success ? [] : parsed.error.issues, `GET ${path} answers as documented`).toEqual(
    [],
  );
  const [first] = Object.keys(answer.body);
  const { [first!]: _dropped, ...missing } = answer.body;
  expect(schema.safeParse({ ...answer.body, unexpected: 1 }).success, 'an extra field').toBe(false);
  expect(schema.safeParse(missing).success, `without ${first}`).toBe(false);
  return answer.body;
};

const get = (path: string, who: Who) =>
  queries.get(path, { token: token(who), headers: upToNow() });

let projectId: string;
/** Assigned, dated, labelled, two comments. */
let full: { id: string };
/** Nothing set that can be left unset, no comments. */
let bare: { id: string };
/** Took every kind of task event, the last its deletion. */
let everything: { id: string; created: string };

beforeAll(async () => {
  for (const [who, email] of [
    [alice, 'alice@example.com'],
    [bob, 'bob@example.com'],
    [carol, 'carol@example.com'],
    [admin, 'admin@example.com'],
  ] as const) {
    const registered = await appendUserRegistered(redis, keys, {
      userId: who.userId,
      email,
      role: who.role,
    });
    if (registered.outcome === 'appended') written.set('id', registered.entryId);
  }
  const commandServer = await listenCommandService({ redis, keys, tokens, logger });
  const readSide = await startReadSide({ redis, keys, tokens, logger }, { blockMs: 100 });
  commands = client(commandServer.url);
  queries = client(readSide.url);
  closers.push(commandServer.close, readSide.close);
  document = (await queries.get('/openapi.json')).body;
  written.set('p', (await readLastEntryId(redis, keys.projectLog))!);

  const as = (who: Who) => ({ token: token(who) });
  projectId = (await send(commands.post('/projects', { name: 'Answers' }, as(alice)), 201)).body.id;
  await send(
    commands.put(`/projects/${projectId}/members/${bob.userId}`, { role: 'editor' }, as(alice)),
    200,
  );

  const created = await send(
    commands.post(
      '/tasks',
      {
        projectId,
        title: 'Full',
        description: 'Every field set',
        assigneeId: bob.userId,
        priority: 'high',
        dueDate: '2026-12-01',
        labels: ['a', 'b'],
      },
      as(alice),
    ),
    201,
  );
  full = created.body;
  await send(commands.post(`/tasks/${full.id}/comments`, { text: 'first' }, as(bob)), 201);
  await send(commands.post(`/tasks/${full.id}/comments`, { text: 'second' }, as(alice)), 201);
  bare = (await send(commands.post('/tasks', { projectId, title: 'Bare' }, as(bob)), 201)).body;
  await send(commands.post('/tasks', { projectId, title: 'Third' }, as(alice)), 201);

  // In General first, so it can move to the project.
  const moving = await send(commands.post('/tasks', { title: 'Everything' }, as(alice)), 201);
  everything = { id: moving.body.id, created: moving.body.position };
  const path = `/tasks/${everything.id}`;
  await send(commands.patch(path, { title: 'Everything, renamed', labels: ['x'] }, as(alice)), 200);
  await send(commands.patch(path, { status: 'in-progress' }, as(alice)), 200);
  await send(commands.patch(path, { assigneeId: carol.userId }, as(alice)), 200);
  await send(commands.post(`${path}/comments`, { text: 'moving on' }, as(carol)), 201);
  // What the process manager appends when an assignee loses sight of the task (design §10): actor
  // `system`. Before the move, which would not take an assignee who cannot see the project.
  const unassigned = await appendToStream(redis, {
    streamKey: keys.taskStream(everything.id),
    logKey: keys.taskLog(keys.partitionOf(everything.id)),
    aggregateId: everything.id,
    expectedRevision: 'any',
    events: [
      {
        type: 'TaskAssigned',
        data: { assigneeId: null, previous: carol.userId },
        id: newId(),
        at: new Date().toISOString(),
        actor: 'system',
        corr: 'answers-test',
      },
    ],
  });
  if (unassigned.outcome !== 'appended') throw new Error('the system unassignment was refused');
  await send(commands.patch(path, { projectId }, as(alice)), 200);
  await send(commands.delete(path, as(alice)), 204);
});
afterAll(async () => {
  for (const close of closers) await close();
  await redis.quit();
});

describe('GET /tasks', () => {
  it('answers pages as documented: a cursor while more follow, null on the last page', async () => {
    const first = expectDocumented(
      '/tasks',
      await get(`/tasks?projectId=${projectId}&sort=createdAt&limit=2`, alice),
    );
    expect(first.items.map((task: { title: string }) => task.title)).toEqual(['Full', 'Bare']);
    expect(first.nextCursor).toEqual(expect.any(String));
    const last = expectDocumented(
      '/tasks',
      await get(
        `/tasks?projectId=${projectId}&sort=createdAt&limit=2&cursor=${first.nextCursor}`,
        alice,
      ),
    );
    expect(last.items.map((task: { title: string }) => task.title)).toEqual(['Third']);
    expect(last.nextCursor).toBeNull();
    // Every project's tasks, as a site admin reads them (another statement, the same answer shape).
    expect(expectDocumented('/tasks', await get('/tasks', admin)).items).toHaveLength(3);
  });
});

describe('GET /tasks/:id', () => {
  it('answers a task with its comments, and one without any, as documented', async () => {
    const task = expectDocumented('/tasks/{id}', await get(`/tasks/${full.id}`, bob));
    expect(task).toMatchObject({ assigneeId: bob.userId, dueDate: '2026-12-01', commentCount: 2 });
    expect(task.comments.map((comment: { text: string }) => comment.text)).toEqual([
      'first',
      'second',
    ]);
    const plain = expectDocumented('/tasks/{id}', await get(`/tasks/${bare.id}`, alice));
    expect(plain).toMatchObject({ assigneeId: null, dueDate: null, labels: [], comments: [] });
  });

  it('answers ?asOf with the task as it was, deleted or not, as documented', async () => {
    const atCreation = expectDocumented(
      '/tasks/{id}',
      await get(`/tasks/${everything.id}?asOf=${everything.created}`, alice),
    );
    expect(atCreation).toMatchObject({ revision: 0, deleted: false, asOf: everything.created });
    const now = new Date().toISOString();
    const atDeletion = expectDocumented(
      '/tasks/{id}',
      await get(`/tasks/${everything.id}?asOf=${encodeURIComponent(now)}`, alice),
    );
    expect(atDeletion).toMatchObject({ deleted: true, asOf: now, projectId, assigneeId: null });
  });
});

describe('GET /tasks/:id/history', () => {
  it('answers every kind of task event, in pages, as documented', async () => {
    const first = expectDocumented(
      '/tasks/{id}/history',
      await get(`/tasks/${everything.id}/history?limit=4`, alice),
    );
    expect(first.nextCursor).toBe('3');
    const last = expectDocumented(
      '/tasks/{id}/history',
      await get(`/tasks/${everything.id}/history?limit=4&cursor=${first.nextCursor}`, alice),
    );
    expect(last.nextCursor).toBeNull();
    const items = [...first.items, ...last.items] as { type: string; actor: string }[];
    expect(new Set(items.map((item) => item.type))).toEqual(new Set(taskEventTypes));
    expect(items.map((item) => item.actor)).toContain('system');
  });
});

describe('GET /users and /users/:id', () => {
  it('answers pages of profiles as documented, with e-mails for an admin and none for a member', async () => {
    const first = expectDocumented('/users', await get('/users?limit=3', alice));
    expect(first.nextCursor).toEqual(expect.any(String));
    const last = expectDocumented(
      '/users',
      await get(`/users?limit=3&cursor=${first.nextCursor}`, alice),
    );
    expect(last.nextCursor).toBeNull();
    const emails = [...first.items, ...last.items]
      .filter((user: { email?: string }) => user.email !== undefined)
      .map((user: { id: string }) => user.id);
    expect(emails).toEqual([alice.userId]);
    const all = expectDocumented('/users', await get('/users', admin));
    expect(all.items.every((user: { email?: string }) => user.email !== undefined)).toBe(true);
  });

  it('answers one profile as documented, the e-mail only to oneself', async () => {
    const own = expectDocumented('/users/{id}', await get(`/users/${alice.userId}`, alice));
    expect(own.user).toMatchObject({ id: alice.userId, email: 'alice@example.com' });
    const other = expectDocumented('/users/{id}', await get(`/users/${bob.userId}`, alice));
    expect(other.user).not.toHaveProperty('email');
  });
});

describe('GET /stats', () => {
  it('answers the counts of one project, and of every project the caller sees, as documented', async () => {
    const project = expectDocumented('/stats', await get(`/stats?projectId=${projectId}`, alice));
    expect(project).toEqual({
      byStatus: { pending: 3, 'in-progress': 0, completed: 0 },
      byAssignee: [
        { assigneeId: null, count: 2 },
        { assigneeId: bob.userId, count: 1 },
      ],
    });
    expectDocumented('/stats', await get('/stats', alice));
    expectDocumented('/stats', await get('/stats', admin));
  });
});

describe('GET /health and /ready', () => {
  it('answer as documented', async () => {
    expect(expectDocumented('/health', await queries.get('/health'))).toEqual({ status: 'ok' });
    expect(expectDocumented('/ready', await queries.get('/ready')).status).toBe('ready');
  });
});
