import {
  type AuthContext,
  GENERAL_PROJECT_ID,
  newId,
  type ProjectEvent,
  type Role,
} from '@tasksync/contracts';
import { taskCreated } from '@tasksync/contracts/testing';
import { appendToStream, createMetrics, createTokenService } from '@tasksync/platform';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiSpec, apiSpec, projectHistory, taskHistory } from '../../test/api-spec';
import {
  appendUserRegistered,
  capturingLogger,
  client,
  connectTestRedis,
  expectProblem,
  forgedTokens,
  listen,
  readEventsOf,
  testKeys,
} from '../../test/support';
import { buildCommandApp } from './app';
import { bootstrapGeneralProject } from './projects/general';

const SECRET = 'command-test-secret-command-test-secret-0123';
const redis = connectTestRedis();
const keys = testKeys(1);
const tokens = createTokenService({ secret: SECRET, ttlSeconds: 3600 });
let api: ReturnType<typeof client>;
let spec: ApiSpec;
let close: () => Promise<void>;

/** Registers a user by appending UserRegistered, as identity-service would, and signs a token for it. */
const user = async (role: Role = 'member') => {
  const userId = newId();
  await appendUserRegistered(redis, keys, { userId, email: `${userId}@example.com`, role });
  const auth: AuthContext = { userId, role };
  return { ...auth, token: tokens.sign(auth).token };
};

let creator: Awaited<ReturnType<typeof user>>;
let assignee: Awaited<ReturnType<typeof user>>;
let stranger: Awaited<ReturnType<typeof user>>;
let admin: Awaited<ReturnType<typeof user>>;

beforeAll(async () => {
  const deps = {
    redis,
    keys,
    tokens,
    logger: capturingLogger().logger,
    metrics: createMetrics('command-test'),
    now: () => new Date(),
    newId,
  };
  await bootstrapGeneralProject(deps);
  const app = buildCommandApp(deps);
  const server = await listen(app);
  close = server.close;
  api = client(server.url);
  spec = apiSpec({ redis, keys, api });
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
    const created = await spec.when({
      method: 'POST',
      path: '/tasks',
      body: {
        title: '  Write the README ',
        priority: 'high',
        labels: ['docs', 'docs', 'v1'],
        dueDate: '2026-12-31',
      },
      token: creator.token,
      headers: { 'x-request-id': 'req-create-1' },
    });
    const { answer } = created;
    created.thenAnswers(201, {
      id: expect.any(String),
      revision: 0,
      position: expect.stringMatching(/^t\d+:/),
    });
    expect(answer.headers.get('location')).toBe(`/tasks/${answer.body.id}`);
    expect(answer.headers.get('x-request-id')).toBe('req-create-1');
    expectWriteHeaders(answer, 0);
    expect(answer.headers.get('x-event-position')).toBe(answer.body.position);
    created.thenAppends([
      {
        type: 'TaskCreated',
        agg: answer.body.id,
        rev: 0,
        actor: creator.userId,
        corr: 'req-create-1',
        entryId: answer.body.position.slice(3),
        data: taskCreated(creator.userId, {
          title: 'Write the README',
          priority: 'high',
          dueDate: '2026-12-31',
          labels: ['docs', 'v1'],
        }).data,
      },
    ]);
    expect(await readEventsOf(redis, keys.taskStream(answer.body.id))).toEqual(created.appended);
  });

  it('refuses invalid bodies with 400 listing the problems, and appends nothing', async () => {
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
      const refused = await spec.when({
        method: 'POST',
        path: '/tasks',
        body,
        token: creator.token,
      });
      refused.thenFails(400, 'validation').thenAppends([]);
      expect(refused.answer.body.errors.length).toBeGreaterThan(0);
    }
    const json = { 'content-type': 'application/json' };
    for (const [request, status, slug] of [
      [{ body: [1, 2] }, 400, 'validation'],
      [{ raw: '{', headers: json }, 400],
      [{ raw: 'title=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, 415],
      [{ body: { title: 'big', description: 'x'.repeat(101 * 1024) } }, 413],
    ] as const) {
      (await spec.when({ method: 'POST', path: '/tasks', token: creator.token, ...request }))
        .thenFails(status, slug)
        .thenAppends([]);
    }
  });

  it('answers 401 for a missing or forged token and appends nothing', async () => {
    const forged = await forgedTokens(creator.userId);
    const create = { method: 'POST', path: '/tasks', body: { title: 'x' } };
    (await spec.when(create)).thenFails(401, 'unauthorized').thenAppends([]);
    (await spec.when({ ...create, headers: { authorization: 'Basic abc' } }))
      .thenFails(401, 'unauthorized')
      .thenAppends([]);
    for (const token of [
      forged.wrongSecret,
      forged.algNone,
      forged.expired(SECRET),
      forged.wrongAudience(SECRET),
    ]) {
      (await spec.when({ ...create, token })).thenFails(401, 'unauthorized').thenAppends([]);
    }
  });

  it('answers 422 for an assignee who is not registered', async () => {
    (
      await spec.when({
        method: 'POST',
        path: '/tasks',
        body: { title: 'x', assigneeId: newId() },
        token: creator.token,
      })
    )
      .thenFails(422, 'unknown-assignee')
      .thenAppends([]);
  });
});

describe('Idempotency-Key', () => {
  it('answers a repeated create with the same status and body and appends once, even when copies race', async () => {
    const send = () =>
      api.post(
        '/tasks',
        { title: 'Once' },
        { token: creator.token, headers: { 'idempotency-key': 'create-once' } },
      );
    const answers: Awaited<ReturnType<typeof send>>[] = [];
    const race = await spec.when(async () => {
      answers.push(...(await Promise.all([send(), send(), send(), send(), send()])));
      return answers[0]!;
    });
    race.thenAppends([{ type: 'TaskCreated', agg: answers[0]!.body.id, rev: 0 }]);
    const later = await spec.when(send);
    later.thenAnswers(201, answers[0]!.body).thenAppends([]);
    for (const answer of [...answers, later.answer]) {
      expect(answer.status).toBe(201);
      expect(answer.body).toEqual(answers[0]!.body);
      expect(answer.headers.get('etag')).toBe('"0"');
      expect(answer.headers.get('x-event-position')).toBe(answers[0]!.body.position);
    }
    expect(later.answer.headers.get('idempotent-replayed')).toBe('true');
    expect(await readEventsOf(redis, keys.taskStream(answers[0]!.body.id))).toEqual(race.appended);
  });

  it('answers 422 for the same key with another body, and keeps keys per user', async () => {
    const create = (title: string, who: { token: string }) => ({
      method: 'POST',
      path: '/tasks',
      body: { title },
      token: who.token,
      headers: { 'idempotency-key': 'k-1' },
    });
    const first = await spec.when(create('A', creator));
    first.thenAnswers(201).thenAppends([{ type: 'TaskCreated', agg: first.answer.body.id }]);
    (await spec.when(create('B', creator)))
      .thenFails(422, 'idempotency-key-reused')
      .thenAppends([]);
    const other = await spec.when(create('A', stranger));
    other.thenAnswers(201).thenAppends([{ type: 'TaskCreated', agg: other.answer.body.id }]);
    expect(other.answer.body.id).not.toBe(first.answer.body.id);
  });

  it('replays PATCH, comment and DELETE answers', async () => {
    const task = await createTask();
    const stream = keys.taskStream(task.id);
    const patch = {
      method: 'PATCH',
      path: `/tasks/${task.id}`,
      body: { status: 'in-progress' },
      token: assignee.token,
      headers: { 'idempotency-key': 'p-1' },
    };
    const p1 = await spec.given(stream).when(patch);
    p1.thenAnswers(200).thenAppends([{ type: 'TaskStatusChanged', agg: task.id, rev: 1 }]);
    (await spec.given(stream).when(patch)).thenAnswers(200, p1.answer.body).thenAppends([]);
    const comment = {
      method: 'POST',
      path: `/tasks/${task.id}/comments`,
      body: { text: 'hi' },
      token: stranger.token,
      headers: { 'idempotency-key': 'c-1' },
    };
    const c1 = await spec.given(stream).when(comment);
    c1.thenAnswers(201).thenAppends([{ type: 'CommentAdded', agg: task.id, rev: 2 }]);
    (await spec.given(stream).when(comment)).thenAnswers(201, c1.answer.body).thenAppends([]);
    const remove = (key: string) => ({
      method: 'DELETE',
      path: `/tasks/${task.id}`,
      token: creator.token,
      headers: { 'idempotency-key': key },
    });
    const d1 = await spec.given(stream).when(remove('d-1'));
    d1.thenAnswers(204).thenAppends([{ type: 'TaskDeleted', agg: task.id, rev: 3 }]);
    const d2 = await spec.given(stream).when(remove('d-1'));
    d2.thenAnswers(204).thenAppends([]);
    expect(d2.answer.headers.get('etag')).toBe(d1.answer.headers.get('etag'));
    expect((await readEventsOf(redis, stream)).map((e) => e.type)).toEqual([
      'TaskCreated',
      'TaskStatusChanged',
      'CommentAdded',
      'TaskDeleted',
    ]);
    (await spec.given(stream).when(remove('d-2'))).thenFails(410, 'gone').thenAppends([]);
  });

  it('refuses a malformed key with 400', async () => {
    (
      await spec.when({
        method: 'POST',
        path: '/tasks',
        body: { title: 'A' },
        token: creator.token,
        headers: { 'idempotency-key': 'has space' },
      })
    )
      .thenFails(400)
      .thenAppends([]);
  });
});

describe('PATCH /tasks/:id', () => {
  /** A task the creator made and assigned, appended as the command-service would. */
  const givenTask = (fields: Parameters<typeof taskCreated>[1] = {}) => {
    const taskId = newId();
    const history = taskHistory(
      keys,
      taskId,
      [taskCreated(creator.userId, { title: 'Ship it', assigneeId: assignee.userId, ...fields })],
      creator.userId,
    );
    return { taskId, given: spec.given(history) };
  };

  it('changes fields, answers the new revision and appends one event per kind of change', async () => {
    const { taskId, given } = givenTask();
    const changed = await given.when({
      method: 'PATCH',
      path: `/tasks/${taskId}`,
      body: { title: 'Ship it today', status: 'in-progress', assigneeId: null },
      token: creator.token,
    });
    changed
      .thenAnswers(200, { id: taskId, revision: 3, position: expect.stringMatching(/^t\d+:/) })
      .thenAppends([
        { type: 'TaskDetailsChanged', agg: taskId, rev: 1, data: { title: 'Ship it today' } },
        {
          type: 'TaskStatusChanged',
          agg: taskId,
          rev: 2,
          data: { from: 'pending', to: 'in-progress' },
        },
        {
          type: 'TaskAssigned',
          agg: taskId,
          rev: 3,
          data: { assigneeId: null, previous: assignee.userId },
        },
      ]);
    expectWriteHeaders(changed.answer, 3);
    expect(changed.answer.body.position).toBe(
      `t${keys.partitionOf(taskId)}:${changed.appended[2]!.entryId}`,
    );
  });

  it('appends nothing for a change that changes nothing and answers the current revision', async () => {
    const task = await createTask({ priority: 'low' });
    (
      await spec.given(keys.taskStream(task.id)).when({
        method: 'PATCH',
        path: `/tasks/${task.id}`,
        body: { priority: 'low', title: 'Ship it' },
        token: creator.token,
      })
    )
      .thenAnswers(200, { id: task.id, revision: 0, position: task.position })
      .thenAppends([]);
  });

  it('answers 409 naming the allowed moves for a status jump', async () => {
    const { taskId, given } = givenTask();
    const jump = await given.when({
      method: 'PATCH',
      path: `/tasks/${taskId}`,
      body: { status: 'completed' },
      token: creator.token,
    });
    jump.thenFails(409, 'invalid-status-transition').thenAppends([]);
    expect(jump.answer.body).toMatchObject({
      from: 'pending',
      to: 'completed',
      allowed: ['in-progress'],
    });
    expect(jump.answer.body.detail).toContain('in-progress');
  });

  it('walks the whole status flow, forward and one step back', async () => {
    const { taskId, given } = givenTask();
    let from = 'pending';
    for (const [status, revision] of [
      ['in-progress', 1],
      ['completed', 2],
      ['in-progress', 3],
      ['pending', 4],
    ] as const) {
      const move = { method: 'PATCH', path: `/tasks/${taskId}`, body: { status } };
      (await (revision === 1 ? given : spec).when({ ...move, token: assignee.token }))
        .thenAnswers(200, { id: taskId, revision, position: expect.any(String) })
        .thenAppends([{ type: 'TaskStatusChanged', rev: revision, data: { from, to: status } }]);
      from = status;
    }
  });

  it('honours If-Match: the current revision passes, a stale one is 412 and appends nothing', async () => {
    const { taskId, given } = givenTask();
    const change = (priority: string, ifMatch: string) => ({
      method: 'PATCH',
      path: `/tasks/${taskId}`,
      body: { priority },
      token: creator.token,
      headers: { 'if-match': ifMatch },
    });
    (await given.when(change('high', '"0"')))
      .thenAnswers(200)
      .thenAppends([{ type: 'TaskDetailsChanged', rev: 1, data: { priority: 'high' } }]);
    const stale = await spec.when(change('low', '"0"'));
    stale.thenFails(412, 'precondition-failed').thenAppends([]);
    expect(stale.answer.body.currentRevision).toBe(1);
    (await spec.when(change('low', 'yesterday'))).thenFails(400).thenAppends([]);
  });

  it('lets only the creator, the assignee or an admin change a task (403 for others, nothing appended)', async () => {
    const { taskId, given } = givenTask();
    const change = (who: { token: string }, body: Record<string, unknown>) => ({
      method: 'PATCH',
      path: `/tasks/${taskId}`,
      body,
      token: who.token,
    });
    (await given.when(change(stranger, { title: 'mine now' })))
      .thenFails(403, 'forbidden')
      .thenAppends([]);
    for (const actor of [creator, assignee, admin]) {
      (await spec.when(change(actor, { description: `by ${actor.userId}` })))
        .thenAnswers(200)
        .thenAppends([
          {
            type: 'TaskDetailsChanged',
            actor: actor.userId,
            data: { description: `by ${actor.userId}` },
          },
        ]);
    }
  });

  it('answers 422 for an unknown assignee, 404 for an unknown task and 400 for unknown fields', async () => {
    const { taskId, given } = givenTask();
    const patch = (id: string, body: unknown) => ({
      method: 'PATCH',
      path: `/tasks/${id}`,
      body,
      token: creator.token,
    });
    (await given.when(patch(taskId, { assigneeId: newId() })))
      .thenFails(422, 'unknown-assignee')
      .thenAppends([]);
    (await spec.when(patch(newId(), { title: 'x' }))).thenFails(404, 'not-found').thenAppends([]);
    (await spec.when(patch('not-a-uuid', { title: 'x' })))
      .thenFails(404, 'not-found')
      .thenAppends([]);
    (await spec.when(patch(taskId, { createdBy: stranger.userId })))
      .thenFails(400, 'validation')
      .thenAppends([]);
  });

  it('keeps PUT as the same partial update', async () => {
    const { taskId, given } = givenTask();
    (
      await given.when({
        method: 'PUT',
        path: `/tasks/${taskId}`,
        body: { status: 'in-progress' },
        token: creator.token,
      })
    )
      .thenAnswers(200, { id: taskId, revision: 1, position: expect.any(String) })
      .thenAppends([{ type: 'TaskStatusChanged', agg: taskId, rev: 1 }]);
  });

  it('retries revision conflicts: 10 concurrent comments all land with contiguous revisions', async () => {
    const task = await createTask();
    const answers: Awaited<ReturnType<typeof api.post>>[] = [];
    const comments = await spec.given(keys.taskStream(task.id)).when(async () => {
      answers.push(
        ...(await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            api.post(`/tasks/${task.id}/comments`, { text: `c${i}` }, { token: stranger.token }),
          ),
        )),
      );
      return answers[0]!;
    });
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(201));
    expect(answers.map((a) => a.body.revision).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 10 }, (_, i) => i + 1),
    );
    comments.thenAppends(
      Array.from({ length: 10 }, (_, i) => ({ type: 'CommentAdded', agg: task.id, rev: i + 1 })),
    );
    expect((await readEventsOf(redis, keys.taskStream(task.id))).map((e) => e.rev)).toEqual(
      Array.from({ length: 11 }, (_, i) => i),
    );
  });
});

describe('comments and DELETE', () => {
  it('adds a comment: 201 with commentId, revision and position', async () => {
    const task = await createTask();
    const comment = (id: string, text: string) => ({
      method: 'POST',
      path: `/tasks/${id}/comments`,
      body: { text },
      token: stranger.token,
    });
    const added = await spec.given(keys.taskStream(task.id)).when(comment(task.id, ' Looks good '));
    added.thenAnswers(201, {
      id: task.id,
      commentId: expect.any(String),
      revision: 1,
      position: expect.stringMatching(/^t\d+:/),
    });
    expectWriteHeaders(added.answer, 1);
    added.thenAppends([
      {
        type: 'CommentAdded',
        agg: task.id,
        rev: 1,
        actor: stranger.userId,
        data: {
          commentId: added.answer.body.commentId,
          text: 'Looks good',
          authorId: stranger.userId,
        },
      },
    ]);
    (await spec.when(comment(task.id, ''))).thenFails(400, 'validation').thenAppends([]);
    (await spec.when(comment(newId(), 'x'))).thenFails(404, 'not-found').thenAppends([]);
  });

  it('lets the creator or an admin delete (204 with ETag), refuses others (403), then answers 410', async () => {
    const task = await createTask();
    const stream = keys.taskStream(task.id);
    const remove = (id: string, who: { token: string }) => ({
      method: 'DELETE',
      path: `/tasks/${id}`,
      token: who.token,
    });
    (await spec.given(stream).when(remove(task.id, assignee)))
      .thenFails(403, 'forbidden')
      .thenAppends([]);
    const deleted = await spec.given(stream).when(remove(task.id, creator));
    deleted
      .thenAnswers(204)
      .thenAppends([{ type: 'TaskDeleted', agg: task.id, rev: 1, actor: creator.userId }]);
    expect(deleted.answer.text).toBe('');
    expectWriteHeaders(deleted.answer, 1);
    for (const request of [
      remove(task.id, admin),
      { method: 'PATCH', path: `/tasks/${task.id}`, body: { title: 'x' }, token: admin.token },
      {
        method: 'POST',
        path: `/tasks/${task.id}/comments`,
        body: { text: 'x' },
        token: admin.token,
      },
    ]) {
      (await spec.given(stream).when(request)).thenFails(410, 'gone').thenAppends([]);
    }
    expect((await readEventsOf(redis, stream)).map((e) => e.type)).toEqual([
      'TaskCreated',
      'TaskDeleted',
    ]);
    const other = await createTask();
    (await spec.when(remove(other.id, admin)))
      .thenAnswers(204)
      .thenAppends([{ type: 'TaskDeleted', agg: other.id, actor: admin.userId }]);
  });
});

describe('tasks in projects (design §10)', () => {
  let owner: Awaited<ReturnType<typeof user>>;
  let editor: Awaited<ReturnType<typeof user>>;
  let viewer: Awaited<ReturnType<typeof user>>;
  let outsider: Awaited<ReturnType<typeof user>>;
  beforeAll(async () => {
    [owner, editor, viewer, outsider] = await Promise.all([user(), user(), user(), user()]);
  });

  /** A private project of `owner` with an editor and a viewer, appended as the command-service would. */
  const givenProject = (more: ProjectEvent[] = []) => {
    const projectId = newId();
    const history = projectHistory(
      keys,
      projectId,
      [
        {
          type: 'ProjectCreated',
          data: { name: 'Apollo', description: '', visibility: 'private', ownerId: owner.userId },
        },
        { type: 'MemberAdded', data: { userId: editor.userId, role: 'editor' } },
        { type: 'MemberAdded', data: { userId: viewer.userId, role: 'viewer' } },
        ...more,
      ] satisfies ProjectEvent[],
      owner.userId,
    );
    return { projectId, history };
  };
  /** A task in a project, created by `by`. */
  const givenTaskIn = (
    projectId: string,
    by: { userId: string },
    fields: Parameters<typeof taskCreated>[1] = {},
  ) => {
    const taskId = newId();
    return {
      taskId,
      history: taskHistory(
        keys,
        taskId,
        [taskCreated(by.userId, { projectId, ...fields })],
        by.userId,
      ),
    };
  };
  const assignedIn = async (projectId: string) => {
    const all: Record<string, string> = {};
    for (let p = 0; p < keys.partitions; p++)
      Object.assign(all, await redis.hgetall(keys.assignedTasks(p, projectId)));
    return all;
  };
  const create = (body: Record<string, unknown>, who: { token: string }) => ({
    method: 'POST',
    path: '/tasks',
    body: { title: 'In a project', ...body },
    token: who.token,
  });

  it('creates a task in the project named: 201 for an owner or editor, 403 for a viewer', async () => {
    const { projectId, history } = givenProject();
    const created = await spec.given(history).when(create({ projectId }, editor));
    created.thenAnswers(201).thenAppends([
      {
        type: 'TaskCreated',
        agg: created.answer.body.id,
        actor: editor.userId,
        data: taskCreated(editor.userId, { title: 'In a project', projectId }).data,
      },
    ]);
    (await spec.when(create({ projectId }, owner))).thenAnswers(201);
    (await spec.when(create({ projectId }, viewer))).thenFails(403, 'forbidden').thenAppends([]);
  });

  it('answers 404 for a project the caller cannot see, or that does not exist, and 409 for an archived one', async () => {
    const { projectId, history } = givenProject();
    const hidden = await spec.given(history).when(create({ projectId }, outsider));
    hidden.thenFails(404, 'not-found').thenAppends([]);
    expect(hidden.answer.body.detail).toBe('No project with this id.');
    (await spec.when(create({ projectId: newId() }, admin)))
      .thenFails(404, 'not-found')
      .thenAppends([]);
    const archived = givenProject([{ type: 'ProjectArchived', data: {} }]);
    (await spec.given(archived.history).when(create({ projectId: archived.projectId }, owner)))
      .thenFails(409, 'project-archived')
      .thenAppends([]);
    (await spec.when(create({ projectId: archived.projectId }, outsider)))
      .thenFails(404, 'not-found')
      .thenAppends([]);
  });

  it('takes only assignees who can see the project (422), and indexes the assigned task', async () => {
    const { projectId, history } = givenProject();
    (await spec.given(history).when(create({ projectId, assigneeId: outsider.userId }, owner)))
      .thenFails(422, 'assignee-cannot-see-project')
      .thenAppends([]);
    (await spec.when(create({ projectId, assigneeId: newId() }, owner)))
      .thenFails(422, 'unknown-assignee')
      .thenAppends([]);
    const created = await spec.when(create({ projectId, assigneeId: viewer.userId }, owner));
    created.thenAnswers(201).thenAppends([{ type: 'TaskCreated' }]);
    // A site admin sees every project, so may be assigned anywhere.
    const byAdmin = await spec.when(create({ projectId, assigneeId: admin.userId }, owner));
    byAdmin.thenAnswers(201);
    expect(await assignedIn(projectId)).toEqual({
      [created.answer.body.id]: viewer.userId,
      [byAdmin.answer.body.id]: admin.userId,
    });
  });

  it('answers every command on a task the caller cannot see with 404, deleted or not, and appends nothing', async () => {
    const { projectId, history } = givenProject();
    const live = givenTaskIn(projectId, editor);
    const gone = givenTaskIn(projectId, editor);
    await spec.given(history, live.history, gone.history).when(() => api.get('/health'));
    await api.delete(`/tasks/${gone.taskId}`, { token: editor.token });
    for (const taskId of [live.taskId, gone.taskId]) {
      for (const request of [
        { method: 'PATCH', path: `/tasks/${taskId}`, body: { title: 'x' } },
        { method: 'PUT', path: `/tasks/${taskId}`, body: { title: 'x' } },
        { method: 'POST', path: `/tasks/${taskId}/comments`, body: { text: 'x' } },
        { method: 'DELETE', path: `/tasks/${taskId}` },
      ]) {
        const hidden = await spec.when({ ...request, token: outsider.token });
        hidden.thenFails(404, 'not-found').thenAppends([]);
        expect(hidden.answer.body.detail).toBe('No task with this id.');
      }
    }
  });

  it('lets a viewer comment and nothing else (403)', async () => {
    const { projectId, history } = givenProject();
    const task = givenTaskIn(projectId, editor, { assigneeId: viewer.userId });
    (
      await spec.given(history, task.history).when({
        method: 'POST',
        path: `/tasks/${task.taskId}/comments`,
        body: { text: 'seen' },
        token: viewer.token,
      })
    )
      .thenAnswers(201)
      .thenAppends([{ type: 'CommentAdded', actor: viewer.userId }]);
    for (const request of [
      { method: 'PATCH', path: `/tasks/${task.taskId}`, body: { status: 'in-progress' } },
      { method: 'DELETE', path: `/tasks/${task.taskId}` },
    ]) {
      (await spec.when({ ...request, token: viewer.token }))
        .thenFails(403, 'forbidden')
        .thenAppends([]);
    }
  });

  it('keeps the tasks of an archived project read-only (409), comments included, after 404 and 403', async () => {
    const { projectId, history } = givenProject();
    const task = givenTaskIn(projectId, editor);
    await spec.given(history, task.history).when(() => api.get('/health'));
    (
      await spec.when({
        method: 'PATCH',
        path: `/projects/${projectId}`,
        body: { archived: true },
        token: owner.token,
      })
    )
      .thenAnswers(200)
      .thenAppends([{ type: 'ProjectArchived' }]);
    for (const request of [
      { method: 'PATCH', path: `/tasks/${task.taskId}`, body: { title: 'x' } },
      { method: 'POST', path: `/tasks/${task.taskId}/comments`, body: { text: 'x' } },
      { method: 'DELETE', path: `/tasks/${task.taskId}` },
      { method: 'PATCH', path: `/tasks/${task.taskId}`, body: { projectId: GENERAL_PROJECT_ID } },
    ]) {
      (await spec.when({ ...request, token: owner.token }))
        .thenFails(409, 'project-archived')
        .thenAppends([]);
      (await spec.when({ ...request, token: outsider.token }))
        .thenFails(404, 'not-found')
        .thenAppends([]);
    }
    (
      await spec.when({
        method: 'PATCH',
        path: `/tasks/${task.taskId}`,
        body: { title: 'x' },
        token: viewer.token,
      })
    )
      .thenFails(403, 'forbidden')
      .thenAppends([]);
  });

  it('moves a task with one TaskMoved, and moves its index entry along', async () => {
    const { projectId, history } = givenProject();
    const created = await spec
      .given(history)
      .when(create({ projectId, assigneeId: editor.userId }, editor));
    const taskId = created.answer.body.id as string;
    expect(await assignedIn(projectId)).toEqual({ [taskId]: editor.userId });
    const moved = await spec.given(keys.taskStream(taskId)).when({
      method: 'PATCH',
      path: `/tasks/${taskId}`,
      body: { projectId: GENERAL_PROJECT_ID },
      token: editor.token,
    });
    moved
      .thenAnswers(200, { id: taskId, revision: 1, position: expect.stringMatching(/^t\d+:/) })
      .thenAppends([
        {
          type: 'TaskMoved',
          agg: taskId,
          rev: 1,
          actor: editor.userId,
          data: { from: projectId, to: GENERAL_PROJECT_ID },
        },
      ]);
    expect(await assignedIn(projectId)).toEqual({});
    expect((await assignedIn(GENERAL_PROJECT_ID))[taskId]).toBe(editor.userId);
    // And back, by its creator, who may create tasks there.
    (
      await spec.when({
        method: 'PATCH',
        path: `/tasks/${taskId}`,
        body: { projectId },
        token: editor.token,
      })
    )
      .thenAnswers(200)
      .thenAppends([{ type: 'TaskMoved', data: { from: GENERAL_PROJECT_ID, to: projectId } }]);
    expect(await assignedIn(projectId)).toEqual({ [taskId]: editor.userId });
    expect((await assignedIn(GENERAL_PROJECT_ID))[taskId]).toBeUndefined();
  });

  it('refuses a move into a project the mover cannot see (404), is archived (409), or the assignee cannot see (422)', async () => {
    const { projectId, history } = givenProject();
    const mine = givenTaskIn(GENERAL_PROJECT_ID, outsider);
    const move = (taskId: string, to: string, who: { token: string }) => ({
      method: 'PATCH',
      path: `/tasks/${taskId}`,
      body: { projectId: to },
      token: who.token,
    });
    const hidden = await spec
      .given(history, mine.history)
      .when(move(mine.taskId, projectId, outsider));
    hidden.thenFails(404, 'not-found').thenAppends([]);
    expect(hidden.answer.body.detail).toBe('No project with this id.');
    (await spec.when(move(mine.taskId, newId(), outsider)))
      .thenFails(404, 'not-found')
      .thenAppends([]);
    const archived = givenProject([{ type: 'ProjectArchived', data: {} }]);
    const owners = givenTaskIn(GENERAL_PROJECT_ID, owner);
    (
      await spec
        .given(archived.history, owners.history)
        .when(move(owners.taskId, archived.projectId, owner))
    )
      .thenFails(409, 'project-archived')
      .thenAppends([]);
    const assigned = givenTaskIn(GENERAL_PROJECT_ID, owner, { assigneeId: outsider.userId });
    (await spec.given(assigned.history).when(move(assigned.taskId, projectId, owner)))
      .thenFails(422, 'assignee-cannot-see-project')
      .thenAppends([]);
    // A viewer of the target may not move tasks into it.
    const viewers = givenTaskIn(GENERAL_PROJECT_ID, viewer);
    (await spec.given(viewers.history).when(move(viewers.taskId, projectId, viewer)))
      .thenFails(403, 'forbidden')
      .thenAppends([]);
  });

  it('keeps the assigned-tasks index with every append: assign, reassign, unassign, delete', async () => {
    const { projectId, history } = givenProject();
    const created = await spec.given(history).when(create({ projectId }, owner));
    const taskId = created.answer.body.id as string;
    const patch = (body: Record<string, unknown>) =>
      api.patch(`/tasks/${taskId}`, body, { token: owner.token });
    expect(await assignedIn(projectId)).toEqual({});
    expect((await patch({ assigneeId: editor.userId })).status).toBe(200);
    expect(await assignedIn(projectId)).toEqual({ [taskId]: editor.userId });
    expect((await patch({ assigneeId: viewer.userId })).status).toBe(200);
    expect(await assignedIn(projectId)).toEqual({ [taskId]: viewer.userId });
    expect((await patch({ assigneeId: null })).status).toBe(200);
    expect(await assignedIn(projectId)).toEqual({});
    expect((await patch({ assigneeId: editor.userId, title: 'again' })).status).toBe(200);
    expect(await assignedIn(projectId)).toEqual({ [taskId]: editor.userId });
    expect((await api.delete(`/tasks/${taskId}`, { token: owner.token })).status).toBe(204);
    expect(await assignedIn(projectId)).toEqual({});
  });

  it('checks site roles as they are now: a demoted admin with an old admin token sees only their projects', async () => {
    const demoted = await user('admin');
    await appendToStream(redis, {
      streamKey: keys.userStream(demoted.userId),
      logKey: keys.identityLog,
      aggregateId: demoted.userId,
      expectedRevision: 0,
      events: [
        {
          id: newId(),
          type: 'UserRoleChanged',
          data: { from: 'admin', to: 'member' },
          at: new Date().toISOString(),
          actor: 'system',
          corr: 'test',
        },
      ],
    });
    const { projectId, history } = givenProject();
    (await spec.given(history).when(create({ projectId }, demoted)))
      .thenFails(404, 'not-found')
      .thenAppends([]);
    (await spec.when(create({ projectId }, admin))).thenAnswers(201);
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
